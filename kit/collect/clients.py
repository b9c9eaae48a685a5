"""Guarded, recorded boto3 clients for collection.

Every client the kit makes here: refuses non-read operations (kit.collect.readonly), records each API call
in order (`{"operation", "params", "at"}`, by a botocore event hook), retries throttling with botocore's
adaptive retry mode, and is shared between the collector's threads (botocore clients are thread-safe).
Credentials stay in memory: `--role-arn` credentials are never written anywhere.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials

from kit.collect.model_data import botocore_session
from kit.collect.readonly import install_guard, operation_name, refuse_unlisted_operation
from kit.errors import BadInput, KitError

# botocore retry: adaptive = standard retries (throttling errors included) + a client-side rate limiter.
RETRY_CONFIG = {"mode": "adaptive", "max_attempts": 10}
# Parameters never copied into the call log.
SECRET_PARAMS = frozenset({"SecretAccessKey", "SessionToken", "Password", "Plaintext", "CiphertextBlob",
                           "SAMLAssertion", "WebIdentityToken", "TokenCode", "SerialNumber"})
PAGE_TOKENS = frozenset({"NextToken", "Marker", "StartingToken"})


def make_session(*, profile: str | None = None, role_arn: str | None = None, region: str | None = None,
                 session_name: str = "kit-collect", recorder: CallRecorder | None = None,
                 parameter: str = "--role-arn") -> boto3.Session:
    """A boto3 session from the standard credential chain (or `profile`), optionally as `role_arn`.

    The role is assumed with a guarded STS client (its call recorded by `recorder` when given); the
    temporary credentials live only in the returned session object (botocore assumes the role again before they
    expire, recorded the same way). The returned session is guarded: every
    client (and resource) made from it refuses non-read operations before sending (`guard_session`).
    `parameter`: the option a malformed `role_arn` came from (named in the error).
    """
    try:
        base = boto3.Session(botocore_session=botocore_session(profile), region_name=region)
    except Exception as exc:  # botocore.exceptions.ProfileNotFound and friends
        raise BadInput("--profile", "a profile in the AWS config files", profile) from exc
    if not role_arn:
        return guard_session(base)
    if not role_arn.startswith("arn:") or ":role/" not in role_arn:
        raise BadInput(parameter, "an IAM role ARN (arn:aws:iam::<account>:role/<name>)", role_arn)
    sts = install_guard(base.client("sts", config=Config(retries=RETRY_CONFIG)), credentials=True)
    if recorder is not None:
        recorder.attach(sts)

    def assume() -> dict[str, Any]:
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        return {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"], "expiry_time": _utc(creds["Expiration"]).isoformat()}

    # Assumed now (an error is the caller's at once), and again by botocore before the credentials expire, so a
    # long batch or notebook session keeps reading (botocore's refreshable credentials, as for its own roles).
    first = assume()
    credentials = RefreshableCredentials.create_from_metadata(first, refresh_using=assume, method="kit-assume-role")
    assumed = botocore_session()
    assumed.register_component("credential_provider", CredentialResolver(providers=[_Assumed(credentials)]))
    session = guard_session(boto3.Session(botocore_session=assumed, region_name=region or base.region_name))
    with _EXPIRATIONS_LOCK:
        _EXPIRATIONS[session] = datetime.fromisoformat(first["expiry_time"])
    return session


class _Assumed(CredentialProvider):
    """A credential provider answering with the refreshable credentials of a role make_session assumed."""

    METHOD = CANONICAL_NAME = "kit-assume-role"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


def _utc(value: Any) -> datetime:
    """AssumeRole's Expiration as an aware UTC datetime (botocore parses it; a naive one is UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


# When each assumed role's first credentials expire (AssumeRole's `Expiration`; not a secret), by session. botocore
# assumes the role again before that; the notebook's session cache replaces its sessions then all the same.
_EXPIRATIONS: weakref.WeakKeyDictionary[boto3.Session, datetime] = weakref.WeakKeyDictionary()
_EXPIRATIONS_LOCK = threading.Lock()


def credentials_expiry(session: boto3.Session) -> datetime | None:
    """When the credentials of a session make_session made by assuming a role expire (UTC), else None (the
    standard chain's credentials, which botocore refreshes by itself)."""
    with _EXPIRATIONS_LOCK:
        return _EXPIRATIONS.get(session)


_CREATION_LOCKS: weakref.WeakKeyDictionary[boto3.Session, threading.Lock] = weakref.WeakKeyDictionary()
_CREATION_LOCKS_LOCK = threading.Lock()


def _creation_lock(session: boto3.Session) -> threading.Lock:
    """The lock that serializes making clients from `session` (boto3 sessions are not thread-safe; the clients
    they make are): one session can then serve several collections at once (the notebook's prefetch)."""
    with _CREATION_LOCKS_LOCK:
        lock = _CREATION_LOCKS.get(session)
        if lock is None:
            lock = _CREATION_LOCKS[session] = threading.Lock()
        return lock


def guard_session(session: boto3.Session) -> boto3.Session:
    """Install the read-only guard on `session`'s events: every client made from it afterwards inherits it
    (botocore copies a session's handlers into each new client), so none can send a non-read operation."""
    for event in ("provide-client-params", "before-call"):
        session.events.register_first(event, refuse_unlisted_operation, unique_id=f"kit-readonly-session-{event}")
    return session


class CallRecorder:
    """Records every API call a client makes, in the order they are made (thread-safe)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        """Record the calls `client` makes (one entry per API call; pages are calls, retries are not)."""
        client.meta.events.register("provide-client-params", self._record, unique_id="kit-call-recorder")

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.add(operation_name(model), params)

    @contextmanager
    def active(self) -> Iterator[None]:
        """Calls made meanwhile, in this thread, through shared clients (SharedClients) are recorded here."""
        token = _ACTIVE_RECORDER.set(self)
        try:
            yield
        finally:
            _ACTIVE_RECORDER.reset(token)

    def add(self, operation: str, params: dict[str, Any], *, read_at: datetime | None = None) -> None:
        """Record one call (`service:Operation`); `read_at`: it was answered from a response read at that time
        earlier in this process (kit.collect.memo), not sent again (the entry then has `reused` and `read_at`)."""
        entry: dict[str, Any] = {"operation": operation, "params": loggable_params(params),
                                 "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
        if read_at is not None:
            entry["reused"] = True
            entry["read_at"] = read_at.isoformat(timespec="milliseconds")
        with self._lock:
            self.calls.append(entry)


_ACTIVE_RECORDER: ContextVar[CallRecorder | None] = ContextVar("kit_active_recorder", default=None)


def _record_in_active(model: Any, params: dict[str, Any], **_: Any) -> None:
    """A shared client's call recorder: the recorder the calling collection made active (CallRecorder.active)."""
    recorder = _ACTIVE_RECORDER.get()
    if recorder is None:  # a bug in the kit: a call no collection's log would list
        raise KitError(f"{operation_name(model)} was called through a shared client outside a collection's "
                       "recorder (CallRecorder.active)")
    recorder.add(operation_name(model), params)


class SharedClients:
    """Guarded clients shared by every collection of one session (kit batch's incidents of one account), made
    once per (service, Region, short-timeout or not) instead of once per collection: making a client builds its
    class (about 700 methods for EC2) and dropping it leaves that much for the garbage collector. Each call is
    recorded by the recorder its collection made active (`CallRecorder.active`; kit.collect.fetcher does)."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str, bool], Any] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, bool], make: Callable[[], Any]) -> Any:
        """The client for `key`, made by `make()` the first time (then guarded, its calls recorded as above)."""
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = install_guard(make())
                client.meta.events.register("provide-client-params", _record_in_active, unique_id="kit-call-recorder")
                self._clients[key] = client
            return client


class SessionWithSharedClients(boto3.Session):
    """A boto3 session whose collections share their clients (`shared_clients`, used for the calls a Fetcher
    makes; other uses get a client of their collection's own)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shared_clients = SharedClients()


def loggable_params(params: dict[str, Any]) -> dict[str, Any]:
    """The call's parameters without secrets; page tokens shortened (they are long and meaningless)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in SECRET_PARAMS:
            out[key] = "<redacted>"
        elif key in PAGE_TOKENS and isinstance(value, str):
            out[key] = "<next page>"
        elif isinstance(value, datetime):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out


# The first call of a collection tells whether AWS answers at all: short timeouts and one retry, so an endpoint
# that accepts connections and never answers (or is not there) fails in about half a minute, not ten.
REACH_TIMEOUTS = {"connect_timeout": 5, "read_timeout": 12}
REACH_RETRIES = {"mode": "standard", "total_max_attempts": 2}
# Errors that mean nothing answered (as kit.collect.gaps.error_code names them), not that AWS said no.
UNANSWERED = frozenset({"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError",
                        "ConnectionClosedError", "ProxyConnectionError", "SSLError", "ConnectionError"})


class ReadOnlyClients:
    """One guarded, recorded client per (service, region), created on first use."""

    def __init__(self, session: boto3.Session, region: str, recorder: CallRecorder | None = None,
                 *, max_pool_connections: int = 10) -> None:
        self.session = session
        self.region = region
        self.recorder = recorder or CallRecorder()
        retries = dict(RETRY_CONFIG)
        attempts = os.environ.get("AWS_MAX_ATTEMPTS", "")
        if attempts.isdigit() and int(attempts) > 0:  # the standard setting, when given, wins (e.g. to fail fast)
            retries["max_attempts"] = int(attempts)
        self._config = Config(retries=retries, max_pool_connections=max_pool_connections,
                              connect_timeout=10, read_timeout=60)
        self._reach_config = Config(retries=REACH_RETRIES, **REACH_TIMEOUTS)
        self._clients: dict[tuple[str, str, bool], Any] = {}
        self._lock = threading.Lock()

    def __call__(self, service: str, region: str | None = None, *, reach: bool = False, shared: bool = False) -> Any:
        """The client for `service` in `region` (default: the collection region); `reach`: the short-timeout
        client that tells whether AWS answers at all (REACH_TIMEOUTS, one retry). `shared`: the caller makes
        its calls inside `self.recorder.active()`, so a session's shared client may serve (SharedClients)."""
        key = (service, region or self.region, reach)
        if shared and isinstance(self.session, SessionWithSharedClients):
            return self.session.shared_clients.get(key, lambda: self._make(key))
        with self._lock:
            if key not in self._clients:
                client = install_guard(self._make(key))
                self.recorder.attach(client)
                self._clients[key] = client
            return self._clients[key]

    def _make(self, key: tuple[str, str, bool]) -> Any:
        service, region, reach = key
        with _creation_lock(self.session):  # a session may be shared by collections in other threads
            return self.session.client(service, region_name=region,
                                       config=self._reach_config if reach else self._config)
