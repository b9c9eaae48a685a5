"""What the postmortem notebook's cells call: one `Postmortem` per batch folder, each section one method.

The notebook (kit/notebooks/postmortem.ipynb) holds no logic: it asks this module for frames, HTML blocks
(escaped, kit.postmortem.views) and the plot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import pandas as pd

from kit.errors import BadInput
from kit.postmortem.batch import Batch, read_batch
from kit.postmortem.narrative import Narrative, narrative
from kit.postmortem.plot import FailuresPlot, failures_over_time
from kit.postmortem.views import groups_block, narrative_block
from kit.views.html import text


@dataclass
class Postmortem:
    """A batch folder as the postmortem notebook shows it."""

    batch: Batch

    @classmethod
    def open(cls, batch_dir: str | Path) -> Postmortem:
        """Read `batch_dir` (a folder written by kit batch); BadInput naming batch_dir otherwise."""
        if not str(batch_dir or "").strip():
            raise BadInput("batch_dir", "the folder kit batch wrote (papermill -p batch_dir DIR)", "")
        return cls(read_batch(batch_dir))

    @property
    def incidents(self) -> pd.DataFrame:
        """Every incident, one row each."""
        return self.batch.incidents_frame()

    @property
    def changes(self) -> pd.DataFrame:
        """Every change named by an incident, one row each."""
        return self.batch.changes_frame()

    @property
    def groups(self) -> pd.DataFrame:
        """The group table."""
        return self.batch.groups_frame()

    @property
    def events(self) -> pd.DataFrame:
        """The postmortem's timeline: changes and each incident's events, oldest first."""
        return self.batch.events_frame()

    def narrative(self) -> Narrative:
        """Impact, trigger, detection, fix."""
        return narrative(self.batch)

    def header_html(self) -> str:
        """Title line: the folder, the counts, files that were skipped."""
        counts = self.batch.summary.get("counts") or {}
        line = (f"{counts.get('incidents', len(self.batch.entries))} incidents "
                f"({counts.get('ok', 0)} investigations done, {counts.get('failed', 0)} failed) in "
                f"{len(self.batch.groups)} group(s); batch folder {self.batch.folder}")
        problems = "".join(f"<li>{text(p)}</li>" for p in self.batch.problems)
        return (f'<p class="kit-muted">{text(line)}</p>'
                + (f"<p>Files reported and skipped:</p><ul>{problems}</ul>" if problems else ""))

    def narrative_html(self) -> str:
        """The narrative as HTML (escaped)."""
        return narrative_block(self.narrative().sections())

    def groups_html(self) -> str:
        """One block per group (escaped)."""
        return groups_block(self.batch.groups)

    def plot(self) -> FailuresPlot:
        """Failures over time per account (shown as a PNG; `.figure` is the matplotlib Figure)."""
        return FailuresPlot(failures_over_time(self.incidents, self.changes))
