"""The words a postmortem document needs, from a batch: impact, trigger, detection, fix (one paragraph each,
plain text; the notebook shows them as Markdown-free text, escaped)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kit.postmortem.batch import Batch
from kit.postmortem.groups import change_detail
from kit.postmortem.names import short_name


@dataclass(frozen=True)
class Narrative:
    """The four paragraphs of a postmortem, in order."""

    impact: str
    trigger: str
    detection: str
    fix: str

    def sections(self) -> list[tuple[str, str]]:
        """(heading, paragraph) in document order."""
        return [("Impact", self.impact), ("Trigger", self.trigger), ("Detection", self.detection), ("Fix", self.fix)]


def narrative(batch: Batch) -> Narrative:
    """The postmortem's paragraphs for a batch (every figure counted from its incidents and groups)."""
    incidents = batch.incidents_frame()
    groups = batch.groups
    return Narrative(impact=_impact(incidents), trigger=_trigger(groups), detection=_detection(batch, incidents),
                     fix=_fix(groups))


def _impact(incidents: pd.DataFrame) -> str:
    done = incidents[incidents["status"] == "ok"]
    failed = len(incidents) - len(done)
    if not len(incidents):
        return "The batch holds no incidents."
    instances = done["instance_id"].dropna().nunique()
    groups = done["autoscaling_group"].dropna().nunique()
    accounts = sorted(done["account_id"].dropna().astype(str).unique())
    regions = sorted(done["region"].dropna().astype(str).unique())
    times = done["incident_time"].dropna()
    when = (f" between {_t(times.min())} and {_t(times.max())} ({_span(times.max() - times.min())})"
            if len(times) > 1 else f" at {_t(times.min())}" if len(times) else "")
    line = (f"{instances} instance{_s(instances)} failed to launch{when}, in {len(accounts)} account{_s(len(accounts))}"
            f" ({', '.join(accounts) or 'unknown'}) and {len(regions)} Region{_s(len(regions))}"
            f" ({', '.join(regions) or 'unknown'})")
    if groups:
        line += f"; {groups} Auto Scaling group{_s(groups)} could not replace instances"
    line += "."
    if failed:
        line += f" {failed} investigation{_s(failed)} did not finish (see their failure reports)."
    return line


def _trigger(groups: Sequence[Mapping[str, Any]]) -> str:
    changed = [g for g in groups if isinstance(g.get("change"), Mapping)]
    parts = []
    for group in changed:
        change = group["change"]
        parts.append(f"{change.get('event_name')} by {short_name(change.get('principal_arn')) or 'an unknown principal'}"
                     f" at {change.get('event_time')} ({change.get('layer')}): {change_detail(change)} "
                     f"It caused {group.get('count')} of the failures ({group.get('title')}).")
    causes = [g for g in groups if not isinstance(g.get("change"), Mapping) and g.get("status") == "ok"]
    for group in causes:
        denied = f", refused by {group.get('denied_by')}" if group.get("denied_by") else ""
        parts.append(f"{group.get('count')} failure{_s(int(group.get('count') or 0))}: {group.get('title')}{denied}; "
                     "the evidence names no change that caused them.")
    if not parts:
        return "No incident was investigated to the end: the trigger is not known."
    return " ".join(parts)


def _detection(batch: Batch, incidents: pd.DataFrame) -> str:
    times = incidents["incident_time"].dropna()
    first = f"The first failure happened at {_t(times.min())}" if len(times) else "No failure time is in the evidence"
    change_times = incidents["change_time"].dropna()
    lag = ""
    if len(times) and len(change_times):
        lag = f", {_span(times.min() - change_times.min())} after the {'first ' if change_times.nunique() > 1 else ''}change"
    folder_time = _batch_time(batch)
    investigated = f"; this batch investigated {len(incidents)} incident{_s(len(incidents))}" + (
        f" (summary written {folder_time})" if folder_time else "")
    return f"{first}{lag}{investigated}."


def _fix(groups: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for group in groups:
        fix = group.get("fix")
        if group.get("status") != "ok":
            continue
        lead = f"{group.get('id')} ({group.get('count')} incident{_s(int(group.get('count') or 0))})"
        change = group.get("change")
        if isinstance(change, Mapping) and change.get("denied_now") is False:
            undone = change.get("undone_by") if isinstance(change.get("undone_by"), Mapping) else {}
            by = (f" by {undone.get('event_name')} of {short_name(undone.get('principal_arn')) or 'an unknown principal'}"
                  f" at {undone.get('event_time')}") if undone else ""
            parts.append(f"{lead}: {change.get('event_name')} is already undone{by}: as collected, the requests are "
                         "allowed again; no rollback is needed.")
            continue
        if isinstance(change, Mapping):
            how = f" ({change.get('rollback')})" if change.get("rollback") else ""
            lead += f": roll back {change.get('event_name')}{how}, or"
        if not isinstance(fix, Mapping):
            parts.append(f"{lead}: no fix proposed.")
            continue
        verified = "verified by the kit's evaluator" if fix.get("verified") else "not verified"
        scope = {"all": "resolves the whole group",
                 "same-target": f"one edit of this policy with the statements of the {fix.get('distinct_fixes')} "
                                "incidents' fixes resolves the whole group"
                 }.get(str(fix.get("resolves")), f"{fix.get('distinct_fixes')} different fixes, one per incident")
        parts.append(f"{lead}: {fix.get('title')} on {short_name(fix.get('target')) or 'the target'} "
                     f"(owner: {fix.get('owner')}; {verified}; {scope}).")
    return " ".join(parts) or "No fix is proposed: no investigation reached a cause."


def _batch_time(batch: Batch) -> str:
    try:
        stamp = pd.Timestamp((batch.folder / "summary.json").stat().st_mtime, unit="s", tz="UTC")
    except OSError:
        return ""
    return _t(stamp)


def _t(value: Any) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(delta: pd.Timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    days, hours = seconds // 86400, seconds % 86400 // 3600
    return f"{days} days" + (f" {hours} h" if hours else "")  # 2 days 23 h, never "2 days" for almost 3


def _s(number: int) -> str:
    return "" if number == 1 else "s"
