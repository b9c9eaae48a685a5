"""Step: EC2's CreateGrant for the launcher, evaluated against every policy layer."""

from __future__ import annotations

import pandas as pd

from kit.diagnose.case import Case
from kit.diagnose.findings import StepStatus
from kit.diagnose.steps.check import Analysis, Check


def check(case: Case, analysis: Analysis) -> Check:
    """fail when the evaluator denies, pass when it allows with every layer known, unknown otherwise (an allow
    through a stand-in for a missing layer is recorded as decision "unknown")."""
    if not case.key_arns:
        return Check("skipped" if case.encryption_known else "unknown", "no key to evaluate")
    if not case.authorizations:
        return Check("unknown", "the launching principal is unknown: the request cannot be evaluated")
    rows, parts, statuses = [], [], []
    for key_arn, auth in case.authorizations.items():
        decision = auth.decision
        rows.append({"key_arn": key_arn, "principal_arn": auth.request.principal_arn,
                     "action": auth.request.action, "decision": auth.outcome,  # never "allow" through a stand-in
                     "decided_by": decision.decided_by, "layer": decision.layer, "statement": decision.statement,
                     "unknown_layers": list(auth.unknown_layers), "explanation": list(decision.explanation)})
        if auth.outcome == "unknown":
            parts.append(f"{key_arn}: unknown: the layers the evidence shows allow, but the "
                         f"{', '.join(auth.unknown_layers)} is not in the evidence")
            statuses.append("unknown")
        elif decision.allowed:
            parts.append(f"{key_arn}: allowed")
            statuses.append("pass")
        else:
            why = decision.explanation[-1] if decision.explanation else decision.decided_by
            parts.append(f"{key_arn}: denied by {auth.denied_by} — {why}")
            statuses.append("fail")
    status: StepStatus = "fail" if "fail" in statuses else ("unknown" if "unknown" in statuses else "pass")
    return Check(status, "; ".join(parts), pd.DataFrame(rows))
