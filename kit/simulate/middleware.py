"""The kit's extensions to moto, as WSGI middleware in front of moto's app (same process, same endpoint).

Each request's service (as botocore signs it) and operation are looked up in `kit.simulate.dispatch`; a
registered handler answers it (kit/simulate/extensions/, one module per service), anything else is moto's.
A request an extension cannot read gets AWS's error shape for its protocol, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from kit.simulate.dispatch import extends, handler_for
from kit.simulate.extensions.context import Context, WsgiApp
from kit.simulate.wire import BadRequest, Request, error_response, internal_error

StartResponse = Callable[..., Any]
log = logging.getLogger(__name__)


class Extensions:
    """WSGI middleware adding the kit's AWS fidelity to moto's app."""

    def __init__(self, app: WsgiApp, throttle: bool = False) -> None:
        self.app = app
        self.context = Context(app, throttle=throttle)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.from_environ(environ)
        if not extends(request.service):
            return self.app(environ, start_response)
        try:
            handler = handler_for(request.service, request.operation)
        except (ValueError, OSError):
            handler = None     # a body that cannot be read for its Action: moto answers it as before
        if handler is None:
            return self.app(environ, start_response)
        try:
            response = handler(request, self.context)
        except BadRequest as exc:
            response = error_response(request.protocol, exc.code, exc.message)
        except Exception:
            log.exception("simulator extension failed on %s %s", request.service, request.operation)
            response = internal_error(request.protocol)
        start_response(response.status, response.headers)
        return [response.body]

    def close(self) -> None:
        """Cancel pending replays (the server is stopping)."""
        self.context.close()
