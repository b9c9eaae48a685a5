"""summary.json: one entry per incident of a batch, the verdict fields copied from its findings.json, plus the
postmortem's fields (Name tag, incident time, verdict title, fix owner, change: kit.postmortem.groups) and the
incidents grouped by change then cause (`groups`, additive)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kit.batch.incidents import Outcome
from kit.postmortem.groups import group_incidents, incident_fields
from kit.redact import redact_value
from kit.report.files import write_text_atomically

SCHEMA = "kit.batch-summary/1"
VERDICT_FIELDS = ("cause", "denied_by", "principal_arn", "key_arn", "confidence", "summary")


def summary_entry(outcome: Outcome, batch_dir: Path) -> dict[str, Any]:
    """The summary of one incident: where its files are, ok/failed, its verdict fields, its error."""
    incident = outcome.incident
    findings = outcome.findings or {}
    verdict = findings.get("verdict") or {}
    params = incident.params
    entry: dict[str, Any] = {
        "params_file": incident.params_file,
        "name": incident.name,
        "out_dir": _relative(incident.out_dir, batch_dir),
        "status": outcome.status,
        "instance_id": findings.get("instance_id") or (params.instance_id if params else None) or None,
        "region": findings.get("region") or (params.region if params else None) or None,
        "account_id": findings.get("account_id") or incident.account_id,
    }
    entry.update({name: verdict.get(name) for name in VERDICT_FIELDS})
    entry.update(incident_fields(outcome.findings))
    entry.update({
        "error": outcome.error,
        "report": _relative(outcome.report, batch_dir) if outcome.report else None,
        "findings": _relative(outcome.findings_file, batch_dir) if outcome.findings_file else None,
        "notebook": _relative(outcome.notebook, batch_dir) if outcome.notebook else None,
        "seconds": round(outcome.seconds, 3),
        "timings": dict(outcome.timings),
        "notes": list(outcome.notes),
    })
    if params is not None and params.redact:  # as its findings.json: account ids, IPs, key ids masked
        entry = redact_value(entry)
        entry["account_id"] = None
    return entry


def build_summary(outcomes: Sequence[Outcome], batch_dir: Path, *, extra: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """summary.json as a dict: counts, then one entry per incident in parameter-file order."""
    incidents = [summary_entry(o, batch_dir) for o in outcomes]
    counts = {"incidents": len(incidents), "ok": sum(1 for e in incidents if e["status"] == "ok"),
              "failed": sum(1 for e in incidents if e["status"] == "failed")}
    interrupted = sum(1 for e in incidents if e["status"] == "interrupted")
    if interrupted:  # Ctrl-C stopped the batch: these did not finish (or never started)
        counts["interrupted"] = interrupted
    summary: dict[str, Any] = {"schema": SCHEMA, "counts": counts}
    summary.update(extra or {})
    summary["groups"] = group_incidents(incidents)
    summary["incidents"] = incidents
    return summary


def write_summary(summary: dict[str, Any], batch_dir: Path) -> Path:
    """Write `summary.json` into the batch folder (atomically: a reader never sees half a file)."""
    return write_text_atomically(batch_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive (Windows)
        return Path(path).as_posix()
