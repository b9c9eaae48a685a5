"""Step: the launching principal."""

from __future__ import annotations

from kit.diagnose.principal import kind_label
from kit.diagnose.case import Case
from kit.diagnose.steps.check import Analysis, Check

COLUMNS = ["event_time", "event_name", "identity_type", "identity_arn", "principal_arn", "session_issuer_arn",
           "invoked_by", "user_agent", "error_code", "event_id"]


def check(case: Case, analysis: Analysis) -> Check:
    """pass when CloudTrail names the launcher, unknown when it is only suggested or not known."""
    events = case.events
    ids = [e.get("event_id") for e in case.launch_events]
    rows = events[events["event_id"].isin(ids)] if len(events) else events
    rows = rows[[c for c in COLUMNS if c in rows.columns]]
    launcher = case.launcher
    if launcher is None:
        return Check("unknown", "no StartInstances/RunInstances event or KMS failure names the launcher", rows)
    session = f" through session {launcher.session_arn}" if launcher.session_arn else ""
    where = {"launch-event": "the launch event", "kms-event": "the KMS failure's caller",
             "autoscaling-tag": "the instance's Auto Scaling group (the default service-linked role; not proven)",
             "parameter": "the investigation's parameters (not proven)",
             "launch-path": "the launch call's service-linked role (not proven)"}[launcher.source]
    detail = f"{launcher.arn}: {kind_label(launcher.kind)}{session}, from {where}"
    if launcher.path and launcher.path not in ("RunInstances", "StartInstances"):
        detail += f"; {launcher.launched_by}"  # a fleet or Spot request: say which call and who made it
    return Check("pass" if launcher.confirmed else "unknown", detail, rows)
