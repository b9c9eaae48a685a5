"""A throwaway JupyterLab server for the browser tests: 127.0.0.1, a token, every Jupyter dir in a temp dir."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The analyst's JupyterLab, minus what reaches for the internet or hides cells from the DOM.
LAB_CONFIG = {
    # allow_root: CI containers run as root; the server is still bound to 127.0.0.1 and token-protected.
    "ServerApp": {
        "ip": "127.0.0.1",
        "port": 0,
        "port_retries": 0,
        "open_browser": False,
        "allow_root": True,
    },
    "LabApp": {
        "news_url": None,
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
        "extension_manager": "readonly",
    },
}
PAGE_CONFIG = {
    # The announcements plugin asks (in a toast) whether to fetch news from the internet.
    "disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True},
}
USER_SETTINGS = {
    # Windowing renders only the cells in view; the tests need every cell's outputs in the DOM.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

STARTUP_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0
API_TIMEOUT_S = 60.0


@dataclass
class LabServer:
    """A running `jupyter lab`; `url` ends with a slash."""

    process: subprocess.Popen[bytes]
    url: str
    token: str
    root_dir: Path
    log_path: Path

    def lab_url(self, notebook: str) -> str:
        """The address that opens `notebook` (relative to root_dir) in JupyterLab, token included.

        Each notebook gets its own workspace, so a tab never re-opens notebooks an earlier test left open.
        """
        workspace = re.sub(r"[^A-Za-z0-9-]+", "-", Path(notebook).stem)
        return f"{self.url}lab/workspaces/{workspace}/tree/{notebook}?token={self.token}"

    def session_ids(self) -> set[str]:
        """The kernel sessions running now (REST API)."""
        return {session["id"] for session in self._api("GET", "api/sessions")}

    def shutdown_kernels(self, keep: AbstractSet[str] = frozenset()) -> None:
        """Shut down every kernel session but those in `keep`, so finished tests leave no busy kernels."""
        for session_id in self.session_ids() - keep:
            self._api("DELETE", f"api/sessions/{session_id}")

    def _api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=API_TIMEOUT_S) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 60) -> str:
        """The end of the server's log, for failure messages."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the kernels (they run in sessions of their own), then the server's process group."""
        if self.process.poll() is not None:
            return
        if self.url:
            with contextlib.suppress(OSError, ValueError):  # a server that no longer answers is killed anyway
                self.shutdown_kernels()
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)


def start_lab(root_dir: Path, state_dir: Path, environ: Mapping[str, str]) -> LabServer:
    """Start `jupyter lab` serving `root_dir`, its config/runtime/data under `state_dir`; kernels inherit `environ`."""
    dirs = {name: state_dir / name for name in ("config", "runtime", "data", "ipython", "settings", "workspaces")}
    for path in [root_dir, *dirs.values()]:
        path.mkdir(parents=True, exist_ok=True)
    _write_json(dirs["config"] / "jupyter_server_config.json", LAB_CONFIG)
    _write_json(dirs["config"] / "labconfig" / "page_config.json", PAGE_CONFIG)
    for name, settings in USER_SETTINGS.items():
        _write_json(dirs["settings"] / name, settings)

    token = secrets.token_hex(24)
    # The kernels see exactly the AWS settings given (no stray AWS_PROFILE or endpoint from this process).
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(environ)
    env.update(
        {
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "IPYTHONDIR": str(dirs["ipython"]),
            "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
            "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
            "JUPYTER_TOKEN": token,
            # The kernel is this interpreter (with kit installed), whatever PATH the caller had.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        }
    )
    log_path = state_dir / "jupyter-lab.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={root_dir}", "--no-browser"],
            cwd=root_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches every process it started
        )
    server = LabServer(process=process, url="", token=token, root_dir=root_dir, log_path=log_path)
    try:
        server.url = _wait_until_serving(process, dirs["runtime"], token)
    except (RuntimeError, TimeoutError) as error:
        server.stop()
        raise RuntimeError(f"{error}; its log ends:\n{server.log_tail()}") from error
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_serving(process: subprocess.Popen[bytes], runtime_dir: Path, token: str) -> str:
    """Wait (bounded) for the server's info file, then for /api/status to answer; return the base URL."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    info_file = runtime_dir / f"jpserver-{process.pid}.json"
    url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode} before serving")
        if url is None and info_file.exists():
            try:
                url = json.loads(info_file.read_text())["url"]
            except (json.JSONDecodeError, KeyError):
                url = None  # written but not complete yet
        if url is not None and _answers(f"{url}api/status?token={token}"):
            return url
        time.sleep(0.25)  # polling interval, not an assertion
    raise TimeoutError(f"jupyter lab did not serve within {STARTUP_TIMEOUT_S:.0f}s (info file {info_file})")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
