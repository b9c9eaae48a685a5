"""Step: EC2's CreateGrant for the launcher, evaluated against every policy layer."""

from __future__ import annotations

import pandas as pd

from kit.diagnose.case import Case
from kit.diagnose.findings import StepStatus
from kit.diagnose.steps.check import Analysis, Check


def check(case: Case, analysis: Analysis) -> Check:
    """fail when the evaluator denies, pass when it allows with every layer known, unknown otherwise."""
    if not case.key_arns:
        return Check("skipped" if case.encryption_known else "unknown", "no key to evaluate")
    if not case.authorizations:
        return Check("unknown", "the launching principal is unknown: the request cannot be evaluated")
    rows, parts, statuses = [], [], []
    for key_arn, auth in case.authorizations.items():
        decision = auth.decision
        rows.append({"key_arn": key_arn, "principal_arn": auth.request.principal_arn,
                     "action": auth.request.action, "decision": decision.decision,
                     "decided_by": decision.decided_by, "layer": decision.layer, "statement": decision.statement,
                     "unknown_layers": list(auth.unknown_layers), "explanation": list(decision.explanation)})
        if decision.allowed:
            assumed = f" (assuming the unknown {', '.join(auth.unknown_layers)} allows)" if auth.unknown_layers else ""
            parts.append(f"{key_arn}: allowed{assumed}")
            statuses.append("unknown" if auth.unknown_layers else "pass")
        else:
            why = decision.explanation[-1] if decision.explanation else decision.decided_by
            parts.append(f"{key_arn}: denied by {auth.denied_by} — {why}")
            statuses.append("fail")
    status: StepStatus = "fail" if "fail" in statuses else ("unknown" if "unknown" in statuses else "pass")
    return Check(status, "; ".join(parts), pd.DataFrame(rows))
