"""The incident's timeline: state changes, the start call, stops, and KMS calls for the instance.

The stop is placed when it happened: at the time StateTransitionReason gives (`User initiated (... GMT)`), else,
for a launch that failed (AWS records no time for it), right after the last launch-related call, marked
`approximate`. When the evidence was collected is not part of the incident and not on the timeline.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from kit.diagnose.case import Case

COLUMNS = ["time", "kind", "event_name", "event_source", "error_code", "label", "principal_arn", "event_id",
           "approximate"]
_GMT = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) GMT\)")


def timeline(case: Case) -> pd.DataFrame:
    """One row per moment (time, kind: state | launch | kms | other, label ...), oldest first."""
    rows: list[dict[str, Any]] = []
    instance = case.instance or {}
    if instance.get("launch_time") is not None:
        rows.append(_row(instance["launch_time"], "state", "LaunchTime", None, None,
                         "instance launched / last started (LaunchTime)"))
    for event in case.launch_events + case.stop_events:
        rows.append(_row(event.get("event_time"), "launch", event.get("event_name"), event.get("event_source"),
                         event.get("error_code"), _event_label(event), event.get("principal_arn"),
                         event.get("event_id")))
    events = case.events
    if len(events):
        tied = {f.event_id for f in case.kms_failures}
        mask = (events["event_source"] == "kms.amazonaws.com") & (
            events["event_id"].isin(tied) | events["instance_ids"].map(
                lambda ids: case.instance_id in (ids if isinstance(ids, list) else [])))
        for record in events[mask].to_dict("records"):
            event = {str(k): v for k, v in record.items()}
            rows.append(_row(event.get("event_time"), "kms", event.get("event_name"), event.get("event_source"),
                             event.get("error_code"), _event_label(event), event.get("principal_arn"),
                             event.get("event_id")))
    rows += _stop_rows(case, rows)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True, errors="coerce")
    frame["approximate"] = [value is True for value in frame["approximate"]]
    frame = frame.drop_duplicates(subset=["event_id", "kind", "event_name", "time"], keep="first")
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def transition_time(transition: str | None) -> pd.Timestamp | None:
    """The time in a StateTransitionReason (`User initiated (2026-11-28 01:02:03 GMT)`), None when it has none."""
    match = _GMT.search(transition or "")
    return pd.Timestamp(match.group(1), tz="UTC") if match else None


def _stop_rows(case: Case, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The instance's final state when it got there: the transition's time, else (a failed launch) just after
    the last call of the launch, approximate; nothing for an instance that is running or not stopped."""
    state = str((case.instance or {}).get("state") or "")
    if not state or state in ("running", "pending"):
        return []
    reason = case.state_reason.effective
    what = f"{state}{' (' + reason + ')' if reason else ''}"
    exact = transition_time(case.state_reason.transition)
    if exact is not None:
        return [_row(exact, "state", "StateTransition", None, None, what)]
    times = [t for t in pd.to_datetime([r["time"] for r in rows], utc=True, errors="coerce") if not pd.isna(t)]
    if not times:
        return []
    return [_row(max(times) + pd.Timedelta(seconds=1), "state", "StateTransition", None, None,
                 f"{what}: right after; AWS records no time for it", approximate=True)]


def _row(time: Any, kind: str, name: Any, source: Any, error: Any, label: str, principal: Any = None,
         event_id: Any = None, approximate: bool = False) -> dict[str, Any]:
    return {"time": time, "kind": kind, "event_name": name, "event_source": source,
            "error_code": None if _missing(error) else error, "label": label,
            "principal_arn": None if _missing(principal) else principal,
            "event_id": None if _missing(event_id) else event_id, "approximate": approximate}


def _event_label(event: dict[str, Any]) -> str:
    who = event.get("principal_arn") or event.get("identity_arn") or ""
    error = event.get("error_code")
    text = f"{event.get('event_name')} by {who}" if who and not _missing(who) else str(event.get("event_name"))
    return text + (f" failed: {error}" if not _missing(error) else "")


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
