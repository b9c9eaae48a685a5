"""Responses already read in this process, reused by a later collection of the same account (the notebook's
window changes, re-picks and background prefetch), so a new CloudTrail window reads only CloudTrail, and only
the part of it not read yet.

- Only read-only calls reach here (the clients' guard refuses anything else) and only successful responses
  are kept: an error is asked again, as a fresh collection would.
- Each response is reused for at most `max_age` (MAX_AGE by default); after that it is read again. Answers are
  kept per caller (the session's profile and access key id): a change of credentials reads again, and the
  organization's management account (`org_role_arn`, its own assumed session) never gets the member account's
  answers to the same call, nor the member account its answers. Athena
  queries and S3 listings are never reused (their answers move while the analyst looks).
- CloudTrail LookupEvents is kept per query (Region, lookup attribute, page bounds) with the time span it
  covers completely. A later lookup of the same query inside that span is answered from it (events filtered to
  the new range); one wider on one side reads only the missing part and merges it (one event once, newest
  first, as LookupEvents answers); one wider on both sides is read whole (one call, as a fresh collection). The newest DELIVERY_DELAY of a span (CloudTrail may still deliver
  events for it) is always read again. A response cut by its page bound is never reused for another range,
  and a merged answer longer than the page bound is cut the same way (newest kept, `NextToken` set).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

MAX_AGE = timedelta(minutes=15)  # how long a response is reused
# Reads whose answer moves while an analyst looks: a query's progress (Athena), the log files delivered so far
# (S3 listings). Always asked again.
NEVER_REUSED_SERVICES = ("athena",)
NEVER_REUSED = (("s3", "ListObjectsV2"), ("s3", "ListObjects"))
DELIVERY_DELAY = timedelta(minutes=15)  # CloudTrail delivers events within minutes (5 on average, not guaranteed)
CUT = "kit-memo-cut"  # NextToken of a merged lookup longer than its page bound (callers only test its presence)

Call = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class _Span:
    """Every event of one LookupEvents query between `start` and `end` (inclusive); complete up to
    `reliable_end` (later events may still be delivered); first read at `read_at`."""

    start: datetime
    end: datetime
    reliable_end: datetime
    events: list[dict[str, Any]]
    read_at: datetime


class ResponseMemo:
    """Successful read-only responses by call, shared by collections in one process (thread-safe)."""

    def __init__(self, max_age: timedelta = MAX_AGE, delivery_delay: timedelta = DELIVERY_DELAY,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.max_age = max_age
        self.delivery_delay = delivery_delay
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._responses: dict[str, tuple[datetime, dict[str, Any]]] = {}
        self._spans: dict[str, _Span] = {}
        self._lock = threading.Lock()
        self.reused = 0  # calls answered from memory (wholly)
        self.made = 0  # calls made (a widened lookup counts each part it read)

    def clear(self) -> None:
        """Forget everything (the next collection reads the account again)."""
        with self._lock:
            self._responses.clear()
            self._spans.clear()

    def call(self, service: str, operation: str, region: str, params: dict[str, Any], max_items: int | None,
             page_size: int | None, make: Call, scope: str = "") -> tuple[dict[str, Any], datetime | None]:
        """The response to `service.operation(params)` (all pages, at most `max_items` items) and, when it came
        wholly from memory, when it was read (else None); `make(params)` reads it from the account. `scope`
        names who asks (the session's profile and access key id): one caller's answers are never another's."""
        if service in NEVER_REUSED_SERVICES or (service, operation) in NEVER_REUSED:
            return self._make(make, params), None
        if (service, operation) == ("cloudtrail", "LookupEvents") and isinstance(params.get("StartTime"), datetime) \
                and isinstance(params.get("EndTime"), datetime):
            return self._lookup(region, params, max_items, page_size, make, scope)
        key = _key(scope, service, operation, region, params, max_items, page_size)
        now = self._clock()
        with self._lock:
            held = self._responses.get(key)
        if held is not None and now - held[0] <= self.max_age:
            with self._lock:
                self.reused += 1
            return held[1], held[0]
        response = make(params)
        with self._lock:
            self.made += 1
            self._responses[key] = (now, response)
            self._forget_expired(now)
        return response, None

    def _lookup(self, region: str, params: dict[str, Any], max_items: int | None, page_size: int | None,
                make: Call, scope: str) -> tuple[dict[str, Any], datetime | None]:
        start, end = _utc(params["StartTime"]), _utc(params["EndTime"])
        query = {k: v for k, v in params.items() if k not in ("StartTime", "EndTime")}
        key = _key(scope, "cloudtrail", "LookupEvents", region, query, max_items, page_size)
        now = self._clock()
        with self._lock:
            span = self._spans.get(key)
        if span is not None and (now - span.read_at > self.max_age or start > span.reliable_end
                                 or end < span.start or span.reliable_end < span.start
                                 or (start < span.start and end > span.reliable_end)):
            span = None  # too old, no usable overlap, or missing on both sides (two calls where one does)
        if span is None:
            response = self._make(make, params)
            if not response.get("NextToken"):
                self._keep(key, _Span(start, end, min(end, now - self.delivery_delay), list(response.get("Events") or []),
                                      now))
            return response, None
        before_range = (start, span.start) if start < span.start else None
        after_range = (span.reliable_end, end) if end > span.reliable_end else None
        parts = [r for r in (before_range, after_range) if r is not None]
        read = {r: self._make(make, {**params, "StartTime": r[0], "EndTime": r[1]}) for r in parts}
        if any(r.get("NextToken") for r in read.values()):  # cut: only a whole lookup says what the range holds
            return self._make(make, params), None
        before = list(read[before_range].get("Events") or []) if before_range else []
        after = list(read[after_range].get("Events") or []) if after_range else []
        held = [e for e in span.events if span.start <= _event_time(e) <= span.reliable_end]
        merged = _unique(after + held + before)  # newest first, as LookupEvents answers
        union = _Span(min(start, span.start), max(end, span.reliable_end),
                      min(end, now - self.delivery_delay) if after_range else span.reliable_end, merged, span.read_at)
        self._keep(key, union)
        events = [e for e in merged if start <= _event_time(e) <= end]
        answer: dict[str, Any] = {"Events": events}
        if max_items and len(events) > max_items:
            answer = {"Events": events[:max_items], "NextToken": CUT}
        if not parts:
            with self._lock:
                self.reused += 1
        return answer, None if parts else span.read_at

    def _make(self, make: Call, params: dict[str, Any]) -> dict[str, Any]:
        response = make(params)
        with self._lock:
            self.made += 1
        return response

    def _keep(self, key: str, span: _Span) -> None:
        with self._lock:
            self._spans[key] = span
            self._forget_expired(self._clock())

    def _forget_expired(self, now: datetime) -> None:
        """Drop what is too old to be reused (under the lock): memory stays bounded by what one `max_age` reads."""
        for key in [k for k, (at, _) in self._responses.items() if now - at > self.max_age]:
            del self._responses[key]
        for key in [k for k, span in self._spans.items() if now - span.read_at > self.max_age]:
            del self._spans[key]


def _key(scope: str, service: str, operation: str, region: str, params: dict[str, Any], max_items: int | None,
         page_size: int | None) -> str:
    return json.dumps([scope, service, operation, region, params, max_items, page_size], sort_keys=True, default=str)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _event_time(event: dict[str, Any]) -> datetime:
    value = event.get("EventTime")
    if isinstance(value, datetime):
        return _utc(value)
    try:
        return _utc(datetime.fromisoformat(str(value)))
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)


def _unique(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each event once (by EventId, else whole), in the given order."""
    seen: set[str] = set()
    out = []
    for event in events:
        ident = str(event.get("EventId") or json.dumps(event, sort_keys=True, default=str))
        if ident not in seen:
            seen.add(ident)
            out.append(event)
    return out
