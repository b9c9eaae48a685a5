"""The troubleshooting steps: one small pure function per step, metadata in kit/diagnose/steps.yaml.

Each step function takes the case (the evidence's facts) and the analysis (lookalikes and judgement) and
returns a `Check`: status (pass, fail, unknown, skipped), a detail line, and the evidence rows behind it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from kit.diagnose.findings import StepResult
from kit.diagnose.metadata import load_steps


@dataclass(frozen=True)
class Check:
    status: str
    detail: str
    rows: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False)


@dataclass(frozen=True)
class Analysis:
    """What the steps present: the lookalikes' judgements and the verdict's reasoning."""

    lookalikes: dict[str, Any]
    judgement: Any


def run_steps(case: Any, analysis: Analysis) -> list[StepResult]:
    """Every step of steps.yaml, in order."""
    results = []
    for meta in load_steps():
        check = step_function(meta["function"])(case, analysis)
        results.append(StepResult(meta["id"], meta["title"], check.status, check.detail, check.rows,
                                  meta.get("seed_step"), " ".join(meta["checks"].split())))
    return results


def step_function(ref: str) -> Callable[[Any, Analysis], Check]:
    """`module:function` of kit.diagnose.steps."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(f"kit.diagnose.steps.{module}"), name)
