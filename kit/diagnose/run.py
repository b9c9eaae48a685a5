"""One diagnosis: facts, lookalikes, verdict, steps, remediation, timeline -> Findings."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kit.diagnose.change import mark_change, what_changed

from kit.diagnose.case import Case
from kit.diagnose.completeness import adjust
from kit.diagnose.findings import Findings, FindingsGap
from kit.diagnose.fleet_errors import fleet_error_note
from kit.diagnose.incident import incident_facts
from kit.diagnose.lookalikes import judge_lookalikes
from kit.diagnose.remediation import remediate
from kit.diagnose.roles import step_roles
from kit.diagnose.steps import Analysis, run_steps
from kit.diagnose.ticket import incident_time, verdict_event_ids
from kit.diagnose.timeline import timeline
from kit.diagnose.verdict import decide
from kit.errors import BadInput
from kit.evidence import Evidence

if TYPE_CHECKING:
    from kit.frames import Frames


def run(evidence: Evidence, frames: Frames | None = None) -> Findings:
    """diagnose(): see kit.diagnose."""
    if not isinstance(evidence, Evidence):
        raise BadInput("evidence", "a kit.evidence.Evidence", type(evidence).__name__)
    if frames is None:
        from kit.frames import build_frames

        frames = build_frames(evidence)
    case = Case(evidence, frames)
    lookalikes = judge_lookalikes(case)
    judgement = adjust(case, decide(case, lookalikes))
    steps = run_steps(case, Analysis(lookalikes, judgement))
    roles = step_roles([(s.id, s.status) for s in steps], judgement.verdict.cause)
    steps = [replace(step, role=role) for step, role in zip(steps, roles)]
    auth = judgement.authorization
    changed = what_changed(case, judgement.verdict)
    events = mark_change(timeline(case), changed.change)
    gaps = [FindingsGap(g.call, g.error, g.impact, g.next_step) for g in evidence.gaps] + list(judgement.gaps)
    verdict = judgement.verdict
    launcher = case.launcher
    if launcher is not None and verdict.principal_arn and verdict.principal_arn == launcher.arn:
        verdict = replace(verdict, launcher_class=launcher.launcher_class.id if launcher.launcher_class else None,
                          launched_by=launcher.launched_by)
    undone = _undone_note(changed.change)
    if undone:
        verdict = replace(verdict, summary=f"{verdict.summary} {undone}")
    note = fleet_error_note((case.launch_event or {}).get("record"), evidence.instance_id)
    if note:
        verdict = replace(verdict, summary=f"{verdict.summary} {note}")
    return Findings(
        instance_id=evidence.instance_id,
        region=evidence.region,
        account_id=case.account_id,
        verdict=replace(verdict, change=changed.change, last_success=changed.last_success),
        ruled_out=judgement.ruled_out,
        steps=steps,
        gaps=_unique(gaps),
        remediation=remediate(case, judgement),
        lookalikes={k: v.status for k, v in lookalikes.items()},
        request=auth.request if auth else None,
        policies=auth.policies if auth else None,
        decision=auth.decision if auth else None,
        timeline=events,
        other_changes=changed.others,
        change_mattered=changed.mattered,
        failure_time=changed.failure_time,
        incident=incident_facts(case, events),
        incident_time=incident_time(case),
        verdict_event_ids=verdict_event_ids(case, judgement),
        launch=launch_facts(case),
        key_provenance=case.key_provenance,
    )


def _undone_note(change: dict[str, Any] | None) -> str:
    """A sentence when the named change is undone as collected (its request is allowed again): nothing to apply."""
    if not change or change.get("denied_now") is not False:
        return ""
    undone = change.get("undone_by") or {}
    by = (f" ({undone.get('event_name')} by {undone.get('principal_arn') or 'an unknown principal'} at "
          f"{undone.get('event_time')})") if undone else ""
    return (f"As collected, the request is allowed again{by}: the {change.get('event_name')} is undone and "
            "nothing is left to apply.")


def launch_facts(case: Case) -> dict[str, Any] | None:
    """findings.json's `launch`: the launch call, the launcher, its class and who can fix it."""
    launcher = case.launcher
    event = case.launch_event
    if launcher is None and event is None:
        return None
    from kit.frames.launch_paths import fleet_errors, fleet_type

    record = (event or {}).get("record")
    out: dict[str, Any] = {
        "path": launcher.path if launcher else (event or {}).get("event_name"),
        "event_id": (event or {}).get("event_id"),
        "principal_arn": launcher.arn if launcher else None,
        "source": launcher.source if launcher else None,
        "requested_by": launcher.requested_by if launcher else None,
        "requested_by_class": launcher.requested_by_class.to_dict() if launcher and launcher.requested_by_class
        else None,
        "launched_by": launcher.launched_by if launcher else None,
        "launcher_class": launcher.launcher_class.to_dict() if launcher and launcher.launcher_class else None,
        "launch_template": dict(zip(("id", "version"), case.launch_template)) if case.launch_template[0] else None,
    }
    if fleet_type(record):
        out["fleet_type"] = fleet_type(record)
        out["fleet_errors"] = fleet_errors(record)
    return out


def _unique(gaps: list[FindingsGap]) -> list[FindingsGap]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for gap in gaps:
        key = (gap.call, gap.error, gap.impact)
        if key not in seen:
            seen.add(key)
            out.append(gap)
    return out
