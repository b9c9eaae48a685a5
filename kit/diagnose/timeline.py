"""The incident's timeline: state changes, the start call, stops, and KMS calls for the instance."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from kit.diagnose.case import Case

COLUMNS = ["time", "kind", "event_name", "event_source", "error_code", "label", "principal_arn", "event_id"]
_GMT = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) GMT\)")


def timeline(case: Case) -> pd.DataFrame:
    """One row per moment (time, kind: state | launch | kms | other, label ...), oldest first."""
    rows: list[dict[str, Any]] = []
    instance = case.instance or {}
    if instance.get("launch_time") is not None:
        rows.append(_row(instance["launch_time"], "state", "LaunchTime", None, None,
                         "instance launched / last started (LaunchTime)"))
    transition = case.state_reason.transition or ""
    match = _GMT.search(transition)
    if match:
        rows.append(_row(pd.Timestamp(match.group(1), tz="UTC"), "state", "StateTransition", None, None,
                         f"state transition: {transition}"))
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
    if case.evidence.collected_at and instance.get("state"):
        reason = case.state_reason.effective
        rows.append(_row(case.evidence.collected_at, "state", "Collected", None, None,
                         f"{instance['state']}{' (' + reason + ')' if reason else ''} when the evidence was collected"))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True, errors="coerce")
    frame = frame.drop_duplicates(subset=["event_id", "kind", "event_name", "time"], keep="first")
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def _row(time: Any, kind: str, name: Any, source: Any, error: Any, label: str, principal: Any = None,
         event_id: Any = None) -> dict[str, Any]:
    return {"time": time, "kind": kind, "event_name": name, "event_source": source,
            "error_code": None if _missing(error) else error, "label": label,
            "principal_arn": None if _missing(principal) else principal,
            "event_id": None if _missing(event_id) else event_id}


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
