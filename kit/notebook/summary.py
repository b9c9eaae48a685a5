"""The verdict summary shown beside the instance picker, and the notebook's own stylesheet.

Short on purpose: the cause in words, the refusing layer, who and which key by short names (full ARNs on
hover), how sure, and the proposed fix with its verification, so the analyst reads the cause without
scrolling after each pick. Everything from AWS is escaped.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

from kit.causes import causes, denied_by_words
from kit.views.html import text


@functools.cache
def notebook_css() -> str:
    """The notebook's stylesheet (kit/notebook/notebook.css): live outputs wrap instead of scrolling sideways."""
    return resources.files("kit.notebook").joinpath("notebook.css").read_text(encoding="utf-8")


def style() -> str:
    """The notebook's <style> element."""
    return f"<style>{notebook_css()}</style>"


def short_arn(arn: str | None) -> str:
    """The last part of an ARN (`user/test`, `key/1234...`), or the value itself when it is no ARN."""
    if not arn:
        return ""
    if not arn.startswith("arn:"):
        return arn
    resource = arn.split(":", 5)[-1]
    return resource


def _named(arn: str | None) -> str:
    """The short name, the full ARN on hover (both escaped)."""
    if not arn:
        return ""
    return f'<abbr title="{text(arn)}">{text(short_arn(arn))}</abbr>'


def verdict_summary(findings: Mapping[str, Any] | None, status: str = "") -> str:
    """The compact verdict for the controls (`data-cause` names the cause), or a prompt to pick an instance."""
    if not findings:
        return ('<div class="kit-report kit-live"><div class="kit-summary kit-tone-neutral">'
                f"<h3>No instance investigated yet</h3><p>{text(status or 'Pick an instance on the left or in the table below.')}</p>"
                "</div></div>")
    verdict = findings.get("verdict") or {}
    cause = str(verdict.get("cause") or "undetermined")
    known = causes().get(cause)
    title, tone = (known.title, known.tone) if known is not None else (cause, "unknown")
    rows: list[tuple[str, str]] = [("Instance", text(f"{findings.get('instance_id', '')} ({findings.get('region', '')})")),
                                   ("Confidence", text(verdict.get("confidence") or ""))]
    denied_by = verdict.get("denied_by")
    if denied_by:
        words = denied_by_words().get(denied_by, "")
        rows.append(("Refused by", text(f"{denied_by}: {words}" if words else denied_by)))
    if verdict.get("principal_arn"):
        rows.append(("Principal", _named(verdict.get("principal_arn"))))
    if verdict.get("key_arn"):
        rows.append(("Key", _named(verdict.get("key_arn"))))
    fix = _fix_line(findings.get("remediation") or [])
    if fix:
        rows.append(("Fix", fix))
    change = verdict.get("change")
    if isinstance(change, Mapping) and change.get("event_name"):
        rows.append(("Changed", text(f"{change['event_name']} ({change.get('layer') or 'unknown'}) at "
                                     f"{change.get('event_time') or 'an unknown time'}")))
    elif management_not_read(findings):
        rows.append(("Changed", text(MANAGEMENT_NOT_READ)))
    items = "".join(f"<dt>{text(k)}</dt><dd>{v}</dd>" for k, v in rows if v)
    return (f'<div class="kit-report kit-live"><div class="kit-summary kit-tone-{text(tone)}" '
            f'data-cause="{text(cause)}"><h3>{text(title)}</h3>'
            f'<p><code>{text(cause)}</code></p><dl>{items}</dl>'
            f"<p>{text(verdict.get('summary', ''))}</p></div></div>")


MANAGEMENT_GAP = "ManagementAccountNotRead"  # the gap kit.collect.live records when org_role_arn is not given
MANAGEMENT_NOT_READ = ("not named: SCP changes (AttachPolicy, DetachPolicy, UpdatePolicy) and account moves "
                       "(MoveAccount) are recorded only in the organization's management account, which was not "
                       "read. Give a read-only role there (the Org role control, org_role_arn or --org-role-arn) to "
                       "name them.")


def management_not_read(findings: Mapping[str, Any]) -> bool:
    """No change is named, a service control policy (or an undecided layer) refused, and the management account,
    where SCP changes are recorded, was not read: the change may be there."""
    verdict = findings.get("verdict") or {}
    if verdict.get("change") or not any(isinstance(g, Mapping) and g.get("error") == MANAGEMENT_GAP
                                        for g in findings.get("gaps") or []):
        return False
    return verdict.get("denied_by") in ("scp", "unknown") or verdict.get("cause") == "undetermined"


def management_note(findings: Mapping[str, Any]) -> str:
    """Where the change may be recorded, as a paragraph under the verdict's "What changed" (or "")."""
    if not management_not_read(findings):
        return ""
    return f'<div class="kit-report kit-change-where"><p class="kit-muted">What changed: {text(MANAGEMENT_NOT_READ)}</p></div>'


def _fix_line(remediation: list[Mapping[str, Any]]) -> str:
    """The first proposed change: its title and whether the evaluator verified it."""
    for item in remediation:
        if item.get("kind") in ("iam-policy", "key-policy", "kms-grant") or item.get("title"):
            mark = "verified by the evaluator" if item.get("verified") else "not verified"
            return f"{text(item.get('title') or item.get('kind'))} ({mark}; see Remediation)"
    return ""
