"""What a handler gets beside its request: moto's app to forward to, and the server's own state (the
LookupEvents throttle, the pending replays)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kit.simulate.wire import Request, Response

THROTTLE_RATE = 2.0      # LookupEvents: 2 requests per second per account and Region
THROTTLE_BURST = 2.0

WsgiApp = Callable[..., Iterable[bytes]]


class Context:
    """One simulator server's extension state, shared by every handler of that server."""

    def __init__(self, moto_app: WsgiApp, throttle: bool = False) -> None:
        self.moto_app = moto_app
        self.throttle = throttle
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()

    def forward(self, request: Request, account: str | None = None) -> Response:
        """moto's answer to the request (in `account` instead, as x-moto-account-id, when given)."""
        if account is not None:
            request.environ["HTTP_X_MOTO_ACCOUNT_ID"] = account
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        result = self.moto_app(request.environ, capture)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return Response(captured["status"], list(captured["headers"]), body)

    def throttled(self, account: str, region: str) -> bool:
        """With the throttle on: whether this request exceeds the account and Region's token bucket."""
        if not self.throttle:
            return False
        with self._lock:
            bucket = self._buckets.setdefault((account, region), TokenBucket(THROTTLE_RATE, THROTTLE_BURST))
        return not bucket.take()

    def later(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        """Run `action(*args)` after `delay` seconds unless the server stops first."""
        timer = threading.Timer(delay, action, args)
        timer.daemon = True
        with self._lock:
            self._timers.append(timer)
        timer.start()

    def close(self) -> None:
        """Cancel what `later` has not run yet (the server is stopping)."""
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()


class TokenBucket:
    """A token bucket: `rate` tokens a second, at most `burst` saved."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one token if there is one."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


Handler = Callable[[Request, Context], Response]
