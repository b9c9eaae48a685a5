"""What a step function returns, what it is given beside the case, and the step function's type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import pandas as pd

from kit.diagnose.findings import StepStatus

if TYPE_CHECKING:
    from kit.diagnose.case import Case
    from kit.diagnose.lookalikes import Lookalike
    from kit.diagnose.verdict import Judgement


@dataclass(frozen=True)
class Check:
    """One step's answer: status, a detail line, and the evidence rows behind it."""

    status: StepStatus
    detail: str
    rows: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False)


@dataclass(frozen=True)
class Analysis:
    """What the steps present: the lookalikes' judgements and the verdict's reasoning."""

    lookalikes: dict[str, Lookalike]
    judgement: Judgement


StepFunction = Callable[["Case", Analysis], Check]
