""""Dig deeper": the evidence frames (`investigation.frames`) are pandas DataFrames; these examples show how to
query them, and the notebook runs each one on the investigation in view so the analyst sees its answer.

Each example is a pandas expression over `frames` (kit.frames.Frames; columns in kit/frames/schemas.json),
copied into a cell as written. Results are shown as escaped tables that wrap (no sideways scrolling).
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from kit.views import html as blocks

EXAMPLES: tuple[tuple[str, str], ...] = (
    ("Every CloudTrail call that was refused, in order",
     'frames.events[frames.events["error_code"].notna()][["event_time", "event_name", "error_code", "principal_arn"]]'),
    ("Which calls were made, how often",
     'frames.events.groupby(["event_source", "event_name"]).size().rename("calls").reset_index()'),
    ("KMS calls only, with pandas' query",
     'frames.events.query("event_source == \'kms.amazonaws.com\'")[["event_time", "event_name", "error_code"]]'),
    ("The instance's volumes and their keys",
     'frames.volumes[["volume_id", "device", "encrypted", "key_arn"]]'),
    ("Each key's state, joined with the volumes that use it",
     'frames.volumes.merge(frames.keys, on="key_arn", how="left")[["volume_id", "key_manager", "key_state"]]'),
    ("Key policy statements that allow something",
     'frames.key_policy_statements[frames.key_policy_statements["effect"] == "Allow"][["sid", "principals", "actions"]]'),
)
ROWS_SHOWN = 15


def run_example(expression: str, frames: Any) -> pd.DataFrame:
    """The result of one example on `frames`, as a DataFrame (a Series becomes one)."""
    result = eval(expression, {"__builtins__": {}}, {"frames": frames, "pd": pd})  # noqa: S307 - our own literals
    return result.to_frame() if isinstance(result, pd.Series) else result


def render(frames: Any, view: Any) -> str:
    """Every example: what it asks, the code, and its answer on this investigation (redacted when asked)."""
    parts = ['<div class="kit-report kit-live"><p><code>investigation.frames</code> holds the evidence as pandas '
             "DataFrames: <code>" + ", ".join(html.escape(n) for n in frames.frame_names()) + "</code>. Copy an "
             "example into a new cell and change it.</p>"]
    for question, expression in EXAMPLES:
        answer = view(run_example(expression, frames))
        parts.append(f"<p><b>{html.escape(question)}</b></p><pre class=\"kit-pre\">frames = investigation.frames\n"
                     f"{html.escape(expression)}</pre>"
                     + blocks.frame_table(answer, caption=f"{len(answer)} rows", max_rows=ROWS_SHOWN))
    return "".join(parts) + "</div>"
