"""The findings' timeline frame turned into the points the timeline picture draws.

kit.diagnose's `Findings.timeline` holds one row per moment of the incident (state changes, the start
call, KMS calls); the picture needs `time`, `lane` (state, launch, kms, other), `label` and `error`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kit.report.timeline import LANES, points_from_rows

LAUNCH_CALLS = frozenset({"StartInstances", "RunInstances", "StopInstances", "TerminateInstances",
                          "CreateAutoScalingGroup", "UpdateAutoScalingGroup", "RequestSpotInstances"})


def points_from_timeline(timeline: pd.DataFrame | None) -> pd.DataFrame:
    """Points (time, lane, label, error) from the findings' timeline frame, oldest first."""
    if timeline is None or len(timeline) == 0:
        return points_from_rows([])
    rows = [_point({str(k): v for k, v in row.items()}) for row in timeline.to_dict("records")]
    return points_from_rows([row for row in rows if row is not None])


def _point(row: dict[str, Any]) -> dict[str, Any] | None:
    time = _first(row, "time", "event_time", "at")
    if time is None:
        return None
    source = str(_first(row, "event_source", "source") or "")
    name = str(_first(row, "event_name", "event", "name") or "")
    kind = str(_first(row, "kind", "lane", "category") or "")
    error = _first(row, "error_code", "error")
    error_flag = bool(error) and str(error).lower() not in {"false", "none", "nan", "<na>"}
    return {"time": time, "lane": _lane(kind, source, name), "error": error_flag,
            "label": str(_first(row, "label", "description", "detail", "summary") or
                         " ".join(p for p in (name, str(error) if error_flag else "") if p))}


def _lane(kind: str, source: str, name: str) -> str:
    kind = kind.lower()
    if kind in LANES:
        return kind
    if kind in {"state-change", "instance-state"}:
        return "state"
    if source == "kms.amazonaws.com":
        return "kms"
    if name in LAUNCH_CALLS:
        return "launch"
    return "other"


def _first(row: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = row.get(name)
        if value is None:
            continue
        try:
            if pd.isna(value):
                continue
        except (TypeError, ValueError):
            pass
        return value
    return None
