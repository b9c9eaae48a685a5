"""The troubleshooting steps: one small pure function per step, metadata in kit/diagnose/steps.yaml.

Each step function takes the case (the evidence's facts) and the analysis (lookalikes and judgement) and
returns a `Check`: status (pass, fail, unknown, skipped), a detail line, and the evidence rows behind it.
`STEP_FUNCTIONS` registers each function under its steps.yaml id (a test checks both sides match).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from kit.diagnose.findings import StepResult
from kit.diagnose.metadata import load_steps
from kit.diagnose.steps import (authorization, cross_check, keys, kms_events, launch_failure, lookalikes,
                                principal, state_reason, volumes)
from kit.diagnose.steps.check import Analysis, Check, StepFunction

if TYPE_CHECKING:
    from kit.diagnose.case import Case

__all__ = ["STEP_FUNCTIONS", "Analysis", "Check", "StepFunction", "run_steps"]

STEP_FUNCTIONS: MappingProxyType[str, StepFunction] = MappingProxyType({
    "state-reason": state_reason.check,
    "launch-failure": launch_failure.check,
    "encrypted-volumes": volumes.check,
    "key-state": keys.check,
    "kms-events": kms_events.check,
    "launching-principal": principal.check,
    "authorization": authorization.check,
    "cross-check": cross_check.check,
    "lookalikes": lookalikes.check,
})


def run_steps(case: Case, analysis: Analysis) -> list[StepResult]:
    """Every step of steps.yaml, in order."""
    results = []
    for meta in load_steps():
        check = STEP_FUNCTIONS[meta["id"]](case, analysis)
        results.append(StepResult(meta["id"], meta["title"], check.status, check.detail, check.rows,
                                  meta.get("seed_step"), " ".join(meta["checks"].split())))
    return results
