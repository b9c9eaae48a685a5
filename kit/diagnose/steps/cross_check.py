"""Step: CloudTrail's refusing layer against the evaluator's."""

from __future__ import annotations

import pandas as pd

from kit.diagnose.case import Case
from kit.diagnose.steps.check import Analysis, Check


def check(case: Case, analysis: Analysis) -> Check:
    """pass when both sides agree, fail when they disagree, skipped when there is nothing to compare."""
    cross = analysis.judgement.cross_check
    if cross is None:
        return Check("skipped", "neither a CloudTrail denial nor an evaluation to compare")
    rows = pd.DataFrame([{"cloudtrail": cross.cloudtrail, "evaluator": cross.evaluator, "agree": cross.agree}])
    if cross.agree is None:
        return Check("unknown", cross.detail, rows)
    return Check("pass" if cross.agree else "fail", cross.detail + ("" if cross.agree else "; confidence lowered"),
                 rows)
