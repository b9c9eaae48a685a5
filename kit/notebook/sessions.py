"""boto3 sessions kept in the notebook's kernel, one per set of credentials: the member account's (profile, role,
Region) and the organization's management account's (profile, `org_role_arn`).

A session is made once and reused by every collection (window changes, picks, the background prefetch) until
its credentials are near expiry: an assumed role's session is replaced EXPIRY_MARGIN before AssumeRole's
`Expiration`; a session of the standard chain (which refreshes its own credentials) is kept KEPT. Its clients'
service models are then loaded once, and a role is assumed once, not once per collection. Sessions (and their
credentials) live in this object only, in memory: nothing is written anywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta, timezone
from typing import Any

KEPT = timedelta(minutes=15)  # a session without an expiry is reused this long (kit.collect.memo keeps answers as long)
EXPIRY_MARGIN = timedelta(minutes=5)  # an assumed role's session is replaced this long before its credentials expire


class SessionCache:
    """Sessions by key (thread-safe: concurrent asks for one key make one session, the others wait for it)."""

    def __init__(self, kept: timedelta = KEPT, margin: timedelta = EXPIRY_MARGIN,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.kept = kept
        self.margin = margin
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._held: dict[Hashable, tuple[datetime, Any]] = {}  # key -> (reused until, session)
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()
        self.made = 0  # sessions made (roles assumed, for a key with a role)

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The session held for `key` while its credentials are good, else a new one from `make()` (an error in
        `make` is raised and nothing is kept)."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            held = self._held.get(key)
            if held is not None and self._clock() < held[0]:
                return held[1]
            session = make()
            self._held[key] = (self._until(session), session)
            self.made += 1
            return session

    def _until(self, session: Any) -> datetime:
        from kit.collect.clients import credentials_expiry

        expiry = credentials_expiry(session)
        now = self._clock()
        return now + self.kept if expiry is None else expiry - self.margin
