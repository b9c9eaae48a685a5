"""HTML blocks of the report, built from a findings dict (findings.json) and frames.

Everything that came from AWS (tags, user agents, error messages, policy documents) is attacker-controlled,
so every value goes through `html.escape` (`text()`); markup is only ever the kit's own. The blocks are
plain strings, displayed in the notebook with `IPython.display.HTML` and kept by nbconvert in report.html.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd

STATUSES = ("pass", "fail", "unknown", "skipped")


def text(value: Any) -> str:
    """Any value as escaped HTML text (quotes too: safe inside attributes)."""
    return html.escape(plain(value), quote=True)


def plain(value: Any) -> str:
    """A value as the text a reader sees: JSON for dicts and lists, '' for missing values."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str, sort_keys=False)
    return str(value)


def stylesheet() -> str:
    """The report's <style> element (class names all start with kit-)."""
    return f"<style>{_css()}</style>"


def verdict_banner(findings: Mapping[str, Any]) -> str:
    """The verdict: cause in words, the summary, and who, what key, which layer, how sure."""
    verdict = findings.get("verdict") or {}
    cause = str(verdict.get("cause") or "undetermined")
    meta = causes().get(cause, {"title": cause, "tone": "unknown"})
    rows = [("Instance", f"{findings.get('instance_id', '')} ({findings.get('region', '')})"),
            ("Cause", cause), ("Confidence", verdict.get("confidence"))]
    if verdict.get("denied_by"):
        words = causes().get("denied_by", {}).get(verdict["denied_by"], "")
        rows.append(("Denied by", f"{verdict['denied_by']}: {words}" if words else verdict["denied_by"]))
    rows += [("Principal", verdict.get("principal_arn")), ("Key", verdict.get("key_arn"))]
    items = "".join(f"<dt>{text(k)}</dt><dd>{text(v)}</dd>" for k, v in rows if plain(v))
    return (f'<div class="kit-report"><div class="kit-banner kit-tone-{text(meta.get("tone", "unknown"))}" '
            f'data-cause="{text(cause)}"><h2>Verdict: {text(meta.get("title", cause))}</h2>'
            f"<p>{text(verdict.get('summary', ''))}</p><dl>{items}</dl></div></div>")


# A step without a role (findings.json steps[].role, kit.diagnose.roles; findings written before roles existed)
# is read from its status.
STATUS_ROLES = {"pass": "fine", "fail": "symptom", "unknown": "unchecked", "skipped": "not-applicable"}


def status_badge(status: str, role: str | None = None) -> str:
    """A coloured label saying what a step's status means: the cause, a symptom, fine, could not check, not
    applicable (the contract's pass / fail / unknown / skipped stays in data-status)."""
    from kit.diagnose.roles import ROLE_WORDS

    status = status if status in STATUSES else "unknown"
    role = role if role in ROLE_WORDS else STATUS_ROLES[status]
    return (f'<span class="kit-status kit-status-{status} kit-role kit-role-{role}" data-status="{status}" '
            f'title="status: {status}">{text(ROLE_WORDS[role])}</span>')


def steps_overview(steps: Sequence[Mapping[str, Any]]) -> str:
    """One line per troubleshooting step: what its status means, title, what it found."""
    body = "".join(f"<tr><td>{status_badge(str(s.get('status')), s.get('role'))}</td><td>{text(s.get('title'))}</td>"
                   f"<td>{text(s.get('detail'))}</td></tr>" for s in steps)
    return (f'<div class="kit-report"><table class="kit-table"><thead><tr><th>Means</th><th>Step</th>'
            f"<th>Finding</th></tr></thead><tbody>{body}</tbody></table></div>")


def step_block(step: Mapping[str, Any], explanation: str = "",
               evidence: Mapping[str, pd.DataFrame] | None = None, max_rows: int = 30) -> str:
    """One step: title and status, the explanation, the evidence rows behind it, the finding."""
    parts = [f'<div class="kit-report"><div class="kit-step" data-step="{text(step.get("id"))}">',
             f"<h3>{status_badge(str(step.get('status')), step.get('role'))} {text(step.get('title'))}</h3>"]
    if explanation:
        parts.append(f'<p class="kit-muted">{text(explanation)}</p>')
    for caption, frame in (evidence or {}).items():
        parts.append(frame_table(frame, caption=caption, max_rows=max_rows))
    parts.append(f"<p><b>Finding:</b> {text(step.get('detail'))}</p></div></div>")
    return "".join(parts)


def frame_table(frame: pd.DataFrame | None, caption: str = "", max_rows: int = 30,
                columns: Sequence[str] | None = None, transpose_wider_than: int = 7) -> str:
    """A DataFrame as an escaped HTML table (cells holding dicts or lists shown as JSON).

    A single wide row (an instance, a key) reads better as field/value lines, so it is shown transposed.
    """
    if frame is None or len(frame) == 0:
        label = f"{caption}: " if caption else ""
        return f'<p class="kit-muted">{text(label)}no rows.</p>'
    if columns:
        frame = frame[[c for c in columns if c in frame.columns]]
    if len(frame) == 1 and len(frame.columns) > transpose_wider_than:
        row = frame.iloc[0]
        frame = pd.DataFrame({"field": list(frame.columns), "value": [row[c] for c in frame.columns]})
        frame = frame[[plain(v) != "" for v in frame["value"]]]
    shown = frame.head(max_rows)
    head = "".join(f"<th>{text(c)}</th>" for c in shown.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in shown.itertuples(index=False, name=None))
    more = (f'<p class="kit-muted">{len(frame) - max_rows} more rows not shown.</p>'
            if len(frame) > max_rows else "")
    cap = f"<caption>{text(caption)}</caption>" if caption else ""
    return (f'<div class="kit-table-wrap"><table class="kit-table">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>{more}")


def cell(value: Any) -> str:
    """A table cell's escaped HTML: a list of plain values as a comma list, a flat mapping as `key: value` lines,
    a policy statement (or anything nested) as indented JSON; the rest as text."""
    if isinstance(value, (list, tuple)) and all(not isinstance(v, (dict, list, tuple)) for v in value):
        return ", ".join(text(v) for v in value)
    if isinstance(value, Mapping) and value and all(not isinstance(v, (dict, list, tuple)) for v in value.values()) \
            and "Effect" not in value:
        return "<br/>".join(f"{text(k)}: {text(v)}" for k, v in value.items())
    if isinstance(value, (dict, list, tuple)):
        return f'<pre class="kit-cell-pre">{text(json.dumps(value, indent=1, default=str))}</pre>'
    return text(value)


def ruled_out_block(ruled_out: Iterable[str]) -> str:
    """The causes the evidence excludes."""
    items = "".join(f"<li><code>{text(code)}</code>: {text(_title_of(code))}</li>" for code in ruled_out)
    body = f"<ul>{items}</ul>" if items else '<p class="kit-muted">Nothing was ruled out.</p>'
    return f'<div class="kit-report"><div class="kit-block">{body}</div></div>'


def gaps_block(gaps: Sequence[Mapping[str, Any]]) -> str:
    """Evidence the kit could not get, what that means, and the command that would fill the gap."""
    if not gaps:
        return ('<div class="kit-report"><div class="kit-block">'
                '<p class="kit-muted">None: every call the diagnosis needed succeeded.</p></div></div>')
    rows = "".join(f"<tr><td>{text(g.get('call'))}</td><td>{text(g.get('error'))}</td><td>{text(g.get('impact'))}"
                   f"</td><td>{_code(g.get('next_step'))}</td></tr>" for g in gaps)
    return ('<div class="kit-report"><div class="kit-block">'
            '<table class="kit-table"><thead><tr><th>Call</th><th>Error</th><th>What it means</th>'
            f"<th>Run next</th></tr></thead><tbody>{rows}</tbody></table></div></div>")


def verification_badge(item: Mapping[str, Any]) -> str:
    """How far the kit checked a proposed change: verified, verified as far as the evidence goes, not verified,
    or an operational step (nothing for the evaluator to check)."""
    if item.get("change_set") == "operational":
        return '<span class="kit-status kit-status-skipped">operational step</span>'
    if item.get("verified") and item.get("verification") == "verified-in-evidence":
        return '<span class="kit-status kit-status-verified">verified in the evidence</span>'
    if item.get("verified"):
        return '<span class="kit-status kit-status-verified">verified</span>'
    return '<span class="kit-status kit-status-unverified">not verified</span>'


def remediation_block(remediation: Sequence[Mapping[str, Any]]) -> str:
    """Each proposed change, whom it targets, the document itself, and whether the evaluator verified it."""
    if not remediation:
        return ('<div class="kit-report"><div class="kit-block">'
                '<p class="kit-muted">No change is proposed.</p></div></div>')
    parts = ['<div class="kit-report"><div class="kit-block">']
    for number, item in enumerate(remediation, 1):
        verified = bool(item.get("verified"))
        badge = verification_badge(item)
        note = item.get("note") or ("The kit's evaluator confirms that, with this change, the failing request is "
                                    "allowed." if verified else "The kit's evaluator did not confirm this change.")
        heading = item.get("title") or item.get("kind")
        parts.append(f'<div class="kit-step" data-remediation="{number}"><h3>{badge} {number}. {text(heading)} '
                     f'<span class="kit-muted">({text(item.get("kind"))}'
                     + (f" for <code>{text(item.get('target'))}</code>" if item.get("target") else "") + ")</span></h3>"
                     + "".join(f"<p>{text(item.get(k))}</p>" for k in ("description", "explanation") if item.get(k))
                     + _document(item.get("document"))
                     + f'<p class="kit-muted">{text(note)}</p></div>')
    parts.append("</div></div>")
    return "".join(parts)


def _document(document: Any) -> str:
    """A remediation's document: policy JSON, Terraform text, or CLI commands with the files they read."""
    if document in (None, "", {}, []):
        return ""
    if isinstance(document, str):
        return f'<pre class="kit-pre">{text(document)}</pre>'
    if isinstance(document, Mapping) and "commands" in document:
        commands = document.get("commands") or []
        out = f'<pre class="kit-pre">{text(chr(10).join(str(c) for c in commands))}</pre>'
        for name, body in (document.get("files") or {}).items():
            shown = body if isinstance(body, str) else json.dumps(body, indent=2, default=str)
            out += f'<p class="kit-file">{text(name)}</p><pre class="kit-pre">{text(shown)}</pre>'
        return out
    return f'<pre class="kit-pre">{text(json.dumps(document, indent=2, default=str))}</pre>'


def png_figure(png: bytes, alt: str) -> str:
    """An embedded PNG (data URI), so the picture survives conversion and works offline."""
    data = base64.b64encode(png).decode("ascii")
    return (f'<div class="kit-report kit-figure"><img alt="{text(alt)}" '
            f'src="data:image/png;base64,{data}"/></div>')


def failure_block(error_name: str, error_value: str) -> str:
    """What a failed run shows at the top of its report."""
    return ('<div class="kit-report"><div class="kit-banner kit-tone-unknown"><h2>The investigation did not finish'
            f"</h2><p><b>{text(error_name)}</b>: {text(error_value)}</p><p>The cells below show where it stopped. "
            "findings.json records the cause as undetermined with this error as a gap.</p></div></div>")


@lru_cache(maxsize=1)
def causes() -> dict[str, Any]:
    """Verdict causes' titles and tones, and denied_by in words (the cause table, kit/causes.yaml)."""
    from kit import causes as cause_table

    return {**{c.id: {"title": c.title, "tone": c.tone} for c in cause_table.causes().values()},
            "denied_by": cause_table.denied_by_words()}


def _title_of(code: str) -> str:
    """A cause's or lookalike's title (lookalikes are kit.diagnose's data)."""
    title = causes().get(code, {}).get("title") if isinstance(causes().get(code), dict) else None
    return title or _lookalike_titles().get(code, "")


@lru_cache(maxsize=1)
def _lookalike_titles() -> dict[str, str]:
    from kit.errors import KitError

    try:
        from kit.diagnose.metadata import load_data

        return {k: v.get("title", "") for k, v in (load_data("lookalikes.yaml").get("lookalikes") or {}).items()}
    except (ImportError, KitError, AttributeError):  # the report still renders without them
        return {}


@lru_cache(maxsize=1)
def _css() -> str:
    return resources.files("kit.views").joinpath("report.css").read_text(encoding="utf-8")


def _code(value: Any) -> str:
    return f"<code>{text(value)}</code>" if plain(value) else ""
