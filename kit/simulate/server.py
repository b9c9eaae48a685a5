"""moto's ThreadedMotoServer on 127.0.0.1, with the kit's middleware in front of moto's app.

Starting it also makes moto cheaper to bring up in this process (`lighten_moto`): botocore's data files
are decoded once per process instead of once per botocore session (moto and the seeding clients open
several).
"""

from __future__ import annotations

import errno
import threading
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from kit.errors import BadInput
from kit.simulate.middleware import Extensions


_MISSING = object()


def lighten_moto() -> None:
    """Make moto's first use cheaper in this process (idempotent); what it serves is unchanged.

    botocore decodes its JSON data files (endpoints.json, 1.2 MB; each service's model, EC2's 5 MB) per
    session, and moto opens several sessions (EC2's Region list at import opens three, each backend one, its
    responses another) besides the seeding clients': the decoded files are shared process-wide, read-only,
    as botocore already shares them between the clients of one session. (moto's public AMIs stay: about
    0.3 s per process, and a simulated account without Amazon's images would not be one.)
    """
    from botocore import loaders

    if getattr(loaders.JSONFileLoader.load_file, "kit_shared", False):
        return
    original = loaders.JSONFileLoader.load_file
    decoded: dict[str, Any] = {}
    lock = threading.Lock()

    def load_file(self: Any, file_path: str) -> Any:
        with lock:
            found = decoded.get(str(file_path), _MISSING)
        if found is _MISSING:
            found = original(self, file_path)
            with lock:
                found = decoded.setdefault(str(file_path), found)
        return found

    load_file.kit_shared = True  # type: ignore[attr-defined]
    loaders.JSONFileLoader.load_file = load_file


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without one log line per request on stderr."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
        return None


class SimulatorServer(ThreadedMotoServer):
    """ThreadedMotoServer whose WSGI app is wrapped by kit.simulate.middleware.Extensions."""

    def __init__(self, port: int = 0, throttle: bool = False) -> None:
        lighten_moto()
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self.throttle = throttle
        self.extensions: Extensions | None = None
        self._error: BaseException | None = None

    def _server_entry(self) -> None:
        self.extensions = Extensions(DomainDispatcherApplication(create_backend_app), throttle=self.throttle)
        try:
            self._server = make_server(self._ip_address, self._port, self.extensions, True,
                                       request_handler=QuietRequestHandler)
        except (OSError, SystemExit) as exc:   # werkzeug exits when the port is in use: report it, don't hang
            self._error = exc
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever()

    def start(self) -> None:
        """Start serving; BadInput if the port cannot be bound."""
        super().start()
        if self._error is not None:
            self._thread.join()  # type: ignore[union-attr]
            in_use = isinstance(self._error, SystemExit) or getattr(self._error, "errno", None) == errno.EADDRINUSE
            problem = "is in use" if in_use else f"cannot be bound ({self._error})"
            raise BadInput("--port", "a free port on 127.0.0.1", f"port {self._port} {problem}")

    def stop(self) -> None:
        """Stop serving and cancel pending replays."""
        if self.extensions is not None:
            self.extensions.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
