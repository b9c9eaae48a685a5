"""index.html: the batch as a postmortem. One block per group of incidents (the change that caused them, who
made it and when, the blast radius, first and last failure, the one fix), then the table of incidents:
sortable by clicking a column header, filtered by text or group, offline.

Every value in it came from AWS or from a parameter file, so all of it is escaped; the only markup and
script are the kit's own (kit/batch/index_page.html).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote

from kit.postmortem.groups import group_incidents
from kit.postmortem.names import short_name
from kit.postmortem.views import GROUP_CSS, group_block
from kit.report.files import write_text_atomically
from kit.views.html import text

# (summary field, column title)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("incident_time", "Incident time"), ("instance_id", "Instance"), ("instance_name", "Name"),
    ("account_id", "Account"), ("region", "Region"), ("status", "Investigation"), ("title", "Verdict"),
    ("cause", "Cause"), ("denied_by", "Denied by"), ("principal_arn", "Principal"), ("key_arn", "Key"),
    ("fix_owner", "Fix owner"), ("fix_verified", "Fix verified"), ("confidence", "Confidence"),
    ("group", "Group"), ("report", "Report"),
)
STATUS_WORDS = {"ok": "Investigation done", "failed": "Investigation failed",
                "interrupted": "Investigation interrupted"}
_ARNS = ("principal_arn", "key_arn")


def render_index(summary: Mapping[str, Any], *, title: str = "Postmortem: failed launches") -> str:
    """The index page for a summary.json dict (groups recomputed from the entries when it has none)."""
    entries: Sequence[Mapping[str, Any]] = summary.get("incidents", [])
    groups: Sequence[Mapping[str, Any]] = summary.get("groups") or group_incidents(entries)
    group_of = {name: str(g.get("id")) for g in groups for name in g.get("incidents") or []}
    header = "".join(f'<th scope="col" data-field="{text(field)}">{text(name)}</th>' for field, name in COLUMNS)
    rows = "\n".join(_row(entry, group_of.get(str(entry.get("name")), "")) for entry in entries)
    counts = summary.get("counts") or {}
    line = (f"{counts.get('incidents', len(entries))} incidents: {counts.get('ok', 0)} investigations done, "
            f"{counts.get('failed', 0)} failed"
            + (f", {counts['interrupted']} interrupted (the batch was stopped)" if counts.get("interrupted") else "")
            + f"; {len(groups)} group{'s' if len(groups) != 1 else ''} (by the change that caused them, then by cause)."
            + " Click a column header to sort; type to filter.")
    options = "".join(f'<option value="{text(g.get("id"))}">{text(g.get("id"))}: {text(g.get("title"))} '
                      f'({text(g.get("count"))})</option>' for g in groups)
    blocks = "\n".join(group_block(group, number) for number, group in enumerate(groups, 1))
    return _template().substitute(title=text(title), counts=text(line), header=header, rows=rows, groups=blocks,
                                  group_options=options, group_style=GROUP_CSS)


def write_index(summary: Mapping[str, Any], batch_dir: Path, **options: Any) -> Path:
    """Write `index.html` into the batch folder (atomically)."""
    return write_text_atomically(batch_dir / "index.html", render_index(summary, **options))


def _row(entry: Mapping[str, Any], group: str) -> str:
    status = str(entry.get("status") or "failed")
    given = entry.get("fix")
    fix: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    cells = []
    for field, _ in COLUMNS:
        if field == "report":
            cells.append(f"<td>{_link(entry)}</td>")
        elif field == "status":
            title = f' title="{text(entry.get("error"))}"' if entry.get("error") else ""
            word = STATUS_WORDS.get(status, status)
            cells.append(f'<td data-sort="{text(status)}"><span class="kit-status kit-status-{text(status)}"{title}>'
                         f"{text(word)}</span></td>")
        elif field == "cause" and status != "ok" and not entry.get("cause"):
            cells.append(f"<td>{text(_first_line(entry.get('error')) or 'failed')}</td>")
        elif field in _ARNS:
            value = entry.get(field)
            cells.append(f'<td title="{text(value)}">{text(short_name(value))}</td>' if value else "<td></td>")
        elif field == "fix_owner":
            cells.append(f"<td>{text(fix.get('owner'))}</td>")
        elif field == "fix_verified":
            verified = "" if not fix else ("yes" if fix.get("verified") else "no")
            cells.append(f"<td>{verified}</td>")
        elif field == "group":
            cells.append(f"<td>{text(group)}</td>")
        else:
            cells.append(f"<td>{text(entry.get(field))}</td>")
    cells = [cell.replace("<td", f'<td class="kit-col-{field}"', 1) for cell, (field, _) in zip(cells, COLUMNS)]
    return (f'<tr class="kit-{text(status)}" data-name="{text(entry.get("name"))}" data-group="{text(group)}">'
            f'{"".join(cells)}</tr>')


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
