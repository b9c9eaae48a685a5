"""A batch folder read back (summary.json and each incident's findings.json) as the postmortem's frames.

`read_batch(DIR)` checks the folder and returns a `Batch`; its frames are what the postmortem notebook shows
and the exports write: `incidents` (one row per incident), `changes` (one row per distinct change named),
`groups` (one row per group) and `events` (one row per timeline event: each incident's launch, refused calls,
stop, plus each change).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kit.errors import BadInput
from kit.postmortem.groups import group_incidents
from kit.postmortem.names import short_name

SUMMARY = "summary.json"
INCIDENT_COLUMNS = ("name", "incident_time", "instance_id", "instance_name", "autoscaling_group", "account_id",
                    "region", "status", "title", "cause", "denied_by", "principal_arn", "key_arn", "confidence",
                    "group", "change_event", "change_event_id", "change_time", "change_by", "fix", "fix_owner",
                    "fix_verified", "report", "error")


@dataclass
class Batch:
    """One batch folder: its summary, the findings of each incident (by entry name), and what was unreadable."""

    folder: Path
    summary: dict[str, Any]
    findings: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # files reported and skipped

    @property
    def entries(self) -> list[dict[str, Any]]:
        """summary.json's incidents."""
        return list(self.summary.get("incidents") or [])

    @property
    def groups(self) -> list[dict[str, Any]]:
        """summary.json's groups (computed from the entries for a summary written before groups existed)."""
        return list(self.summary.get("groups") or group_incidents(self.entries))

    def group_of(self) -> dict[str, str]:
        """Entry name -> group id."""
        return {name: str(g["id"]) for g in self.groups for name in g.get("incidents") or []}

    def incidents_frame(self) -> pd.DataFrame:
        """One row per incident (INCIDENT_COLUMNS); incident_time and change_time as UTC datetimes."""
        group_of = self.group_of()
        rows = []
        for entry in self.entries:
            change = _mapping(entry.get("change"))
            fix = _mapping(entry.get("fix"))
            rows.append({
                **{name: entry.get(name) for name in INCIDENT_COLUMNS},
                "group": group_of.get(str(entry.get("name"))),
                "change_event": change.get("event_name"), "change_event_id": change.get("event_id"),
                "change_time": change.get("event_time"), "change_by": change.get("principal_arn"),
                "fix": fix.get("title"), "fix_owner": fix.get("owner"),
                "fix_verified": fix.get("verified") if fix else None,
            })
        frame = pd.DataFrame(rows, columns=list(INCIDENT_COLUMNS))
        for column in ("incident_time", "change_time"):
            frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce", format="ISO8601")
        return frame

    def changes_frame(self) -> pd.DataFrame:
        """One row per distinct change named by an incident: event, who, when, layer, summary, rollback,
        incidents, and how many of them are still denied as collected (`still_denied`: the rollback's urgency)."""
        changes: dict[str, dict[str, Any]] = {}
        for entry in self.entries:
            change = entry.get("change")
            if not isinstance(change, Mapping):
                continue
            key = str(change.get("event_id") or (change.get("event_name"), change.get("event_time")))
            row = changes.setdefault(key, {**{k: change.get(k) for k in (
                "event_id", "event_name", "event_time", "principal_arn", "layer", "summary", "rollback")},
                "incidents": 0, "still_denied": 0})
            row["incidents"] += 1
            row["still_denied"] += change.get("denied_now") is True
        frame = pd.DataFrame(list(changes.values()), columns=["event_id", "event_name", "event_time", "principal_arn",
                                                              "layer", "summary", "rollback", "incidents",
                                                              "still_denied"])
        frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True, errors="coerce", format="ISO8601")
        return frame

    def groups_frame(self) -> pd.DataFrame:
        """One row per group: id, title, cause, change, incidents, blast radius counts, failures, fix."""
        rows = []
        for group in self.groups:
            radius = _mapping(group.get("blast_radius"))
            change = _mapping(group.get("change"))
            fix = _mapping(group.get("fix"))
            rows.append({
                "group": group.get("id"), "title": group.get("title"), "cause": group.get("cause"),
                "denied_by": group.get("denied_by"), "change": change.get("event_name"),
                "change_by": short_name(change.get("principal_arn")) or None, "change_time": change.get("event_time"),
                "incidents": group.get("count"),
                "instances": len(radius.get("instances") or []),
                "autoscaling_groups": len(radius.get("autoscaling_groups") or []),
                "accounts": ", ".join(radius.get("accounts") or []), "regions": ", ".join(radius.get("regions") or []),
                "first_failure": group.get("first_failure"), "last_failure": group.get("last_failure"),
                "fix": fix.get("title"), "fix_owner": fix.get("owner"), "fix_verified": fix.get("verified"),
            })
        frame = pd.DataFrame(rows, columns=["group", "title", "cause", "denied_by", "change", "change_by",
                                            "change_time", "incidents", "instances", "autoscaling_groups", "accounts",
                                            "regions", "first_failure", "last_failure", "fix", "fix_owner",
                                            "fix_verified"])
        for column in ("change_time", "first_failure", "last_failure"):
            frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce", format="ISO8601")
        return frame

    def events_frame(self) -> pd.DataFrame:
        """One row per event of the postmortem's timeline, oldest first: time, kind (change | launch | kms |
        state), event_name, error_code, incident (entry name, None for a change), instance_id, account_id,
        region, principal_arn, event_id, label."""
        rows: list[dict[str, Any]] = []
        seen_changes: set[str] = set()
        for entry in self.entries:
            name = str(entry.get("name"))
            change = entry.get("change")
            if isinstance(change, Mapping) and change.get("event_time"):
                key = str(change.get("event_id") or (change.get("event_name"), change.get("event_time")))
                if key not in seen_changes:
                    seen_changes.add(key)
                    rows.append({"time": change.get("event_time"), "kind": "change", "event_name": change.get("event_name"),
                                 "error_code": None, "incident": None, "instance_id": None,
                                 "account_id": None, "region": None, "principal_arn": change.get("principal_arn"),
                                 "event_id": change.get("event_id"),
                                 "label": f"change: {change.get('event_name')} by {change.get('principal_arn')}"
                                          f" ({change.get('layer')}): {change.get('summary')}"})
            incident = (self.findings.get(name) or {}).get("incident") or {}
            for point in incident.get("timeline") or []:
                rows.append({"time": point.get("time"), "kind": point.get("kind"), "event_name": point.get("event_name"),
                             "error_code": point.get("error_code"), "incident": name,
                             "instance_id": entry.get("instance_id"), "account_id": entry.get("account_id"),
                             "region": entry.get("region"), "principal_arn": point.get("principal_arn"),
                             "event_id": point.get("event_id"),
                             "label": f"{entry.get('instance_id')}: {point.get('label') or point.get('event_name')}"})
        frame = pd.DataFrame(rows, columns=["time", "kind", "event_name", "error_code", "incident", "instance_id",
                                            "account_id", "region", "principal_arn", "event_id", "label"])
        frame["time"] = pd.to_datetime(frame["time"], utc=True, errors="coerce", format="ISO8601")
        frame = frame.dropna(subset=["time"])
        return frame.sort_values("time", kind="stable").reset_index(drop=True)


def read_batch(folder: str | Path) -> Batch:
    """Read a `kit batch` output folder. BadInput (naming `batch_dir`) when it is not one; a findings.json
    that cannot be read is listed in `problems` and skipped."""
    path = Path(folder)
    summary_file = path / SUMMARY
    if not path.is_dir():
        raise BadInput("batch_dir", "a folder written by kit batch", str(folder))
    try:
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput("batch_dir", f"a folder written by kit batch (with {SUMMARY})", str(folder)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput("batch_dir", f"a readable {SUMMARY} (JSON)", f"{summary_file}: {exc}") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("incidents"), list):
        raise BadInput("batch_dir", f"a {SUMMARY} with a list of incidents", str(summary_file))
    batch = Batch(folder=path, summary=summary)
    base = path.resolve()
    for entry in batch.entries:
        relative = entry.get("findings")
        if not relative:
            continue
        file = (path / str(relative)).resolve()
        if base not in file.parents:  # a summary naming a file outside its folder is not followed
            batch.problems.append(f"{relative}: outside the batch folder, skipped")
            continue
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            batch.problems.append(f"{relative}: unreadable ({exc.__class__.__name__}), skipped")
            continue
        if isinstance(document, dict):
            batch.findings[str(entry.get("name"))] = document
        else:
            batch.problems.append(f"{relative}: not a findings object, skipped")
    return batch


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
