"""What a ticket needs beside the verdict: when it happened, which CloudTrail events prove it, and (added when
findings.json is written) when the kit investigated, which kit, and from what evidence.

`incident_time` and `verdict_event_ids` come from the evidence alone, so a bundle diagnoses exactly like live;
`run_fields` describe this run and are added by whoever writes findings.json.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pandas as pd

from kit.causes import cause
from kit.frames.timestamps import to_utc

if TYPE_CHECKING:
    from kit.diagnose.case import Case
    from kit.diagnose.verdict import Judgement
    from kit.evidence import Evidence


def incident_time(case: Case) -> pd.Timestamp | None:
    """When the failed launch happened: the latest successful start/run call naming the instance, else its
    LaunchTime (the last start), else the time in its StateTransitionReason."""
    from kit.diagnose.timeline import transition_time

    launch = case.launch_event
    instance = case.instance or {}
    for value in ((launch or {}).get("event_time"), instance.get("launch_time"),
                  transition_time(case.state_reason.transition)):
        stamp = to_utc(value)
        if stamp is not None:
            return stamp
    return None


def verdict_event_ids(case: Case, judgement: Judgement) -> list[str]:
    """The CloudTrail event ids behind the verdict: the refused KMS call that decided it and the launch call
    (KMS causes), or the stop call (an instance someone stopped); first the deciding one."""
    kind = cause(judgement.verdict.cause).kind
    ids: list[Any] = []
    if judgement.failure is not None:
        ids.append(judgement.failure.event_id)
    if kind == "kms":
        ids += [f.event_id for f in case.kms_failures if f.key_arn == judgement.verdict.key_arn]
    if kind in ("kms", "lookalike") and case.launch_event is not None:
        ids.append(case.launch_event.get("event_id"))
    if kind == "not-a-failure" and case.stop_events:
        ids.append(case.stop_events[-1].get("event_id"))
    out: list[str] = []
    for event_id in ids:
        if isinstance(event_id, str) and event_id and event_id not in out:
            out.append(event_id)
    return out


def run_fields(evidence: Evidence | None, kit_version: str, now: datetime | None = None) -> dict[str, Any]:
    """findings.json's fields about this run: investigated_at (UTC, seconds), kit_version and evidence_source
    (where the evidence came from, when and by whom it was collected)."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    out: dict[str, Any] = {"investigated_at": now.isoformat().replace("+00:00", "Z"), "kit_version": kit_version}
    if evidence is not None:
        collected = to_utc(evidence.collected_at)
        out["evidence_source"] = {
            "source": evidence.source,
            "collected_at": None if collected is None else collected.isoformat().replace("+00:00", "Z"),
            "collected_by": evidence.collector_arn or None,
        }
    return out


def iso(stamp: pd.Timestamp | None) -> str | None:
    """A UTC timestamp as findings.json writes it (`2026-12-02T12:13:00Z`), None as None."""
    return None if stamp is None else stamp.isoformat().replace("+00:00", "Z")
