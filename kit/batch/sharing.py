"""Read calls shared between the incidents of one account: each distinct call made once, answers reused.

During an outage many instances fail for the same reason: the same key, the same key policy, the same
principal's policies, the same CloudTrail minutes. `SharingSession` is a boto3 session whose clients
answer a read call that another incident's collection already made (same service, Region, operation and
parameters) from memory, and make concurrent identical calls once (the others wait for its answer).
CloudTrail LookupEvents is shared by time: for one lookup attribute, the events of every window already
read (widened by a margin) are kept, and a query is answered from them, reading only what is not covered.

It works below kit.collect, through botocore's own events, so collection code is unchanged: the clients
keep the read-only guard and the call log kit.collect installs. Only successful answers and definite
refusals (AccessDenied, NotFound: 4xx other than throttling) are shared; throttling and server errors
are never replayed.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from kit.collect.clients import RETRY_CONFIG, SessionWithSharedClients
from kit.collect.readonly import install_guard

THROTTLING = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
                        "TooManyRequestsException", "RequestLimitExceeded", "SlowDown",
                        "ProvisionedThroughputExceededException", "RequestThrottledException"})
# Refusals that say the caller's credentials are stale, not what the account allows: never shared.
STALE_CREDENTIALS = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "RequestExpired",
                               "SignatureDoesNotMatch"})
WAIT_SECONDS = 120.0  # how long a call waits for an identical call in flight before making its own
LOOKUP_PAGE_SIZE = 50
LOOKUP_MAX_PAGES = 40  # a window with more events than this is not shared (each query reads its own)
# A window is read this much wider on both sides (never past the time of reading), so the overlapping
# windows of other instances that failed minutes apart are answered without another read.
LOOKUP_MARGIN = timedelta(minutes=15)
_KEY = "kit_shared_call"


class SharingSession(SessionWithSharedClients):
    """A boto3 session (same credentials as `base`) whose clients share answers through `cache` (and whose
    collections share their clients: kit.collect.clients.SharedClients)."""

    def __init__(self, base: boto3.Session, cache: SharedCalls | None = None) -> None:
        super().__init__(botocore_session=base._session, region_name=base.region_name)
        self.shared = cache or SharedCalls()
        self._lock = threading.Lock()

    def client(self, *args: Any, **kwargs: Any) -> Any:
        """A client as boto3 makes it, answering shared calls from the cache."""
        with self._lock:  # creating clients from one session is not thread-safe
            client = super().client(*args, **kwargs)
        self.shared.attach(client, self)
        return client

    def raw_client(self, service: str, region: str) -> Any:
        """A guarded client that bypasses the cache (to read CloudTrail windows for it)."""
        with self._lock:
            client = super().client(service, region_name=region, config=Config(retries=RETRY_CONFIG))
        return install_guard(client)


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Window:
    """The LookupEvents answers read so far for one lookup attribute in one Region."""

    covered: list[tuple[datetime, datetime]] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # EventId -> event
    lock: threading.Lock = field(default_factory=threading.Lock)
    unshareable: bool = False


class SharedCalls:
    """The answers of read calls, by (service, Region, operation, parameters); thread-safe."""

    def __init__(self) -> None:
        self._answers: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._flights: dict[str, _Flight] = {}
        self._windows: dict[str, _Window] = {}
        self._raw: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.made = 0  # calls that went to AWS
        self.shared = 0  # calls answered from another incident's call
        self.lookup_reads = 0  # LookupEvents pages read to fill shared windows

    def stats(self) -> dict[str, int]:
        """How many calls were made and how many were answered from the shared answers."""
        with self._lock:
            return {"calls_made": self.made, "calls_shared": self.shared, "lookup_pages_read": self.lookup_reads}

    def attach(self, client: Any, session: SharingSession) -> None:
        """Make `client` use the shared answers (registered after kit.collect's guard, which runs first)."""
        region = client.meta.region_name
        service = client.meta.service_model.service_name
        events = client.meta.events

        def remember_key(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            context[_KEY] = (_call_key(service, region, model.name, params), model.name, dict(params))

        def answer(model: Any, context: dict[str, Any], **_: Any) -> Any:
            found = context.get(_KEY)
            if not found:
                return None
            key, operation, params = found
            if service == "cloudtrail" and operation == "LookupEvents" and "NextToken" not in params:
                response = self._lookup(session, region, params)
                if response is not None:
                    context[_KEY] = None  # answered here: nothing to store after the call
                    return response
            return self._answer_or_fly(key, context)

        def store(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            found = context.get(_KEY)
            if not found or context.get("kit_shared_hit") or context.get("kit_shared_stored"):
                return  # (stored already: by the operation's own event, before the service's)
            context["kit_shared_stored"] = True
            key = found[0]
            if _shareable(http_response, parsed):
                with self._lock:
                    self._answers[key] = (http_response, copy.deepcopy(parsed))
            self._land(key)

        def failed(context: dict[str, Any], **_: Any) -> None:
            found = context.get(_KEY)
            if found and not context.get("kit_shared_hit"):
                self._land(found[0])

        events.register("before-parameter-build", remember_key, unique_id="kit-shared-key")
        events.register("before-call", answer, unique_id="kit-shared-answer")
        # Keep the answer as parsed, before botocore's own after-call handlers change it in place (IAM policy
        # documents are URL-decoded there; a replayed answer goes through them again). The most specific
        # event name runs first: first on the service's event, and on the own event of each operation that
        # has a handler of botocore's there (registering on every operation's event instead costs a signature
        # check each, about 700 for EC2, per client).
        service_id = client.meta.service_model.service_id.hyphenize()
        events.register_first(f"after-call.{service_id}", store, unique_id="kit-shared-store")
        for operation in _operations_with_own_handlers(client.meta.service_model):
            events.register_first(f"after-call.{service_id}.{operation}", store,
                                  unique_id=f"kit-shared-store-{operation}")
        events.register("after-call-error", failed, unique_id="kit-shared-error")

    # -- identical calls --------------------------------------------------------------------------------

    def _answer_or_fly(self, key: str, context: dict[str, Any]) -> Any:
        """The stored answer; or wait for an identical call in flight; or become the call in flight."""
        while True:
            with self._lock:
                if key in self._answers:
                    http, parsed = self._answers[key]
                    self.shared += 1
                    context["kit_shared_hit"] = True
                    return http, copy.deepcopy(parsed)
                flight = self._flights.get(key)
                if flight is None:
                    self._flights[key] = _Flight()
                    self.made += 1
                    return None  # this call goes to AWS; store() lands it
            if not flight.done.wait(WAIT_SECONDS):
                with self._lock:
                    self.made += 1
                return None
            with self._lock:
                if key not in self._answers:  # the call in flight failed or was not shareable: make our own
                    self.made += 1
                    return None

    def _land(self, key: str) -> None:
        with self._lock:
            flight = self._flights.pop(key, None)
        if flight is not None:
            flight.done.set()

    # -- CloudTrail windows -----------------------------------------------------------------------------

    def _lookup(self, session: SharingSession, region: str, params: dict[str, Any]) -> Any:
        """LookupEvents answered from the events of the windows already read (reading what is missing)."""
        attributes = params.get("LookupAttributes") or []
        start, end = _utc(params.get("StartTime")), _utc(params.get("EndTime"))
        if len(attributes) != 1 or start is None or end is None or start > end or params.get("EventCategory"):
            return None
        attribute = attributes[0]
        group = json.dumps([region, attribute.get("AttributeKey"), attribute.get("AttributeValue")])
        with self._lock:
            window = self._windows.setdefault(group, _Window())
        with window.lock:
            if window.unshareable:
                return None
            for gap_start, gap_end in _missing(window.covered, start, end):
                read_start, read_end = _widened(gap_start, gap_end, datetime.now(timezone.utc))
                events = self._read_window(session, region, attribute, read_start, read_end)
                if events is None:
                    window.unshareable = True
                    return None
                for event in events:
                    window.events.setdefault(str(event.get("EventId")), event)
                window.covered = _merge(window.covered + [(read_start, read_end)])
            chosen = [e for e in window.events.values() if start <= (_utc(e.get("EventTime")) or start) <= end]
        chosen.sort(key=lambda e: _utc(e.get("EventTime")) or start, reverse=True)
        with self._lock:
            self.shared += 1
        http = AWSResponse("shared://cloudtrail/LookupEvents", 200, {}, None)
        http._content = b""
        return http, {"Events": copy.deepcopy(chosen), "ResponseMetadata": {"HTTPStatusCode": 200}}

    def _read_window(self, session: SharingSession, region: str, attribute: dict[str, Any],
                     start: datetime, end: datetime) -> list[dict[str, Any]] | None:
        """Every event with `attribute` in [start, end]; None when there are too many to share."""
        with self._lock:
            client = self._raw.get(region)
            if client is None:
                client = self._raw[region] = session.raw_client("cloudtrail", region)
        paginator = client.get_paginator("lookup_events")
        events: list[dict[str, Any]] = []
        pages = paginator.paginate(LookupAttributes=[attribute], StartTime=start, EndTime=end,
                                   PaginationConfig={"PageSize": LOOKUP_PAGE_SIZE})
        for number, page in enumerate(pages, 1):
            with self._lock:
                self.lookup_reads += 1
            if number > LOOKUP_MAX_PAGES:
                return None
            events.extend(page.get("Events", []))
        return events


def _operations_with_own_handlers(service_model: Any) -> list[str]:
    """The operations of the service for which botocore registers after-call handlers of their own (all of
    them for a wildcard), which run before the service-wide ones."""
    from botocore.handlers import BUILTIN_HANDLERS

    prefix = f"after-call.{service_model.service_id.hyphenize()}."
    named = {str(handler[0])[len(prefix):] for handler in BUILTIN_HANDLERS if str(handler[0]).startswith(prefix)}
    if "*" in named:
        return list(service_model.operation_names)
    return sorted(named & set(service_model.operation_names))


def _call_key(service: str, region: str, operation: str, params: dict[str, Any]) -> str:
    return json.dumps([service, region, operation, params], sort_keys=True, default=str)


def _shareable(http_response: Any, parsed: dict[str, Any]) -> bool:
    status = getattr(http_response, "status_code", 500)
    if status < 300:
        return True
    code = (parsed.get("Error") or {}).get("Code", "")
    return 400 <= status < 500 and code not in THROTTLING and code not in STALE_CREDENTIALS and status != 429


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, str) and value:
        try:
            return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _widened(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime]:
    """[start, end] widened by LOOKUP_MARGIN, the end never past `now` (later events may still arrive)."""
    return start - LOOKUP_MARGIN, max(end, min(end + LOOKUP_MARGIN, now))


def _missing(covered: list[tuple[datetime, datetime]], start: datetime, end: datetime
             ) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end] outside the (merged, sorted) covered intervals (bounds re-read: inclusive)."""
    gaps: list[tuple[datetime, datetime]] = []
    cursor = start
    for low, high in covered:
        if high < cursor:
            continue
        if low > end:
            break
        if low > cursor:
            gaps.append((cursor, low))
        cursor = high
        if cursor >= end:
            return gaps
    gaps.append((cursor, end))
    return gaps


def _merge(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for low, high in sorted(intervals):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged
