"""The CloudTrail window of an incident: bounded in time and in pages, never an unbounded scan.

The incident time comes from the instance (the time in its StateTransitionReason, its LaunchTime, which
StartInstances also resets); the window is that time widened by `before`/`after` minutes. Once the
instance's own events are read, the KMS window narrows to the latest StartInstances/RunInstances (EC2 asks
KMS for the grant seconds after it) or, failing that, StopInstances.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from kit.errors import BadInput
from kit.frames.launch_paths import launch_event_names

PAGE_SIZE = 50  # LookupEvents returns at most 50 events a page
_REASON_TIME = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) GMT\)")
LAUNCH_EVENTS = launch_event_names()  # RunInstances, StartInstances, CreateFleet, Spot requests
STOP_EVENTS = ("StopInstances",)


@dataclass(frozen=True)
class CollectWindow:
    """How much CloudTrail to read around the incident.

    before_minutes/after_minutes widen the window around the incident time; kms_after_minutes bounds the
    KMS events after the launch attempt; max_pages bounds every LookupEvents query (50 events a page).
    start/end, when given, replace the derived window.
    """

    before_minutes: int = 60
    after_minutes: int = 30
    kms_before_minutes: int = 2
    kms_after_minutes: int = 15
    max_pages: int = 3
    start: datetime | None = None
    end: datetime | None = None
    change_lookback_days: int = 30  # how far before the incident to look for changes (contracts.md 3a)
    change_max_pages: int = 2       # pages per change look-up (kit.collect.changes states the budget)

    def __post_init__(self) -> None:
        for name in ("before_minutes", "after_minutes", "kms_before_minutes", "kms_after_minutes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0 or value > 90 * 24 * 60:
                raise BadInput(f"window.{name}", "minutes between 0 and 129600 (90 days)", value)
        if not isinstance(self.max_pages, int) or not 1 <= self.max_pages <= 100:
            raise BadInput("window.max_pages", "an integer between 1 and 100", self.max_pages)
        if not isinstance(self.change_lookback_days, int) or not 0 <= self.change_lookback_days <= 90:
            raise BadInput("window.change_lookback_days", "days between 0 and 90", self.change_lookback_days)
        if not isinstance(self.change_max_pages, int) or not 1 <= self.change_max_pages <= 100:
            raise BadInput("window.change_max_pages", "an integer between 1 and 100", self.change_max_pages)
        if self.start and self.end and self.start >= self.end:
            raise BadInput("window.start", "a time before window.end", self.start)

    def to_dict(self) -> dict[str, Any]:
        """The parameters as recorded in the evidence."""
        return {"before_minutes": self.before_minutes, "after_minutes": self.after_minutes,
                "kms_before_minutes": self.kms_before_minutes, "kms_after_minutes": self.kms_after_minutes,
                "max_pages": self.max_pages, "change_lookback_days": self.change_lookback_days,
                "change_max_pages": self.change_max_pages,
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None}


@dataclass(frozen=True)
class TimeRange:
    """A closed time range in UTC."""

    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def incident_time(instance: dict[str, Any] | None) -> datetime | None:
    """The latest of the instance's LaunchTime and the time in its StateTransitionReason."""
    if not instance:
        return None
    times = [t for t in (parse_time(instance.get("LaunchTime")),
                         reason_time(instance.get("StateTransitionReason"))) if t]
    return max(times) if times else None


def incident_window(instance: dict[str, Any] | None, window: CollectWindow,
                    now: datetime | None = None) -> TimeRange:
    """The bounded window in which to look for the instance's events."""
    now = now or datetime.now(timezone.utc)
    if window.start or window.end:
        start = window.start or (window.end or now) - timedelta(minutes=window.before_minutes)
        end = window.end or now
        return TimeRange(_utc(start), _utc(end))
    anchor = incident_time(instance) or now
    return TimeRange(anchor - timedelta(minutes=window.before_minutes),
                     anchor + timedelta(minutes=window.after_minutes))


def kms_window(events: list[dict[str, Any]], outer: TimeRange, window: CollectWindow) -> TimeRange:
    """The narrow window for KMS events: around the latest launch (else stop) event inside `outer`."""
    anchor = latest_event_time(events, LAUNCH_EVENTS, outer) or latest_event_time(events, STOP_EVENTS, outer)
    if anchor is None:
        return outer
    start = max(outer.start, anchor - timedelta(minutes=window.kms_before_minutes))
    end = min(outer.end, anchor + timedelta(minutes=window.kms_after_minutes))
    return TimeRange(start, max(end, start))


def latest_event_time(events: list[dict[str, Any]], names: tuple[str, ...], within: TimeRange) -> datetime | None:
    """The time of the latest event named one of `names` (LookupEvents shape) inside `within`."""
    times = [parse_time(e.get("EventTime")) for e in events if e.get("EventName") in names]
    inside = [t for t in times if t and within.start <= t <= within.end]
    return max(inside) if inside else None


def reason_time(reason: str | None) -> datetime | None:
    """The time in `User initiated (2024-05-01 10:00:00 GMT)`, or None."""
    match = _REASON_TIME.search(reason or "")
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)


def parse_time(value: Any) -> datetime | None:
    """A UTC datetime from an ISO 8601 string, an epoch number or a datetime; None if unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    try:
        return _utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)

