"""The lookalikes: failures that resemble a KMS launch failure, each confirmed, ruled out or left unknown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit.causes import causes
from kit.diagnose.case import Case
from kit.diagnose.findings import LookalikeStatus
from kit.diagnose.metadata import load_data

STATUSES = ("confirmed", "possible", "ruled-out", "unknown")
Judged = tuple[LookalikeStatus, str]  # a lookalike's status and why


@dataclass(frozen=True)
class Lookalike:
    id: str
    title: str
    status: LookalikeStatus
    why: str


def judge_lookalikes(case: Case) -> dict[str, Lookalike]:
    """Every lookalike judged against the case's evidence: the causes of kind lookalike (kit/causes.yaml,
    by their state reasons and Auto Scaling words), then those of lookalikes.yaml."""
    out: dict[str, Lookalike] = {}
    for cause in causes().values():
        if cause.lookalike is not None:
            status, why = _reason(case, cause.state_reason_codes, cause.lookalike.autoscaling)
            out[cause.id] = Lookalike(cause.id, cause.lookalike.title, status, why)
    for lookalike_id, meta in load_data("lookalikes.yaml")["lookalikes"].items():
        status, why = _JUDGES[lookalike_id](case)
        out[lookalike_id] = Lookalike(lookalike_id, meta["title"], status, why)
    return out


def _reason(case: Case, wanted: tuple[str, ...], activity_words: tuple[str, ...] = ()) -> Judged:
    sr = case.state_reason
    if case.instance is None:
        return "unknown", "describe-instances does not show the instance"
    if sr.effective in wanted or (sr.code in wanted):
        return "confirmed", f"state reason {sr.effective or sr.code}: {sr.message or ''}".strip()
    for activity in _activities(case):
        text = " ".join(str(activity.get(k) or "") for k in ("status_message", "cause", "description"))
        if any(word.lower() in text.lower() for word in activity_words):
            return "confirmed", f"Auto Scaling activity: {text.strip()[:200]}"
    if sr.state in ("running", "pending"):
        return "ruled-out", f"the instance is {sr.state}"
    if not sr.effective:
        return "unknown", "no state reason recorded"
    return "ruled-out", f"state reason is {sr.effective}, not {' / '.join(wanted)}"


def _os_shutdown(case: Case) -> Judged:
    return _reason(case, ("Client.InstanceInitiatedShutdown",))


def _scheduled(case: Case) -> Judged:
    return _reason(case, ("Server.ScheduledStop",))


def _hibernation(case: Case) -> Judged:
    status, why = _reason(case, ("Client.UserInitiatedHibernate",))
    if status != "confirmed" and "hibernat" in (case.state_reason.transition or "").lower():
        return "confirmed", f"state transition: {case.state_reason.transition}"
    return status, why


def _spot(case: Case) -> Judged:
    status, why = _reason(case, ("Server.SpotInstanceShutdown", "Server.SpotInstanceTermination"))
    if status == "ruled-out" and (case.instance or {}).get("instance_lifecycle") != "spot":
        return "ruled-out", "not a Spot instance"
    return status, why


def _user_stop(case: Case) -> Judged:
    sr = case.state_reason
    status, why = _reason(case, ("Client.UserInitiatedShutdown",))
    if status == "confirmed" or sr.kind in ("running",):
        return status, why
    launched = case.launch_event.get("event_time") if case.launch_event else None
    later_stops = [e for e in case.stop_events if launched is None or e.get("event_time") >= launched]
    if later_stops and sr.kind != "kms-candidate":
        stop = later_stops[-1]
        return "confirmed", f"{stop.get('event_name')} by {stop.get('principal_arn') or stop.get('identity_arn')}"
    if sr.user_initiated and sr.kind not in ("kms-candidate", "cause"):
        return "confirmed", f"state transition: {sr.transition}"
    if sr.kind == "kms-candidate" and not later_stops:
        return "ruled-out", f"state reason {sr.effective} is a launch failure, and no stop call followed the start"
    return status, why


def _asg_health(case: Case) -> Judged:
    activities = _activities(case)
    for activity in activities:
        text = " ".join(str(activity.get(k) or "") for k in ("cause", "description", "status_message"))
        if "health" in text.lower() and ("terminat" in text.lower() or "replac" in text.lower()):
            return "confirmed", f"Auto Scaling activity: {text.strip()[:200]}"
    if not (case.instance or {}).get("autoscaling_group"):
        return "ruled-out", "the instance belongs to no Auto Scaling group"
    if activities:
        return "ruled-out", "no Auto Scaling activity replaced it after a health check"
    return "unknown", "the instance is in an Auto Scaling group but its activities are not in the evidence"


def _server_internal(case: Case) -> Judged:
    sr = case.state_reason
    if sr.effective != "Server.InternalError":
        if sr.kind == "running":
            return "ruled-out", f"the instance is {sr.state}"
        if sr.effective == "Client.InternalError" and sr.code == "Server.InternalError":
            return "ruled-out", "code Server.InternalError, but the message says Client.InternalError (a client-side cause)"
        return ("ruled-out", f"state reason is {sr.effective}") if sr.effective else ("unknown", "no state reason")
    if case.kms_failures or _unusable_keys(case):
        return "ruled-out", "a KMS failure or an unusable key explains the error"
    if case.cloudtrail_present and case.encryption_known:
        return "possible", "Server.InternalError with no KMS error in CloudTrail and no unusable key"
    return "unknown", "without CloudTrail and key evidence a KMS cause cannot be excluded"


def _snapshot_corrupt(case: Case) -> Judged:
    sr = case.state_reason
    if sr.effective != "Client.InternalError":
        return ("ruled-out", f"state reason is {sr.effective or sr.state}") if (sr.effective or sr.kind == "running") \
            else ("unknown", "no state reason")
    if case.kms_failures or _unusable_keys(case):
        return "ruled-out", "a KMS failure or an unusable key explains Client.InternalError"
    denied = [k for k, a in case.authorizations.items() if not a.decision.allowed]
    if denied:
        return "ruled-out", "the evaluator denies EC2's CreateGrant on a volume key"
    if case.cloudtrail_present and case.encryption_known:
        return "possible", "Client.InternalError with no KMS error in CloudTrail and usable keys"
    return "unknown", "without CloudTrail and key evidence a KMS cause cannot be excluded"


def _unusable_keys(case: Case) -> list[str]:
    return [k for k in case.key_arns if (case.key(k) or {}).get("key_state") not in (None, "Enabled")]


def _activities(case: Case) -> list[dict[str, Any]]:
    frame = case.frames.autoscaling_activities
    if not len(frame):
        return []
    rows = frame[frame["instance_id"] == case.instance_id]
    return [{str(k): v for k, v in r.items()} for r in rows.to_dict("records")]


_JUDGES = {
    "snapshot-corrupt": _snapshot_corrupt,
    "os-shutdown": _os_shutdown,
    "user-stop": _user_stop,
    "spot-interruption": _spot,
    "scheduled-retirement": _scheduled,
    "server-internal-error": _server_internal,
    "hibernation": _hibernation,
    "asg-health-replacement": _asg_health,
}
