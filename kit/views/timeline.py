"""The incident's timeline as a picture: the change that caused it, state changes, the start call, KMS errors,
one lane each.

`points_from_timeline` turns the findings' timeline frame (one fixed producer, `kit.diagnose.timeline`:
time, kind = state | launch | kms, event_name, event_source, error_code, label, ...) into the points the
picture draws (time, lane, label, error).

`timeline_svg` draws it as inline SVG, written directly (no plotting library: the cheapest cell of the report),
zoomed to the seconds around the launch: the axis is broken where nothing happens for a while, and each break is
labelled with the time it leaves out. The named change (kit.diagnose.change.mark_change, kind `change`), days
before the failure as a rule, has its own lane and a diamond marker, and is always drawn (the broken axis says how
long before). Points are numbered; the list under the picture says what each one is, with its UTC time. Everything from AWS in it is escaped. `timeline_png` (matplotlib, Agg) is the older picture, kept
for the notebook until it moves to the SVG.
"""

from __future__ import annotations

import html
import io
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

# Lane order (top to bottom) and colours; anything else goes to "other".
LANES: tuple[str, ...] = ("change", "state", "launch", "kms", "other")
LANE_TITLES: Mapping[str, str] = {"change": "what changed", "state": "instance state", "launch": "start / run call",
                                  "kms": "KMS calls", "other": "other calls"}
CHANGE_LANE = "change"
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
    """The points of the burst (no `gap` between neighbours) holding an error, else the largest burst; the
    change lane's points are kept wherever they are (the change is why the burst happened)."""
    changes = points[points["lane"] == CHANGE_LANE]
    rest = points[points["lane"] != CHANGE_LANE]
    if len(rest) < 2:
        return points, 0
    ordered = rest.sort_values("time", kind="stable").reset_index(drop=True)
    burst_ids = (ordered["time"].diff() > gap).cumsum()
    bursts = list(ordered.groupby(burst_ids, sort=True))
    with_errors = [frame for _, frame in bursts if frame["error"].any()]
    chosen = with_errors[-1] if with_errors else max((frame for _, frame in bursts), key=len)
    kept = pd.concat([changes, chosen]) if len(changes) else chosen
    return kept.sort_values("time", kind="stable").reset_index(drop=True), len(ordered) - len(chosen)


def points_from_rows(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A points frame from dicts with time, lane, label, error and (optional) approximate."""
    frame = pd.DataFrame(list(rows), columns=["time", "lane", "label", "error", "approximate"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["error"] = frame["error"].fillna(False).astype(bool)
    frame["approximate"] = [value is True for value in frame["approximate"]]
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def points_from_timeline(timeline: pd.DataFrame | None) -> pd.DataFrame:
    """Points (time, lane, label, error) from the findings' timeline frame, oldest first.

    Its `kind` is the lane (anything else goes to "other"); a row without a time is not drawn.
    """
    if timeline is None or len(timeline) == 0:
        return points_from_rows([])
    dated = timeline[timeline["time"].notna()]
    approximate = dated["approximate"] if "approximate" in dated.columns else [False] * len(dated)
    return points_from_rows([
        {"time": time, "lane": kind if kind in LANES else "other", "label": str(label),
         "error": isinstance(error_code, str) and error_code != "", "approximate": bool(pd.notna(approx) and approx)}
        for time, kind, label, error_code, approx in zip(dated["time"], dated["kind"], dated["label"],
                                                         dated["error_code"], approximate)])


SEGMENT_GAP = pd.Timedelta(seconds=60)  # a quieter stretch than this breaks the axis
_WIDTH, _LEFT, _RIGHT, _LANE_HEIGHT, _TOP, _BREAK = 960, 130, 24, 34, 14, 46


def timeline_svg(points: pd.DataFrame, title: str = "") -> str:
    """The timeline as an HTML figure: inline SVG (lanes, numbered points, a broken time axis) and the numbered
    list of what happened when. `points`: time (UTC), lane, label, error, and optionally approximate."""
    points, left_out = incident_burst(points)
    if len(points) == 0:
        return '<div class="kit-report kit-timeline"><p class="kit-muted">No dated events to draw.</p></div>'
    points = points.sort_values("time", kind="stable").reset_index(drop=True)
    times = pd.to_datetime(points["time"], utc=True)
    approximate = points["approximate"] if "approximate" in points.columns else pd.Series(False, index=points.index)
    lanes = [lane for lane in LANES if lane in set(points["lane"])]
    segments = _segments(list(times))
    usable = _WIDTH - _LEFT - _RIGHT - _BREAK * (len(segments) - 1)
    weights = [max((end - start).total_seconds(), 4.0) for start, end in segments]
    widths = [max(usable * w / sum(weights), 90.0) for w in weights]
    scale = usable / sum(widths)
    widths = [w * scale for w in widths]
    height = _TOP + _LANE_HEIGHT * len(lanes) + 40
    parts = [f'<svg class="kit-timeline-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" '
             f'width="100%" role="img" aria-label="{_esc(title or "Timeline of the incident")}">']
    for index, lane in enumerate(lanes):
        y = _TOP + _LANE_HEIGHT * index + _LANE_HEIGHT / 2
        parts.append(f'<text x="{_LEFT - 10}" y="{y + 4:.1f}" text-anchor="end" class="kit-tl-lane">'
                     f"{_esc(LANE_TITLES[lane])}</text>"
                     f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="kit-tl-guide"/>')
    axis_y = _TOP + _LANE_HEIGHT * len(lanes) + 6
    x0 = float(_LEFT)
    placed: dict[tuple[str, int], int] = {}
    lists = []
    for number, (time, lane, label, error, approx) in enumerate(
            zip(times, points["lane"], points["label"], points["error"], approximate), 1):
        seg = next(i for i, (start, end) in enumerate(segments) if start <= time <= end)
        x = _x_of(time, seg, segments, widths)
        lane_index = lanes.index(lane) if lane in lanes else len(lanes) - 1
        slot = (lane, round(x))
        x += 15 * placed.get(slot, 0)  # same second, same lane: side by side
        placed[slot] = placed.get(slot, 0) + 1
        y = _TOP + _LANE_HEIGHT * lane_index + _LANE_HEIGHT / 2
        kind = "kit-tl-change" if lane == CHANGE_LANE else ("kit-tl-error" if bool(error) else "kit-tl-ok")
        dashed = " kit-tl-approx" if bool(approx) else ""
        marker = (f'<path d="M{x:.1f},{y - 12:.1f} L{x + 12:.1f},{y:.1f} L{x:.1f},{y + 12:.1f} L{x - 12:.1f},{y:.1f} Z"/>'
                  if lane == CHANGE_LANE else f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9"/>')
        parts.append(f'<g class="{kind}{dashed}"><title>{_esc(_clock(time))} {_esc(label)}</title>{marker}'
                     f'<text x="{x:.1f}" y="{y + 3.5:.1f}" text-anchor="middle">{number}</text></g>')
        when = ("about " if bool(approx) else "") + (time.strftime("%Y-%m-%d ") if lane == CHANGE_LANE else "") \
            + _clock(time)
        lists.append(f'<li class="{kind}"><span class="kit-tl-num">{number}</span> <code>{_esc(when)}</code> '
                     f"{_esc(_ARN_ACCOUNT.sub('', str(label)))}</li>")
    for index, (start, end) in enumerate(segments):
        width = widths[index]
        parts.append(f'<line x1="{x0:.1f}" x2="{x0 + width:.1f}" y1="{axis_y}" y2="{axis_y}" class="kit-tl-axis"/>')
        for tick in _ticks(start, end):
            tx = _x_of(tick, index, segments, widths)
            parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{axis_y}" y2="{axis_y + 4}" class="kit-tl-axis"/>'
                         f'<text x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle" class="kit-tl-tick">'
                         f"{_esc(tick.strftime('%H:%M:%S'))}</text>")
        x0 += width
        if index + 1 < len(segments):
            gap = segments[index + 1][0] - end
            parts.append(f'<text x="{x0 + _BREAK / 2:.1f}" y="{axis_y + 4}" text-anchor="middle" '
                         f'class="kit-tl-break">//</text><text x="{x0 + _BREAK / 2:.1f}" y="{axis_y + 28}" '
                         f'text-anchor="middle" class="kit-tl-tick">+{_esc(_duration(gap))}</text>')
            x0 += _BREAK
    parts.append("</svg>")
    day = times.iloc[0].strftime("%Y-%m-%d")
    note = (f'<p class="kit-muted">{left_out} point{"s" if left_out > 1 else ""} far from the incident '
            "(earlier or later) left out of the picture.</p>" if left_out else "")
    caption = f"{_esc(title)}: " if title else ""
    return (f'<div class="kit-report kit-timeline"><p class="kit-tl-caption">{caption}{_esc(day)}, UTC; '
            "the axis is broken where nothing happened (the gap is written under it)</p>"
            + "".join(parts) + f'<ol class="kit-tl-list">{"".join(lists)}</ol>{note}</div>')


def _segments(times: list[pd.Timestamp]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Runs of points with no quiet stretch longer than SEGMENT_GAP between neighbours."""
    out = [(times[0], times[0])]
    for time in times[1:]:
        start, end = out[-1]
        if time - end > SEGMENT_GAP:
            out.append((time, time))
        else:
            out[-1] = (start, time)
    return out


def _x_of(time: pd.Timestamp, segment: int, segments: list[tuple[pd.Timestamp, pd.Timestamp]],
          widths: list[float]) -> float:
    start, end = segments[segment]
    x0 = _LEFT + sum(widths[:segment]) + _BREAK * segment
    span = (end - start).total_seconds()
    pad = 16.0
    if span <= 0:
        return x0 + widths[segment] / 2
    return x0 + pad + (widths[segment] - 2 * pad) * (time - start).total_seconds() / span


def _ticks(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    """Ticks at whole seconds (or coarser) inside a segment, at most six."""
    span = (end - start).total_seconds()
    if span <= 0:
        return [start]
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 300, 600, 1800, 3600, 7200) if span / s <= 5)
    first = start.ceil(f"{step}s")
    ticks = []
    tick = first
    while tick <= end:
        ticks.append(tick)
        tick += pd.Timedelta(seconds=step)
    return ticks or [start]


def _clock(time: pd.Timestamp) -> str:
    return time.strftime("%H:%M:%S") + (f".{time.microsecond // 1000:03d}" if time.microsecond else "")


def _duration(gap: pd.Timedelta) -> str:
    seconds = int(gap.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)
