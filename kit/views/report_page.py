"""report.html's body, answer first: the verdict and the verified fix on the first screen, then the proof, then
every proposed change, then the appendix (all steps, other causes, gaps, timeline, what was investigated).

`report_page(findings, shown, frames)` is pure: `findings` (kit.diagnose's Findings, for the evidence rows, the
failing request and the timeline), `shown` (findings.json as written, ticket fields included) and the frames (for
names: key aliases, SCP names). Every value from AWS is escaped; markup is only the kit's own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from kit.views import console
from kit.views.change import change_section_of
from kit.diagnose.roles import ROLE_WORDS
from kit.views.html import STATUS_ROLES as STATUS_ROLE
from kit.views.html import causes, frame_table, gaps_block, plain, stylesheet, text, verification_badge
from kit.views.names import Names, key_html, name_html, principal_html, scp_id_of, shorten_arns, target_html
from kit.views.timeline import points_from_timeline, timeline_svg

if TYPE_CHECKING:
    from kit.diagnose.findings import Findings
    from kit.frames import Frames

CONFIDENCE_WORDS = {"confirmed": "Confirmed", "likely": "Likely", "possible": "Possible"}
REASONING_COLUMNS = ("explanation", "decision", "decided_by", "layer")  # the decision block says these once
WHAT_CHANGED_SLOT = "<!-- what-changed -->"  # the "What changed" section goes here (kit.views.change)


def report_page(findings: Findings, shown: Mapping[str, Any], frames: Frames | None = None) -> str:
    """The whole report body (one HTML string, with its stylesheet)."""
    names = Names.from_frames(frames)
    instance = _instance_row(frames, findings.instance_id)
    parts = [stylesheet(), '<div class="kit-report kit-page">', _header(shown, instance),
             '<section class="kit-answer" id="answer">', verdict_block(shown, names, findings),
             fix_block(shown.get("remediation") or [], shown, names), WHAT_CHANGED_SLOT,
             change_section_of(findings, shown.get("verdict") or None), "</section>",
             proof_block(findings, shown, names), changes_block(shown.get("remediation") or []),
             appendix_block(findings, shown, names, frames), "</div>"]
    return "".join(parts)


def role_badge(role: str) -> str:
    """What a step's status means here, as a coloured label."""
    role = role if role in ROLE_WORDS else "unchecked"
    return f'<span class="kit-role kit-role-{role}">{text(ROLE_WORDS[role])}</span>'


def step_role(step: Mapping[str, Any]) -> str:
    """A findings step's role (findings.json `role`; from its status for findings written without one)."""
    role = step.get("role")
    return str(role) if role in ROLE_WORDS else STATUS_ROLE.get(str(step.get("status")), "unchecked")


def _header(shown: Mapping[str, Any], instance: Mapping[str, Any]) -> str:
    instance_id, region = str(shown.get("instance_id", "")), str(shown.get("region", ""))
    name = instance.get("name") if isinstance(instance.get("name"), str) else ""
    link = name_html(instance_id, None, console.instance_url(instance_id, region))
    facts = [("Region", text(region)), ("Account", text(shown.get("account_id") or "")),
             ("Incident", text(shown.get("incident_time") or "not in the evidence")),
             ("Investigated", text(shown.get("investigated_at") or "")),
             ("Evidence", text((shown.get("evidence_source") or {}).get("source", ""))),
             ("Kit", text(shown.get("kit_version") or ""))]
    line = " · ".join(f"<span><b>{k}</b> {v}</span>" for k, v in facts if v)
    titled = f" <span class=\"kit-muted\">({text(name)})</span>" if name else ""
    stopped = str(instance.get("state") or "") in ("stopped", "stopping", "terminated", "shutting-down")
    question = f"Why did {link}{titled} stop?" if stopped else f"What happened to {link}{titled}?"
    return (f'<header class="kit-head"><h1>{question}</h1>'
            f'<p class="kit-facts">{line}</p></header>')


def verdict_block(shown: Mapping[str, Any], names: Names, findings: Findings | None = None) -> str:
    """The verdict banner: title, summary with short names, cause, refusing layer, principal, key, confidence."""
    verdict = shown.get("verdict") or {}
    cause = str(verdict.get("cause") or "undetermined")
    meta = causes().get(cause, {"title": cause, "tone": "unknown"})
    principal, key = verdict.get("principal_arn"), verdict.get("key_arn")
    arns = _verdict_arns(shown)
    rows = [("Cause", f"<code>{text(cause)}</code>")]
    if verdict.get("denied_by"):
        words = causes().get("denied_by", {}).get(verdict["denied_by"], "")
        rows.append(("Refused by", f"{text(words or verdict['denied_by'])} <code>{text(verdict['denied_by'])}</code>"))
    if principal:
        rows.append(("Principal", principal_html(names, principal)))
    if key:
        rows.append(("Key", key_html(names, key)))
    rows.append(("Confidence", f"<b>{text(CONFIDENCE_WORDS.get(str(verdict.get('confidence')), verdict.get('confidence')))}"
                               f"</b>: {text(confidence_reason(shown, findings))}"))
    items = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows if v)
    return (f'<div class="kit-banner kit-tone-{text(meta.get("tone", "unknown"))}" data-cause="{text(cause)}">'
            f"<h2>Verdict: {text(meta.get('title', cause))}</h2>"
            f'<p class="kit-summary">{shorten_arns(str(verdict.get("summary", "")), names, arns)}</p>'
            f"<dl>{items}</dl></div>")


def confidence_reason(shown: Mapping[str, Any], findings: Findings | None) -> str:
    """Why the kit is as sure as it says, from the steps that decide it."""
    steps = {str(s.get("id")): s for s in shown.get("steps") or []}
    confidence = (shown.get("verdict") or {}).get("confidence")
    cause_step = next((s for s in steps.values() if s.get("role") == "cause"), None)
    cross = steps.get("cross-check")
    events = shown.get("cloudtrail_event_ids") or []
    reasons = []
    if events:
        reasons.append(f"CloudTrail records it ({len(events)} event{'s' if len(events) > 1 else ''})")
    if cross is not None and cross.get("status") == "pass":
        reasons.append("the kit's evaluator agrees with CloudTrail on the refusing layer")
    elif cross is not None and cross.get("status") == "fail":
        reasons.append("the evaluator and CloudTrail disagree (see the proof)")
    if cause_step is not None and not reasons:
        reasons.append(f"{cause_step.get('title')}: {cause_step.get('detail')}")
    unchecked = [s for s in steps.values() if s.get("status") == "unknown"]
    if unchecked:
        reasons.append(f"{len(unchecked)} step{'s' if len(unchecked) > 1 else ''} could not be checked (see the gaps)")
    if not reasons:
        reasons.append("the evidence does not decide" if confidence != "confirmed" else "the evidence shows it")
    return "; ".join(reasons) + "."


def fix_block(remediation: Sequence[Mapping[str, Any]], shown: Mapping[str, Any], names: Names | None = None) -> str:
    """The fix on the first screen: the first proposed change (verified first), its document, and how many
    other forms and changes follow below."""
    if not remediation:
        return ('<div class="kit-fix"><h2>The fix</h2><p>No policy or key change is proposed: what to do is the '
                "last part of the verdict above.</p></div>")
    ordered = sorted(range(len(remediation)), key=lambda i: (not remediation[i].get("verified"), i))
    first = remediation[ordered[0]]
    badge = verification_badge(first)
    others = len(remediation) - 1
    more = (f'<p class="kit-muted">{others} more form{"s" if others > 1 else ""} and change{"s" if others > 1 else ""}'
            ' (AWS CLI, Terraform, the other side) under <a href="#changes">Every proposed change</a>.</p>'
            if others else "")
    return (f'<div class="kit-fix" data-remediation="first"><h2>The fix {badge}</h2>'
            f"<p><b>{text(first.get('title') or first.get('kind'))}</b>"
            + (f" for {target_html(names or Names(), str(first.get('target')))}" if first.get("target") else "") + "</p>"
            + (f"<p>{shorten_arns(str(first.get('explanation')), names or Names(), _verdict_arns(shown))}</p>"
               if first.get("explanation") else "")
            + document_html(first.get("document"), compact=True)
            + (f'<p class="kit-muted">{text(first.get("note"))}</p>' if first.get("note") else "")
            + more + "</div>")


def proof_block(findings: Findings, shown: Mapping[str, Any], names: Names) -> str:
    """The proof: the step that is the cause, the CloudTrail event, the request and the statement that decided."""
    steps = list(shown.get("steps") or [])
    the_cause = next((s for s in steps if s.get("role") == "cause"), None)
    parts = ['<section class="kit-proof" id="proof"><h2>The proof</h2>']
    if the_cause is not None:
        rows = _rows_of(findings, str(the_cause.get("id")))
        if rows is not None and "status" in rows.columns and the_cause.get("id") == "lookalikes":
            rows = rows[rows["status"] != "ruled-out"]  # what was ruled out is listed once, in the appendix
        if rows is not None and findings.decision is not None:  # the reasoning is shown once, below
            rows = rows.drop(columns=[c for c in REASONING_COLUMNS if c in rows.columns])
        parts.append(f'<div class="kit-step kit-step-cause" data-step="{text(the_cause.get("id"))}">'
                     f"<h3>{role_badge('cause')} {text(the_cause.get('title'))}</h3>"
                     f"<p>{shorten_arns(str(the_cause.get('detail') or ''), names, _verdict_arns(shown))}</p>"
                     + (frame_table(rows, caption="Evidence", max_rows=12) if rows is not None else "") + "</div>")
    else:
        parts.append('<p class="kit-muted">No single step shows the cause: see every step in the appendix.</p>')
    parts.append(_events_block(findings, shown, names))
    parts.append(_decision_block(findings, names))
    parts.append("</section>")
    return "".join(parts)


def _events_block(findings: Findings, shown: Mapping[str, Any], names: Names) -> str:
    ids = [str(i) for i in shown.get("cloudtrail_event_ids") or []]
    if not ids:
        return ""
    frame = findings.timeline if isinstance(findings.timeline, pd.DataFrame) else pd.DataFrame()
    by_id = {str(r["event_id"]): r for r in frame.to_dict("records")} if "event_id" in frame.columns else {}
    region = str(shown.get("region", ""))
    items = []
    for number, event_id in enumerate(ids):
        row = by_id.get(event_id, {})
        link = name_html(event_id, None, console.event_url(event_id, region))
        when = plain(row.get("time")) if row else ""
        what = plain(row.get("event_name")) if row else ""
        error = plain(row.get("error_code")) if row else ""
        who = row.get("principal_arn") if row else None
        lead = ' <span class="kit-role kit-role-cause">deciding</span>' if number == 0 else ""
        items.append(f"<li>{lead} <b>{text(what or 'event')}</b>"
                     + (f' <span class="kit-error">{text(error)}</span>' if error else "")
                     + (f" at <code>{text(when)}</code>" if when else "")
                     + (f" by {principal_html(names, who)}" if isinstance(who, str) and who else "")
                     + f" <span class=\"kit-muted\">event id</span> <code>{link}</code></li>")
    return f'<div class="kit-block"><h3>CloudTrail</h3><ul class="kit-events">{"".join(items)}</ul></div>'


def _decision_block(findings: Findings, names: Names) -> str:
    """The failing request (as a table) and the policy statement that decided it, highlighted."""
    request, decision = findings.request, findings.decision
    if request is None:
        return ""
    rows = [("Principal", principal_html(names, request.principal_arn)), ("Action", f"<code>{text(request.action)}</code>"),
            ("Resource", key_html(names, request.resource) or text(request.resource))]
    context = "".join(f"<li><code>{text(k)}</code> = <code>{text(plain(v))}</code></li>"
                      for k, v in dict(request.context).items())
    if context:
        rows.append(("Request context", f'<ul class="kit-plain">{context}</ul>'))
    if decision is not None:
        rows.append(("Decision", f"<b>{text(decision.decision)}</b>"
                                 + (f" by {text(names.policy(decision.layer or ''))}" if decision.layer else "")))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    out = (f'<div class="kit-block"><h3>The request EC2 made, as the evaluator sees it</h3>'
           f'<table class="kit-table kit-kv"><tbody>{body}</tbody></table>')
    statement = _deciding_statement(findings)
    if statement is not None:
        policy_label, label, raw = statement
        scp = scp_id_of(policy_label)
        where = text(names.policy(policy_label))
        url = console.scp_url(scp, findings.region) if scp else None
        if url:
            where = f'<a href="{text(url)}" target="_blank" rel="noopener noreferrer">{where}</a>'
        out += (f'<p><b>The statement that decided</b>: {text(label)} in {where}</p>'
                f'<pre class="kit-pre kit-decisive">{text(json.dumps(raw, indent=2, default=str))}</pre>')
    if decision is not None and decision.explanation:
        lines = "".join(f"<li>{text(line)}</li>" for line in decision.explanation)
        out += f'<p><b>How the evaluator decided</b></p><ol class="kit-reasoning">{lines}</ol>'
    return out + "</div>"


def _deciding_statement(findings: Findings) -> tuple[str, str, Any] | None:
    """(policy name, statement label, the statement) of the Decision's `statement`, when the policies hold it."""
    decision, policies = findings.decision, findings.policies
    if decision is None or policies is None or not decision.statement:
        return None
    every = list(policies.identity) + list(policies.session_policies) + [p for level in policies.scps for p in level]
    every += [p for p in (policies.resource_policy, policies.boundary) if p is not None]
    for policy in every:
        if decision.statement.startswith(policy.name + " "):
            label = decision.statement[len(policy.name) + 1:]
            for statement in policy.statements:
                if statement.label == label:
                    return policy.name, label, statement.raw
    return None


def changes_block(remediation: Sequence[Mapping[str, Any]]) -> str:
    """Every proposed change, each entry's fields rendered as they come (title, target, explanation, document,
    note and any other field), numbered."""
    if not remediation:
        return ""
    parts = ['<section class="kit-changes" id="changes"><h2>Every proposed change</h2>'
             '<p class="kit-muted">The kit never applies a change. <b>verified</b>: with the change set applied, the '
             "kit's evaluator allows the request that failed.</p>"]
    shown_keys = {"kind", "target", "document", "verified", "title", "explanation", "note"}
    first = min(range(len(remediation)), key=lambda i: (not remediation[i].get("verified"), i)) + 1
    for number, item in enumerate(remediation, 1):
        badge = verification_badge(item)
        extra = "".join(f"<li><b>{text(k.replace('_', ' '))}</b>: {_value_html(v)}</li>"
                        for k, v in item.items() if k not in shown_keys and plain(v))
        above = ' <span class="kit-muted">(the fix shown above)</span>' if number == first else ""
        parts.append(f'<details class="kit-step" data-remediation="{number}">'
                     f"<summary>{badge} {number}. {text(item.get('title') or item.get('kind'))}{above} "
                     f'<span class="kit-muted">({text(item.get("kind"))}'
                     + (f" for <code>{text(item.get('target'))}</code>" if item.get("target") else "") + ")</span></summary>"
                     + (f"<p>{text(item.get('explanation'))}</p>" if item.get("explanation") else "")
                     + document_html(item.get("document"))
                     + (f'<ul class="kit-plain">{extra}</ul>' if extra else "")
                     + (f'<p class="kit-muted">{text(item.get("note"))}</p>' if item.get("note") else "")
                     + "</details>")
    parts.append("</section>")
    return "".join(parts)


def document_html(document: Any, compact: bool = False) -> str:
    """A remediation document: text as is, CLI commands with the files they read, anything else as JSON."""
    if document in (None, "", {}, []):
        return ""
    cls = "kit-pre kit-pre-compact" if compact else "kit-pre"
    if isinstance(document, str):
        return f'<pre class="{cls}">{text(document)}</pre>'
    if isinstance(document, Mapping) and "commands" in document:
        out = f'<pre class="{cls}">{text(chr(10).join(str(c) for c in document.get("commands") or []))}</pre>'
        for name, body in (document.get("files") or {}).items():
            shown = body if isinstance(body, str) else json.dumps(body, indent=2, default=str)
            out += f'<p class="kit-file">{text(name)}</p><pre class="{cls}">{text(shown)}</pre>'
        return out
    return f'<pre class="{cls}">{text(json.dumps(document, indent=2, default=str))}</pre>'


def appendix_block(findings: Findings, shown: Mapping[str, Any], names: Names, frames: Frames | None) -> str:
    """All steps, the other causes considered, the gaps, the timeline and what was investigated."""
    return ('<section class="kit-appendix" id="appendix"><h2>Appendix</h2>'
            + _steps_table(findings, shown) + _others_block(shown) + "<h3>Gaps in the evidence</h3>"
            + gaps_block(shown.get("gaps") or []) + "<h3>Timeline</h3>"
            + timeline_svg(points_from_timeline(findings.timeline), f"{findings.instance_id} in {findings.region}")
            + _evidence_block(shown) + "</section>")


def _steps_table(findings: Findings, shown: Mapping[str, Any]) -> str:
    """Every step: what its status means here, its title, what it found; evidence rows folded under it."""
    rows = []
    for step in shown.get("steps") or []:
        step_id, role = str(step.get("id")), step_role(step)
        if role == "cause":
            finding = '<a href="#proof">shown in the proof above</a>'
        elif step_id == "lookalikes":
            finding = '<a href="#others">listed under Other causes considered</a>'
        else:
            finding = text(step.get("detail"))
        evidence = _rows_of(findings, step_id) if role != "cause" and step_id != "lookalikes" else None
        folded = (f"<details><summary>evidence ({len(evidence)} row{'s' if len(evidence) != 1 else ''})</summary>"
                  f"{frame_table(evidence, max_rows=20)}</details>" if evidence is not None else "")
        rows.append(f'<tr data-step="{text(step_id)}" data-role="{text(role)}"><td>{role_badge(role)}</td>'
                    f"<td>{text(step.get('title'))}</td><td class=\"kit-prose\">{finding}{folded}</td></tr>")
    return ('<h3>Every step</h3><table class="kit-table kit-steps"><thead><tr><th>Means</th><th>Step</th>'
            f'<th>Finding</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _others_block(shown: Mapping[str, Any]) -> str:
    """The other causes and lookalikes considered, each once, with what the evidence says about it."""
    from kit.views.html import _title_of

    verdict_cause = (shown.get("verdict") or {}).get("cause")
    status: dict[str, str] = {str(k): str(v) for k, v in (shown.get("lookalikes") or {}).items()}
    for cause in shown.get("ruled_out") or []:
        status.setdefault(str(cause), "ruled-out")
    words = {"ruled-out": "ruled out", "confirmed": "confirmed", "possible": "possible", "unknown": "could not check"}
    rows = "".join(f'<tr><td>{text(words.get(v, v))}</td><td><code>{text(k)}</code></td><td class="kit-prose">'
                   f"{text(_title_of(k))}</td></tr>" for k, v in status.items() if k != verdict_cause)
    if not rows:
        return '<h3 id="others">Other causes considered</h3><p class="kit-muted">None.</p>'
    return ('<h3 id="others">Other causes considered</h3><table class="kit-table"><thead><tr><th>Status</th>'
            f"<th>Cause</th><th>What it is</th></tr></thead><tbody>{rows}</tbody></table>")


def _evidence_block(shown: Mapping[str, Any]) -> str:
    source = shown.get("evidence_source") or {}
    rows = [("Instance", shown.get("instance_id")), ("Region", shown.get("region")),
            ("Account", shown.get("account_id")), ("Evidence source", source.get("source")),
            ("Collected at", source.get("collected_at")), ("Collected by", source.get("collected_by")),
            ("Incident time", shown.get("incident_time")), ("Investigated at", shown.get("investigated_at")),
            ("Kit version", shown.get("kit_version")),
            ("CloudTrail events behind the verdict", ", ".join(shown.get("cloudtrail_event_ids") or []))]
    body = "".join(f"<tr><th>{text(k)}</th><td>{text(v)}</td></tr>" for k, v in rows if plain(v))
    return f'<h3>What was investigated</h3><table class="kit-table kit-kv"><tbody>{body}</tbody></table>'


def _rows_of(findings: Findings, step_id: str) -> pd.DataFrame | None:
    for step in findings.steps:
        if step.id == step_id and isinstance(step.rows, pd.DataFrame) and len(step.rows):
            return step.rows
    return None


def _instance_row(frames: Frames | None, instance_id: str) -> dict[str, Any]:
    if frames is None or not len(frames.instances):
        return {}
    match = frames.instances[frames.instances["instance_id"] == instance_id]
    return {str(k): v for k, v in match.iloc[0].to_dict().items()} if len(match) else {}


def _verdict_arns(shown: Mapping[str, Any]) -> dict[str, str]:
    """The verdict's principal and key ARNs, for writing them as short names in its texts."""
    verdict = shown.get("verdict") or {}
    pairs = ((verdict.get("principal_arn"), "principal"), (verdict.get("key_arn"), "key"))
    return {a: k for a, k in pairs if isinstance(a, str) and a}


def _value_html(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(f"<code>{text(v)}</code>" for v in value)
    return text(value)
