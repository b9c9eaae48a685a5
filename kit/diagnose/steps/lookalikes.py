"""Step: the lookalikes, each ruled out or confirmed."""

from __future__ import annotations

import pandas as pd

from kit.diagnose.case import Case
from kit.diagnose.steps.check import Analysis, Check


def check(case: Case, analysis: Analysis) -> Check:
    """fail when a lookalike is confirmed, pass when all are ruled out, unknown when some cannot be checked."""
    items = list(analysis.lookalikes.values())
    rows = pd.DataFrame([{"lookalike": l.id, "title": l.title, "status": l.status, "why": l.why} for l in items])
    confirmed = [l for l in items if l.status == "confirmed"]
    if confirmed:
        return Check("fail", "confirmed: " + "; ".join(f"{l.title} ({l.why})" for l in confirmed), rows)
    open_ = [l for l in items if l.status in ("unknown", "possible")]
    ruled = [l.id for l in items if l.status == "ruled-out"]
    detail = f"ruled out: {', '.join(ruled) or 'none'}"
    if open_:
        detail += "; not excluded: " + ", ".join(f"{l.id} ({l.status}: {l.why})" for l in open_)
        return Check("unknown", detail, rows)
    return Check("pass", detail, rows)
