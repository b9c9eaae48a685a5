"""moto's ThreadedMotoServer on 127.0.0.1, with the kit's middleware in front of moto's app."""

from __future__ import annotations

import errno
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from kit.errors import BadInput
from kit.simulate.middleware import Extensions


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without one log line per request on stderr."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
        return None


class SimulatorServer(ThreadedMotoServer):
    """ThreadedMotoServer whose WSGI app is wrapped by kit.simulate.middleware.Extensions."""

    def __init__(self, port: int = 0, throttle: bool = False) -> None:
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
