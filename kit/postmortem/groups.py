"""Incidents grouped as a postmortem reads them: by the change that caused them (same change event: one
group), then by cause; each group with its blast radius, first and last failure, and the one fix.

Pure functions over summary.json entries (kit.batch.summary) and findings.json dicts; `verdict.change` may
be absent or null (no change known): such incidents are grouped by cause alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kit.aws_ids import account_of
from kit.causes import cause_ids
from kit.causes import cause as cause_of

POLICY_FIX_KINDS = ("iam-policy", "key-policy", "kms-grant")
CHANGE_FIELDS = ("event_id", "event_name", "event_time", "principal_arn", "layer", "summary", "rollback", "denied_now",
                 "undone_by")
# who applies a fix, by the layer of the policy it changes
OWNERS = {
    "identity-policy": "IAM administrators of account {account}",
    "permissions-boundary": "IAM administrators of account {account}",
    "session-policy": "whoever starts the launcher's session (account {account})",
    "key-policy": "administrators of the key in account {account}",
    "grant": "administrators of the key in account {account}",
    "scp": "Organizations administrators (management account)",
}


def incident_fields(findings: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a summary.json entry adds for the postmortem, from one findings.json: Name tag, Auto Scaling
    group, incident time, verdict title, the fix (owner, verified), the change and the last success."""
    findings = findings or {}
    verdict = findings.get("verdict") or {}
    incident = findings.get("incident") or {}
    cause = verdict.get("cause")
    change = verdict.get("change")
    return {
        "instance_name": incident.get("name"),
        "autoscaling_group": incident.get("autoscaling_group"),
        "incident_time": incident.get("failed_at") or incident.get("launched_at"),
        "title": cause_of(cause).title if cause in cause_ids() else None,
        "fix": primary_fix(findings.get("remediation") or [], findings.get("account_id")),
        "change": {k: change.get(k) for k in CHANGE_FIELDS} if isinstance(change, Mapping) else None,
        "last_success": verdict.get("last_success") if isinstance(verdict.get("last_success"), Mapping) else None,
    }


def primary_fix(remediation: Sequence[Mapping[str, Any]], account_id: str | None = None) -> dict[str, Any] | None:
    """The fix a person applies first: the first verified policy change, else the first policy change, else
    the first item; with who applies it (`owner`) and a `fingerprint` (same fix = same fingerprint)."""
    if not remediation:
        return None
    policy = [r for r in remediation if r.get("kind") in POLICY_FIX_KINDS]
    chosen = next((r for r in policy if r.get("verified")), None) or (policy[0] if policy else remediation[0])
    target = chosen.get("target")
    layer = chosen.get("layer") or {"key-policy": "key-policy", "kms-grant": "grant"}.get(str(chosen.get("kind")))
    account = account_of(target) or account_id or "?"
    owner = OWNERS.get(str(layer) if layer else _layer_of_target(target), "the owner of account {account}").format(
        account=account)
    document = chosen.get("document")
    return {"title": chosen.get("title") or str(chosen.get("kind")), "kind": chosen.get("kind"), "target": target,
            "layer": layer, "verified": bool(chosen.get("verified")), "owner": owner,
            "fingerprint": hashlib.sha256(json.dumps([chosen.get("kind"), target, document], sort_keys=True,
                                                     default=str).encode()).hexdigest()[:16]}


def _layer_of_target(target: Any) -> str:
    """The layer a fix without one changes, from what its target is: a key, an IAM principal, an SCP."""
    arn = str(target or "")
    if arn.startswith("arn:") and ":kms:" in arn:
        return "key-policy"
    if arn.startswith("arn:") and (":iam::" in arn or ":sts::" in arn):
        return "identity-policy"
    if arn.startswith("p-"):
        return "scp"
    return ""


def change_detail(change: Mapping[str, Any]) -> str:
    """A change's summary without its lead when the lead repeats the event, who and when (`X by ... (layer): `)."""
    summary = str(change.get("summary") or "")
    if summary.startswith(str(change.get("event_name"))) and "): " in summary:
        return summary.split("): ", 1)[1]
    return summary


def group_key(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """Incidents with the same key are one group: the change event (id, else name+time+who), then the cause
    and the refusing layer; an investigation that failed groups with the others that failed."""
    change = entry.get("change")
    if isinstance(change, Mapping) and (change.get("event_id") or change.get("event_name")):
        changed: tuple[str, ...] = ("change", str(change.get("event_id") or ""), str(change.get("event_name") or ""),
                   str(change.get("event_time") or "") if not change.get("event_id") else "",
                   str(change.get("principal_arn") or "") if not change.get("event_id") else "")
    else:
        changed = ("no-change",)
    if entry.get("status") != "ok":
        return (*changed, "investigation-failed", "")
    return (*changed, str(entry.get("cause") or "undetermined"), str(entry.get("denied_by") or ""))


def group_incidents(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """summary.json `groups`: one per group_key, those naming a change first, then by size, then by first
    failure; each: id, change, cause, denied_by, title, incidents (entry names), counts, blast_radius,
    first_failure, last_failure, fix (the first incident's, with `resolves`: all (the same fix for every
    incident), same-target (one edit of the same policy, each incident's statement in it) or first)."""
    buckets: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for entry in entries:
        buckets.setdefault(group_key(entry), []).append(entry)
    groups = [_group(members) for members in buckets.values()]
    groups.sort(key=lambda g: (g["change"] is None, g["status"] != "ok", -g["count"], g["first_failure"] or "~"))
    for number, group in enumerate(groups, 1):
        group["id"] = f"g{number}"
    return groups


def _group(members: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first = members[0]
    change = first.get("change")
    times = sorted(str(m["incident_time"]) for m in members if m.get("incident_time"))
    fixes: list[Mapping[str, Any]] = [m["fix"] for m in members if isinstance(m.get("fix"), Mapping)]
    fingerprints = {f["fingerprint"] for f in fixes}
    targets = {(f.get("kind"), f.get("target")) for f in fixes}
    fix = dict(fixes[0]) if fixes else None
    if fix is not None:
        fix.pop("fingerprint", None)
        every = len(fixes) == len(members)
        # all: one document fixes every incident; same-target: one edit of one policy (each incident's
        # statement in it); first: different policies, one fix per incident
        fix["resolves"] = ("all" if every and len(fingerprints) == 1 else
                           "same-target" if every and len(targets) == 1 else "first")
        fix["distinct_fixes"] = len(fingerprints)
    status = "ok" if first.get("status") == "ok" else "failed"
    cause = first.get("cause") if status == "ok" else None
    return {
        "id": "",
        "change": _group_change(change, members),
        "status": status,
        "cause": cause,
        "denied_by": first.get("denied_by") if status == "ok" else None,
        "title": first.get("title") if status == "ok" else "Investigation failed",
        "incidents": [str(m.get("name")) for m in members],
        "count": len(members),
        "blast_radius": {
            "instances": _distinct(m.get("instance_id") for m in members),
            "autoscaling_groups": _distinct(m.get("autoscaling_group") for m in members),
            "accounts": _distinct(m.get("account_id") for m in members),
            "regions": _distinct(m.get("region") for m in members),
            "principals": _distinct(m.get("principal_arn") for m in members),
            "keys": _distinct(m.get("key_arn") for m in members),
        },
        "first_failure": times[0] if times else None,
        "last_failure": times[-1] if times else None,
        "fix": fix,
    }


def _group_change(change: Any, members: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The group's change (its first incident's), with `denied_now` for the whole group: true when any
    incident's request is still denied as collected (the rollback is still needed), false when every incident
    says it is allowed again, None when none says; `undone_by` only when every incident is allowed again by the
    same change."""
    if not isinstance(change, Mapping):
        return None
    out = dict(change)
    states = [m["change"].get("denied_now") for m in members if isinstance(m.get("change"), Mapping)]
    known = [s for s in states if isinstance(s, bool)]
    out["denied_now"] = True if any(known) else (False if known and len(known) == len(members) else None)
    undone = {json.dumps(m["change"].get("undone_by"), sort_keys=True, default=str) for m in members
              if isinstance(m.get("change"), Mapping)}
    if out["denied_now"] is not False or len(undone) != 1:
        out["undone_by"] = None  # not every incident names the same change that allowed it again
    return out


def _distinct(values: Iterable[Any]) -> list[str]:
    return sorted({str(v) for v in values if v})
