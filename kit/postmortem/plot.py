"""Failures over time per account: the postmortem's picture (matplotlib, headless-safe)."""

from __future__ import annotations

from typing import Any

import pandas as pd


class FailuresPlot:
    """The figure, shown by Jupyter (and kept by nbconvert) as a PNG."""

    def __init__(self, figure: Any) -> None:
        self.figure = figure

    def _repr_png_(self) -> bytes:
        import io

        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return buffer.getvalue()


def failures_over_time(incidents: pd.DataFrame, changes: pd.DataFrame | None = None) -> Any:
    """A matplotlib Figure: cumulative failed launches per account over time (one step line per account), a
    dashed line at each change's time. Incidents without an incident_time are not drawn."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 3.6), dpi=96, layout="constrained")
    axes = figure.add_subplot()
    timed = incidents.dropna(subset=["incident_time"]).sort_values("incident_time")
    if not len(timed):
        axes.text(0.5, 0.5, "no failure time in the evidence", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return figure
    for account, rows in timed.groupby(timed["account_id"].fillna("unknown account").astype(str), sort=True):
        times = rows["incident_time"].dt.tz_convert("UTC").dt.tz_localize(None)
        axes.step(times, range(1, len(rows) + 1), where="post", marker="o", label=_label(f"account {account}"))
    for row in (changes if changes is not None else pd.DataFrame()).itertuples(index=False):
        time = getattr(row, "event_time", None)
        if time is None or pd.isna(time):
            continue
        at = pd.Timestamp(time).tz_convert("UTC").tz_localize(None).to_pydatetime()
        axes.axvline(at, color="#b71c1c", linestyle="--", linewidth=1)  # type: ignore[arg-type]  # dates convert
        axes.annotate(_label(f"change: {row.event_name}"), (at, 0),
                      xycoords=("data", "axes fraction"), xytext=(4, 6), textcoords="offset points",
                      color="#b71c1c", fontsize=8)
    axes.set_ylabel("failed launches (cumulative)")
    axes.set_xlabel("time (UTC)")
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(alpha=0.3)
    return figure


def _label(value: str) -> str:
    """Text for matplotlib: a `$` would start mathtext (AWS values are not TeX)."""
    return value.replace("$", r"\$")
