"""botocore's data files (service models, endpoints), decoded once per process for every session the kit makes.

botocore decodes its JSON data files per session (EC2's model is about 5 MB); a batch makes a session per
credentials and checks documents against the service models besides (kit.collect.output_shapes). Each
botocore session made here has a loader of its own (its own search paths and caches, as botocore makes it)
reading files through one shared file loader that keeps what it decoded: the decoded files are read-only,
as botocore already shares them between the clients of one session.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_MISSING = object()
_FILE_LOADER: Any = None
_LOCK = threading.Lock()


def shared_file_loader() -> Any:
    """The process's botocore JSONFileLoader that decodes each data file once (created on first use)."""
    global _FILE_LOADER
    from botocore.loaders import JSONFileLoader

    class SharedJSONFileLoader(JSONFileLoader):
        """A JSONFileLoader keeping each decoded file (by path) for every loader using it."""

        def __init__(self) -> None:
            self._decoded: dict[str, Any] = {}
            self._lock = threading.Lock()

        def load_file(self, file_path: str) -> Any:
            with self._lock:
                found = self._decoded.get(file_path, _MISSING)
            if found is _MISSING:
                found = super().load_file(file_path)
                if found is not None:
                    with self._lock:
                        found = self._decoded.setdefault(file_path, found)
            return found

    with _LOCK:
        if _FILE_LOADER is None:
            _FILE_LOADER = SharedJSONFileLoader()
        return _FILE_LOADER


def botocore_session(profile: str | None = None) -> Any:
    """A new botocore session (as `botocore.session.Session(profile=...)`) whose data loader decodes through
    the shared file loader; its search paths are botocore's, plus `AWS_DATA_PATH`'s as botocore reads it."""
    import botocore.session
    from botocore.loaders import Loader

    session = botocore.session.Session(profile=profile)
    data_path = session.get_config_variable("data_path")
    extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)] if data_path else None
    session.register_component("data_loader", Loader(extra_search_paths=extra, file_loader=shared_file_loader()))
    return session
