"""kit.diagnose: evidence in, findings out.

    from kit.diagnose import diagnose
    findings = diagnose(evidence)            # frames are built when not given
    findings.to_dict()                       # findings.json (contracts.md section 3)

The troubleshooting steps are a catalogue (kit/diagnose/steps.yaml + kit/diagnose/steps/), each a small
pure function over the case's facts; one verdict follows contracts.md section 3; remediation is verified
with kit.policy's evaluator and never applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kit.diagnose.findings import Findings, FindingsGap, Remediation, StepResult, Verdict
from kit.evidence import Evidence

if TYPE_CHECKING:
    from kit.frames import Frames

__all__ = ["Findings", "FindingsGap", "Remediation", "StepResult", "Verdict", "diagnose"]


def diagnose(evidence: Evidence, frames: Frames | None = None) -> Findings:
    """Diagnose one instance from its evidence (and its frames, built here when not given)."""
    from kit.diagnose.run import run

    return run(evidence, frames)
