"""index.html: the postmortem's table of incidents, sortable by clicking a column header, offline.

Every value in it came from AWS or from a parameter file, so all of it is escaped; the only markup and
script are the kit's own (kit/batch/index_page.html).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote

from kit.report.files import write_text_atomically
from kit.views.html import text

# (summary field, column title)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("instance_id", "Instance"), ("account_id", "Account"), ("region", "Region"), ("status", "Status"),
    ("cause", "Cause"), ("denied_by", "Denied by"), ("principal_arn", "Principal"), ("key_arn", "Key"),
    ("confidence", "Confidence"), ("report", "Report"),
)


def render_index(summary: Mapping[str, Any], *, title: str = "Postmortem: failed launches") -> str:
    """The index page for a summary.json dict."""
    entries: Sequence[Mapping[str, Any]] = summary.get("incidents", [])
    header = "".join(f'<th scope="col" data-field="{text(field)}">{text(name)}</th>' for field, name in COLUMNS)
    rows = "\n".join(_row(entry) for entry in entries)
    counts = summary.get("counts") or {}
    by_cause = Counter(str(e.get("cause")) for e in entries if e.get("status") == "ok" and e.get("cause"))
    causes = ", ".join(f"{cause} {number}" for cause, number in by_cause.most_common())
    line = (f"{counts.get('incidents', len(entries))} incidents: {counts.get('ok', 0)} investigated, "
            f"{counts.get('failed', 0)} failed"
            + (f", {counts['interrupted']} interrupted (the batch was stopped)" if counts.get("interrupted") else "")
            + "." + (f" Causes: {causes}." if causes else "")
            + " Click a column header to sort.")
    return _template().substitute(title=text(title), counts=text(line), header=header, rows=rows)


def write_index(summary: Mapping[str, Any], batch_dir: Path, **options: Any) -> Path:
    """Write `index.html` into the batch folder (atomically)."""
    return write_text_atomically(batch_dir / "index.html", render_index(summary, **options))


def _row(entry: Mapping[str, Any]) -> str:
    status = str(entry.get("status") or "failed")
    cells = []
    for field, _ in COLUMNS:
        if field == "report":
            cells.append(f"<td>{_link(entry)}</td>")
        elif field == "status":
            title = f' title="{text(entry.get("error"))}"' if entry.get("error") else ""
            cells.append(f'<td><span class="kit-status kit-status-{text(status)}"{title}>{text(status)}</span></td>')
        elif field == "cause" and status != "ok" and not entry.get("cause"):
            cells.append(f"<td>{text(_first_line(entry.get('error')) or 'failed')}</td>")
        else:
            cells.append(f"<td>{text(entry.get(field))}</td>")
    return f'<tr class="kit-{text(status)}" data-name="{text(entry.get("name"))}">{"".join(cells)}</tr>'


def _link(entry: Mapping[str, Any]) -> str:
    report = entry.get("report")
    if not report:
        return ""
    href = "/".join(quote(part) for part in str(report).split("/"))
    label = "failure report" if entry.get("status") == "failed" else "report"
    return f'<a href="{text(href)}">{text(label)}</a>'


def _first_line(value: Any) -> str:
    return str(value or "").strip().splitlines()[0] if str(value or "").strip() else ""


def _template() -> Template:
    return Template(resources.files("kit.batch").joinpath("index_page.html").read_text(encoding="utf-8"))
