"""The incident's timeline as a picture: state changes, the start call, KMS errors, one lane each.

`points_from_timeline` turns the findings' timeline frame (one fixed producer, `kit.diagnose.timeline`:
time, kind = state | launch | kms, event_name, event_source, error_code, label, ...) into the points the
picture draws (time, lane, label, error).

The picture is drawn with matplotlib's object API on the Agg backend (no pyplot global state, no display
needed) and returned as PNG bytes, which the report embeds so it works offline and survives conversion.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

# Lane order (top to bottom) and colours; anything else goes to "other".
LANES: tuple[str, ...] = ("state", "launch", "kms", "other")
LANE_TITLES: Mapping[str, str] = {"state": "instance state", "launch": "start / run call",
                                  "kms": "KMS calls", "other": "other calls"}
OK_COLOUR = "#1565c0"
BURST_GAP = pd.Timedelta(hours=2)
_ARN_ACCOUNT = re.compile(r"arn:aws[a-z-]*:(iam|sts)::[0-9X]{12}:")  # labels: user/test reads better
ERROR_COLOUR = "#c62828"


def timeline_png(points: pd.DataFrame, title: str = "", width_inches: float = 10.0) -> bytes:
    """PNG of the timeline; `points` has columns time (UTC), lane, label, error (bool).

    Points far from the incident (evidence collected days later) would squash it into one dot: the picture
    keeps the burst of points around the errors (or the largest burst) and says how many it left out.
    """
    from matplotlib.figure import Figure

    points, left_out = incident_burst(points)
    if left_out:
        title = f"{title}  ({left_out} later or earlier point{'s' if left_out > 1 else ''} in the table only)"

    lanes = [lane for lane in LANES if lane in set(points["lane"])] or ["other"]
    height = 1.4 + 0.9 * len(lanes)
    figure = Figure(figsize=(width_inches, height), dpi=110)
    axes = figure.add_subplot(1, 1, 1)
    if len(points):
        times = pd.to_datetime(points["time"], utc=True).dt.tz_convert(None)
        ypos = [len(lanes) - 1 - lanes.index(lane if lane in lanes else "other") for lane in points["lane"]]
        colours = [ERROR_COLOUR if bool(err) else OK_COLOUR for err in points["error"]]
        markers_x = list(times)
        axes.scatter(markers_x, ypos, c=colours, s=60, zorder=3,  # type: ignore[arg-type]  # dates: matplotlib's units
                     marker="o", edgecolors="white", linewidths=0.8)
        middle = times.min() + (times.max() - times.min()) / 2
        for index, (x, y, label, err) in enumerate(zip(markers_x, ypos, points["label"], points["error"])):
            offset = 10 if index % 2 == 0 else -16
            right_half = x > middle  # labels of late points run leftwards, inside the picture
            axes.annotate(textwrap.shorten(_ARN_ACCOUNT.sub("", str(label)), 60, placeholder="..."), (x, y),
                          xytext=(-4 if right_half else 4, offset), textcoords="offset points", fontsize=7.5,
                          ha="right" if right_half else "left",
                          color=ERROR_COLOUR if bool(err) else "#1d1d1f", parse_math=False)
        span = times.max() - times.min()
        pad = max(span * 0.08, pd.Timedelta(seconds=30))
        axes.set_xlim(times.min() - pad, times.max() + pad)  # type: ignore[arg-type]  # dates: matplotlib's units
    else:
        axes.text(0.5, 0.5, "no events in the window", ha="center", va="center", transform=axes.transAxes)
    axes.set_yticks(range(len(lanes)))
    axes.set_yticklabels([LANE_TITLES[lane] for lane in reversed(lanes)])
    axes.set_ylim(-0.7, len(lanes) - 0.3)
    axes.grid(axis="x", color="#e0e0e0", linewidth=0.6)
    axes.set_xlabel("time (UTC)")
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if title:
        axes.set_title(title, fontsize=10, loc="left", parse_math=False)
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def incident_burst(points: pd.DataFrame, gap: pd.Timedelta = BURST_GAP) -> tuple[pd.DataFrame, int]:
    """The points of the burst (no `gap` between neighbours) holding an error, else the largest burst."""
    if len(points) < 2:
        return points, 0
    ordered = points.sort_values("time", kind="stable").reset_index(drop=True)
    burst_ids = (ordered["time"].diff() > gap).cumsum()
    bursts = list(ordered.groupby(burst_ids, sort=True))
    with_errors = [frame for _, frame in bursts if frame["error"].any()]
    chosen = with_errors[-1] if with_errors else max((frame for _, frame in bursts), key=len)
    return chosen.reset_index(drop=True), len(ordered) - len(chosen)


def points_from_rows(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A points frame from dicts with time, lane, label, error."""
    frame = pd.DataFrame(list(rows), columns=["time", "lane", "label", "error"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["error"] = frame["error"].fillna(False).astype(bool)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def points_from_timeline(timeline: pd.DataFrame | None) -> pd.DataFrame:
    """Points (time, lane, label, error) from the findings' timeline frame, oldest first.

    Its `kind` is the lane (anything else goes to "other"); a row without a time is not drawn.
    """
    if timeline is None or len(timeline) == 0:
        return points_from_rows([])
    dated = timeline[timeline["time"].notna()]
    return points_from_rows([
        {"time": time, "lane": kind if kind in LANES else "other", "label": str(label),
         "error": isinstance(error_code, str) and error_code != ""}
        for time, kind, label, error_code in zip(dated["time"], dated["kind"], dated["label"], dated["error_code"])])
