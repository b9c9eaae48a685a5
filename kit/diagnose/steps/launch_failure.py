"""Step: was it a launch failure at all?"""

from __future__ import annotations

from kit.diagnose.case import Case
from kit.diagnose.steps.check import Analysis, Check
from kit.diagnose.verdict import NOT_LAUNCH


def check(case: Case, analysis: Analysis) -> Check:
    """fail when a launch failed, pass when the instance runs or was stopped on purpose."""
    rows = case.instance_rows
    if case.instance is None:
        return Check("unknown", "describe-instances does not show the instance", rows)
    sr = case.state_reason
    if sr.kind == "running":
        return Check("pass", f"no failure: the instance is {sr.state}", rows)
    on_purpose = [l for l in analysis.lookalikes.values() if l.id in NOT_LAUNCH and l.status == "confirmed"]
    if sr.kind == "not-a-launch-failure" or (on_purpose and sr.kind != "kms-candidate"):
        what = on_purpose[0] if on_purpose else None
        text = f"{what.title}: {what.why}" if what else f"{sr.effective}: {sr.meaning}"
        return Check("pass", f"not a launch failure: {text}", rows)
    if sr.kind in ("kms-candidate", "cause"):
        return Check("fail", f"the launch failed: the instance is {sr.state} with {sr.effective}", rows)
    return Check("unknown", f"the instance is {sr.state}; without a state reason the kit cannot tell a failed "
                            "launch from a stop", rows)
