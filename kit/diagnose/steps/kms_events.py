"""Step: CloudTrail KMS failures tied to this instance."""

from __future__ import annotations

from kit.diagnose.case import Case
from kit.diagnose.steps.check import Analysis, Check

COLUMNS = ["event_time", "event_name", "error_code", "error_message", "identity_arn", "principal_arn",
           "invoked_by", "source_ip", "volume_ids", "key_arns", "instance_ids", "event_id"]


def check(case: Case, analysis: Analysis) -> Check:
    """fail with a tied KMS failure, pass when CloudTrail covers the launch without one, unknown otherwise."""
    events = case.events
    ids = [f.event_id for f in case.kms_failures]
    rows = events[events["event_id"].isin(ids)] if len(events) else events
    rows = rows[[c for c in COLUMNS if c in rows.columns]]
    if case.kms_failures:
        parts = []
        for f in case.kms_failures:
            by = "EC2 for the launcher" if f.by_ec2 and not f.infrastructure else (
                "the instance's aws:ec2-infrastructure role" if f.infrastructure else (f.invoked_by or "the caller"))
            parts.append(f"{f.event_name} {f.error_code} at {f.event_time} by {by} "
                         f"(tied by {f.tie}){': ' + f.error_message if f.error_message else ''}")
        return Check("fail", "; ".join(parts), rows)
    if not case.cloudtrail_present:
        return Check("unknown", "no CloudTrail records in the evidence", rows)
    if case.launch_event is None:
        return Check("unknown", "CloudTrail holds no start or launch of this instance, so the absence of KMS "
                                "failures proves nothing", rows)
    return Check("pass", f"CloudTrail covers the {case.launch_event.get('event_name')} at "
                         f"{case.launch_event.get('event_time')} and shows no KMS failure tied to the instance", rows)
