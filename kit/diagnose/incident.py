"""The incident's own facts for findings.json (`incident`): its Name tag and Auto Scaling group, when the
launch that failed started, when it failed, and its timeline as points a postmortem tool can import.

A batch groups and exports incidents from these (kit.postmortem); they are copied from the evidence,
never inferred: a value the evidence does not hold is null.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kit.diagnose.case import Case
from kit.frames.timestamps import to_utc

MAX_TIMELINE_POINTS = 50  # a launch's timeline is a handful of events; a bound keeps findings.json small


def incident_facts(case: Case, timeline: pd.DataFrame) -> dict[str, Any]:
    """`findings.json` `incident`: name, autoscaling_group, launched_at, failed_at (the first refused call
    of the launch, else the state transition, else the launch), and `timeline` (time, event_name, kind,
    error_code, event_id, principal_arn, label)."""
    instance = case.instance or {}
    points = _points(timeline)
    failed = [p for p in points if p["error_code"] and p["kind"] in ("launch", "kms")]
    transition = [p for p in points if p["event_name"] == "StateTransition"]
    launched = _iso(instance.get("launch_time"))
    failed_at = (failed[0]["time"] if failed else transition[0]["time"] if transition else launched)
    return {
        "name": _text(instance.get("name")),
        "autoscaling_group": _text(instance.get("autoscaling_group")),
        "launched_at": launched,
        "failed_at": failed_at,
        "timeline": [p for p in points if p["event_name"] != "Collected"][:MAX_TIMELINE_POINTS],
    }


def _points(timeline: pd.DataFrame) -> list[dict[str, Any]]:
    points = []
    for record in timeline.to_dict("records"):
        time = _iso(record.get("time"))
        if time is None:
            continue
        points.append({"time": time, "event_name": _text(record.get("event_name")), "kind": _text(record.get("kind")),
                       "error_code": _text(record.get("error_code")), "event_id": _text(record.get("event_id")),
                       "principal_arn": _text(record.get("principal_arn")), "label": _text(record.get("label"))})
    return points


def _iso(value: Any) -> str | None:
    """An instant as ISO 8601 UTC with a Z, milliseconds when it has them (None when missing or unreadable)."""
    stamp = to_utc(value)
    if stamp is None:
        return None
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + (f".{stamp.microsecond // 1000:03d}" if stamp.microsecond else "") + "Z"


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, (str, list, dict)) and pd.isna(value)):
        return None
    return str(value) or None
