"""HTML blocks of the postmortem (index.html's group blocks, the postmortem notebook's sections): every value
came from AWS or a parameter file and goes through kit.views.html.text (escaped); markup is the kit's own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kit.postmortem.groups import change_detail
from kit.postmortem.names import short_name
from kit.views.html import text

GROUP_CSS = """\
.kit-group h2 { font-size: 16px; margin: 0 0 6px 0; }
.kit-groups { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 12px; margin-bottom: 18px; }
.kit-group { border: 1px solid #d0d7de; border-left: 6px solid #8c959f; border-radius: 6px; padding: 10px 14px; background: #fafbfc; }
.kit-group-change { border-left-color: #b71c1c; }
.kit-group-cause { border-left-color: #e36209; }
.kit-group-failed { border-left-color: #6d4c41; }
.kit-group dl { display: grid; grid-template-columns: 110px 1fr; gap: 4px 10px; margin: 0 0 8px 0; }
.kit-group dt { font-weight: 600; color: #57606a; }
.kit-group dd { margin: 0; overflow-wrap: anywhere; }
.kit-arn { border-bottom: 1px dotted #8c959f; }
.kit-narrative h3 { font-size: 15px; margin: 10px 0 2px 0; }
.kit-narrative p { margin: 0 0 6px 0; max-width: 1100px; }
"""


def groups_block(groups: Sequence[Mapping[str, Any]]) -> str:
    """Every group as a block, in a grid, with the styles they need (for the notebook)."""
    blocks = "".join(group_block(group, number, button=False) for number, group in enumerate(groups, 1))
    return f'<style>{GROUP_CSS}</style><div class="kit-groups">{blocks}</div>'


def narrative_block(sections: Sequence[tuple[str, str]]) -> str:
    """The postmortem's paragraphs (heading, text) as HTML, escaped."""
    body = "".join(f"<h3>{text(heading)}</h3><p>{text(paragraph)}</p>" for heading, paragraph in sections)
    return f'<style>{GROUP_CSS}</style><div class="kit-narrative">{body}</div>'


def group_block(group: Mapping[str, Any], number: int, *, button: bool = True) -> str:
    """One group as a block: heading, change, blast radius, failures, fix, and a button that filters to it."""
    radius = group.get("blast_radius") or {}
    gid = str(group.get("id") or f"g{number}")
    count = int(group.get("count") or 0)
    heading = (f"{text(gid)}: {text(group.get('title') or group.get('cause') or 'Undetermined')}"
               f" &middot; {count} incident{'s' if count != 1 else ''}")
    if group.get("denied_by"):
        heading += f" &middot; denied by {text(group.get('denied_by'))}"
    items = [("What changed", _change(group.get("change"), group.get("denied_by"))),
             *([("Roll back", _rollback(group["change"]))] if isinstance(group.get("change"), Mapping) else []),
             ("Blast radius", _radius(radius)),
             ("Failures", _failures(group)),
             ("Fix", _fix(group.get("fix"), group.get("change")))]
    body = "".join(f"<dt>{text(name)}</dt><dd>{value}</dd>" for name, value in items)
    tone = "change" if group.get("change") else ("failed" if group.get("status") != "ok" else "cause")
    return (f'<section class="kit-group kit-group-{tone}" id="group-{text(gid)}" data-group="{text(gid)}">'
            f"<h2>{heading}</h2><dl>{body}</dl>"
            + (f'<button type="button" class="kit-show-group" data-group="{text(gid)}">show only these incidents'
               "</button>" if button else "") + "</section>")


ORGANIZATIONS_LOOKUP = ("aws cloudtrail lookup-events --region us-east-1 --lookup-attributes "
                        "AttributeKey=EventSource,AttributeValue=organizations.amazonaws.com")


def _change(change: Any, denied_by: Any = None) -> str:
    if not isinstance(change, Mapping):
        line = "No recorded change is named for these incidents: they are grouped by cause."
        if denied_by == "scp":  # SCP changes are in the management account's event history, not the members'
            line += (" Changes to service control policies are recorded in the organization's management "
                     f"account: run <code>{text(ORGANIZATIONS_LOOKUP)}</code> there.")
        return line
    who = change.get("principal_arn")
    parts = [f"<strong>{text(change.get('event_name'))}</strong>"]
    if who:
        parts.append(f'by <span class="kit-arn" title="{text(who)}">{text(short_name(who))}</span>')
    if change.get("event_time"):
        parts.append(f"at {text(change.get('event_time'))}")
    if change.get("layer"):
        parts.append(f"({text(change.get('layer'))})")
    line = " ".join(parts)
    summary = change_detail(change)  # without a lead that repeats the line above
    if summary:
        line += f": {text(summary)}"
    if change.get("event_id"):
        line += f' <span class="kit-muted">CloudTrail event {text(change.get("event_id"))}</span>'
    return line


def _rollback(change: Mapping[str, Any]) -> str:
    """Whether the rollback is still needed (the state as collected) and how to do it."""
    command = str(change.get("rollback") or "")
    how = f"<code>{text(command)}</code>" if command else "no rollback command is known for this change (see the reports)"
    if change.get("denied_now") is False:
        undone = change.get("undone_by")
        by = ""
        if isinstance(undone, Mapping):
            who = undone.get("principal_arn")
            by = (f": {text(undone.get('event_name'))}"
                  + (f' by <span class="kit-arn" title="{text(who)}">{text(short_name(who))}</span>' if who else "")
                  + f" at {text(undone.get('event_time'))}")
        return (f"<strong>Not needed now</strong>: as collected, every incident's request is allowed again{by}. "
                f"Had it not been: {how}")
    if change.get("denied_now") is True:
        return f"<strong>Still needed</strong>: as collected, the request is still denied. {how}"
    return how


def _radius(radius: Mapping[str, Any]) -> str:
    parts = []
    for field, one, many in (("instances", "instance", "instances"),
                             ("autoscaling_groups", "Auto Scaling group", "Auto Scaling groups"),
                             ("accounts", "account", "accounts"), ("regions", "Region", "Regions")):
        values = [str(v) for v in radius.get(field) or []]
        word = one if len(values) == 1 else many
        listed = f" ({', '.join(text(v) for v in values)})" if values and field != "instances" else ""
        parts.append(f"{len(values)} {text(word)}{listed}")
    instances = [str(v) for v in radius.get("instances") or []]
    shown = ", ".join(text(v) for v in instances[:12]) + (f" and {len(instances) - 12} more" if len(instances) > 12 else "")
    return ", ".join(parts) + (f'<br><span class="kit-muted">{shown}</span>' if instances else "")


def _failures(group: Mapping[str, Any]) -> str:
    first, last = group.get("first_failure"), group.get("last_failure")
    if not first:
        return "no failure time in the evidence"
    return f"first {text(first)}" + (f", last {text(last)}" if last and last != first else "")


def _fix(fix: Any, change: Any) -> str:
    lines = []
    if isinstance(change, Mapping) and change.get("denied_now") is False:
        lines.append(f"Nothing to apply: the change ({text(change.get('event_name'))}) is undone as collected."
                     + (" The kit's fix was:" if isinstance(fix, Mapping) else ""))
        if not isinstance(fix, Mapping):
            return " ".join(lines)
    elif isinstance(change, Mapping):
        lines.append(f"Roll back the change ({text(change.get('event_name'))}, above) or apply:")
    if not isinstance(fix, Mapping):
        lines.append("no fix proposed (see the reports)")
        return " ".join(lines)
    verified = "verified by the kit's evaluator" if fix.get("verified") else "not verified"
    scope = {"all": "resolves the group (the same fix for every incident)",
             "same-target": f"one edit of this policy resolves the group: put in it the statements of the "
                            f"{text(fix.get('distinct_fixes'))} incidents' fixes (each report shows its own)"
             }.get(str(fix.get("resolves")), f"the first incident's fix; {text(fix.get('distinct_fixes'))} different "
                                             "fixes in the group (see each report)")
    target = fix.get("target")
    lines.append(f"<strong>{text(fix.get('title'))}</strong>"
                 + (f' on <span class="kit-arn" title="{text(target)}">{text(short_name(target))}</span>' if target else "")
                 + f" &middot; owner: {text(fix.get('owner'))} &middot; {text(verified)} &middot; {scope}")
    return " ".join(lines)
