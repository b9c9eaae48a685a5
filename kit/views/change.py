"""The report's "What changed" section (contracts.md section 3a): the change that turned the launch from working
to failing, who made it and when, a readable diff of the policy before and after (statements added and removed,
the one that mattered highlighted), the last launch that worked, the time from the change to the failure, and
the other recorded changes that were not it. Every value from AWS goes through `text()` (escaped)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from kit.views.html import text

if TYPE_CHECKING:
    from kit.diagnose.findings import Findings


def change_section_of(findings: Findings, verdict: Mapping[str, Any] | None = None, *, redact: bool = False) -> str:
    """`change_section` for one diagnosis; `verdict` is the (possibly redacted) findings.json verdict to show,
    `redact` redacts the report-only facts the same way (kit.redact)."""
    extra: dict[str, Any] = {"others": list(findings.other_changes), "mattered": findings.change_mattered}
    if redact:
        from kit.redact import redact_value

        extra = redact_value(extra)
    return change_section(verdict if verdict is not None else findings.verdict.to_dict(), extra["others"],
                          extra["mattered"], findings.failure_time)


def change_section(verdict: Mapping[str, Any], other_changes: Sequence[Mapping[str, Any]] = (),
                   mattered: Mapping[str, Any] | None = None, failure_time: str | None = None) -> str:
    """The "What changed" block for a findings verdict (findings.json `verdict`) and the report-only facts
    `Findings.other_changes`, `Findings.change_mattered` and `Findings.failure_time`."""
    change = verdict.get("change")
    parts = ['<div class="kit-report kit-change"><h3>What changed</h3>']
    if isinstance(change, Mapping):
        parts.append(_change(change, mattered, failure_time))
    else:
        parts.append('<p class="kit-muted">No recorded change turned this launch from working to failing: the '
                     "evidence holds none whose effect the evaluator can show (a first launch, a change outside "
                     "the look-back, or one whose earlier state is not in the evidence).</p>")
    parts.append(_last_success(verdict.get("last_success"), failure_time))
    parts.append(_others(other_changes))
    parts.append("</div>")
    return "".join(parts)


def _change(change: Mapping[str, Any], mattered: Mapping[str, Any] | None, failure_time: str | None) -> str:
    rows = [("Change", change.get("event_name")), ("Layer", change.get("layer")),
            ("Who", change.get("principal_arn") or "unknown"), ("When", change.get("event_time")),
            ("Event id", change.get("event_id"))]
    gap = _between(change.get("event_time"), failure_time)
    if gap:
        rows.append(("Change to failure", gap))
    items = "".join(f"<dt>{text(k)}</dt><dd>{text(v)}</dd>" for k, v in rows if v)
    return (f"<p>{text(change.get('summary'))}</p><dl class=\"kit-change-facts\">{items}</dl>"
            + diff_block(change.get("before"), change.get("after"), mattered))


def diff_block(before: Any, after: Any, mattered: Mapping[str, Any] | None = None) -> str:
    """Before and after: for policy documents the statements removed and added (the one that mattered marked),
    for anything else the two values. An SCP chain (levels, root first, each a list of SCP documents) is diffed as
    its statements, each marked with its level (`SCPLevel`)."""
    before, after = _chain_as_policy(before), _chain_as_policy(after)
    if _is_policy(before) or _is_policy(after):
        old, new = _statements(before), _statements(after)
        removed = [s for s in old if s not in new]
        added = [s for s in new if s not in old]
        kept = len([s for s in new if s in old])
        rows = [_statement_row("removed", s, old.index(s), _matters(mattered, "before", s, old.index(s)))
                for s in removed]
        rows += [_statement_row("added", s, new.index(s), _matters(mattered, "after", s, new.index(s)))
                 for s in added]
        note = "" if before is not None else '<p class="kit-muted">The document before the change is not in the evidence.</p>'
        return (f'<table class="kit-table kit-change-diff"><thead><tr><th></th><th>Statement</th></tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table>"
                f'<p class="kit-muted">{kept} statement(s) unchanged.</p>{note}')
    shown_before = "not in the evidence" if before is None else before
    return (f'<p class="kit-change-values">Before: <code>{text(shown_before)}</code> &rarr; after: '
            f"<code>{text(after)}</code></p>")


def _statement_row(kind: str, statement: Any, index: int, matters: bool) -> str:
    sign = "&minus;" if kind == "removed" else "+"
    css = f"kit-change-{kind}" + (" kit-change-mattered" if matters else "")
    label = " (this statement decided the failing request)" if matters else ""
    body = json.dumps(statement, indent=2, sort_keys=True, default=str)
    return (f'<tr class="{css}"><td>{sign} {text(kind)}{"<mark>" + text(label) + "</mark>" if label else ""}</td>'
            f"<td><pre>{text(body)}</pre></td></tr>")


def _matters(mattered: Mapping[str, Any] | None, side: str, statement: Any, index: int) -> bool:
    if not mattered or mattered.get("side") != side:
        return False
    for label in mattered.get("statements") or []:
        sid = label.get("sid")
        if sid and isinstance(statement, Mapping) and statement.get("Sid") == sid:
            return True
        if not sid and label.get("index") == index:
            return True
    return False


def _last_success(last: Any, failure_time: str | None) -> str:
    if not isinstance(last, Mapping):
        return '<p class="kit-muted">Last success: none in the evidence.</p>'
    what = f"{last.get('event_name') or 'launch'} of {last.get('instance_id') or 'an instance'}"
    gap = _between(last.get("event_time"), failure_time)
    before = f" ({gap} before the failure)" if gap else ""
    return f"<p>Last success: {text(what)} at {text(last.get('event_time'))}{text(before)}.</p>"


def _others(others: Sequence[Mapping[str, Any]]) -> str:
    if not others:
        return ""
    rows = "".join(f"<tr><td>{text(o.get('event_time'))}</td><td>{text(o.get('event_name'))}</td>"
                   f"<td>{text(o.get('principal_arn'))}</td><td>{text(o.get('layer'))}</td>"
                   f"<td>{text(o.get('why_not'))}</td></tr>" for o in others)
    return ('<table class="kit-table kit-change-others"><caption>Other recorded changes (not the cause)</caption>'
            "<thead><tr><th>When</th><th>Event</th><th>Who</th><th>Layer</th><th>Why not</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _between(start: Any, end: Any) -> str:
    """'2 days 3 hours' from start to end (ISO 8601), '' when either is unknown or the order is wrong."""
    try:
        delta = pd.Timestamp(end) - pd.Timestamp(start)
    except (TypeError, ValueError):
        return ""
    if pd.isna(delta) or delta < pd.Timedelta(0):
        return ""
    days, seconds = delta.days, delta.seconds
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    hours, minutes = seconds // 3600, seconds % 3600 // 60
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if not days and minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts) or "under a minute"


def _chain_as_policy(value: Any) -> Any:
    """An SCP chain as one document of every statement, each with its level; anything else as it is."""
    if not (isinstance(value, list) and value and all(isinstance(level, list) for level in value)):
        return value
    return {"Statement": [dict(statement, SCPLevel=index) if isinstance(statement, Mapping) else statement
                          for index, level in enumerate(value) for document in level
                          for statement in _statements(document)]}


def _is_policy(value: Any) -> bool:
    return isinstance(value, Mapping) and "Statement" in value


def _statements(document: Any) -> list[Any]:
    if not _is_policy(document):
        return []
    statements = document["Statement"]
    return list(statements) if isinstance(statements, list) else [statements]
