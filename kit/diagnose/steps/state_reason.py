"""Step: the state reason, read by its message prefix."""

from __future__ import annotations

from kit.diagnose.case import Case
from kit.diagnose.steps.check import Analysis, Check

COLUMNS = ["instance_id", "state", "state_reason_code", "state_reason_message", "state_transition_reason",
           "launch_time"]


def check(case: Case, analysis: Analysis) -> Check:
    """fail for a reason that names a failure, pass when the instance runs, unknown without a reason."""
    rows = case.instance_rows[[c for c in COLUMNS if c in case.instance_rows.columns]]
    if case.instance is None:
        return Check("unknown", "describe-instances does not show the instance", rows)
    sr = case.state_reason
    if sr.kind == "running":
        return Check("pass", f"the instance is {sr.state}; no state reason to read", rows)
    if not sr.effective:
        return Check("unknown", f"the instance is {sr.state} with no state reason recorded", rows)
    detail = f"effective reason {sr.effective}"
    if sr.disagrees:
        detail += f" (the code says {sr.code}; the message prefix decides)"
    detail += f": {sr.meaning}"
    if sr.kind == "kms-candidate":
        detail += "; KMS can cause this, but the state reason alone never proves it"
    return Check("fail", detail, rows)
