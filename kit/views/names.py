"""Short names for what a report names (principal, key, SCP) with the full ARN kept for hover, and links.

`Names.from_frames(frames)` reads key aliases (kms list-aliases) and SCP names (organizations describe-policy /
list-policies-for-target) from the evidence frames; `name_html` renders a short name as an escaped `<abbr>`
whose title is the full ARN, linked to the AWS console when there is a console page for it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kit.views import console

if TYPE_CHECKING:
    from kit.frames import Frames

_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::(\d{12}|X+\d{4}):(user|role|assumed-role|root|federated-user)"
                        r"(?:/(?:.*/)?([^/]+?))?(?:/([^/]+))?$")
_SCP_LABEL = re.compile(r"^scp:([^/]+)/(p-[0-9A-Za-z_]+)$")
KINDS = {"user": "IAM user", "role": "IAM role", "assumed-role": "role session", "federated-user": "federated user",
         "root": "account root"}


@dataclass(frozen=True)
class Names:
    """Aliases of keys (key ARN -> alias names), AWS managed keys, and SCP names (policy id -> name)."""

    key_aliases: dict[str, list[str]] = field(default_factory=dict)
    aws_managed_keys: frozenset[str] = frozenset()
    scp_names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_frames(cls, frames: Frames | None) -> Names:
        if frames is None:
            return cls()
        aliases: dict[str, list[str]] = {}
        for row in frames.aliases.to_dict("records") if len(frames.aliases) else []:
            if isinstance(row.get("key_arn"), str) and isinstance(row.get("alias_name"), str):
                aliases.setdefault(row["key_arn"], []).append(row["alias_name"])
        for row in frames.keys.to_dict("records") if len(frames.keys) else []:
            listed = row.get("aliases")
            if isinstance(row.get("key_arn"), str) and isinstance(listed, list):
                for alias in listed:
                    if isinstance(alias, str) and alias not in aliases.setdefault(row["key_arn"], []):
                        aliases[row["key_arn"]].append(alias)
        managed = frozenset(str(r["key_arn"]) for r in (frames.keys.to_dict("records") if len(frames.keys) else [])
                            if r.get("key_manager") == "AWS" and isinstance(r.get("key_arn"), str))
        scps: dict[str, str] = {}
        statements = frames.identity_statements
        if len(statements):
            for row in statements[statements["source"] == "scp"].to_dict("records"):
                arn, name = row.get("policy_arn"), row.get("policy_name")
                if isinstance(arn, str) and isinstance(name, str) and name:
                    scps[arn.rsplit("/", 1)[-1]] = name
        return cls({k: sorted(v) for k, v in aliases.items()}, managed, scps)

    def key(self, key_arn: str | None) -> str:
        """A key's alias (`alias/app-data`), else `key 1234abcd…` (its id's first part)."""
        if not key_arn:
            return ""
        listed = self.key_aliases.get(key_arn)
        if listed:
            return listed[0]
        return f"key {key_arn.rsplit('/', 1)[-1].split('-')[0]}…" if "/" in key_arn else key_arn

    def principal(self, arn: str | None) -> str:
        """`test (IAM user)`, `Deployer (role session deploy-1)`; the ARN itself when it is not an IAM one."""
        if not arn:
            return ""
        match = _PRINCIPAL.match(arn)
        if not match:
            return arn
        _, _, kind, name, session = match.groups()
        if kind == "assumed-role":
            return f"{name} (role session {session})" if session else f"{name} (role session)"
        if kind == "root":
            return "account root"
        return f"{name or arn} ({KINDS.get(kind, kind)})"

    def policy(self, policy_label: str) -> str:
        """A kit.policy Policy name as a reader says it: an SCP by its name, `inline:X` as `inline policy X`."""
        scp = _SCP_LABEL.match(policy_label)
        if scp:
            target, policy_id = scp.groups()
            name = self.scp_names.get(policy_id)
            return f"SCP {name} ({policy_id}, attached to {target})" if name else f"SCP {policy_id} (attached to {target})"
        if policy_label.startswith("inline:"):
            return f"inline policy {policy_label[len('inline:'):]}"
        if policy_label.startswith("managed:"):
            return f"managed policy {policy_label[len('managed:'):].rsplit('/', 1)[-1]}"
        return policy_label


def name_html(short: str, full: str | None, url: str | None) -> str:
    """A short name with the full ARN on hover, linked to `url` when there is one; all escaped."""
    if not short:
        return ""
    inner = (f'<abbr title="{html.escape(full, quote=True)}">{html.escape(short)}</abbr>' if full and full != short
             else html.escape(short))
    if url:
        return (f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer" '
                f'title="{html.escape(full or short, quote=True)} in the AWS console">{inner}</a>')
    return inner


def key_html(names: Names, key_arn: str | None) -> str:
    """A key by alias, full ARN on hover, linked to its KMS console page."""
    if not key_arn:
        return ""
    return name_html(names.key(key_arn), key_arn, console.key_url(key_arn, aws_managed=key_arn in names.aws_managed_keys))


def principal_html(names: Names, arn: str | None) -> str:
    """A principal by short name, full ARN on hover, linked to its IAM console page."""
    return name_html(names.principal(arn), arn, console.principal_url(arn or "")) if arn else ""


def scp_id_of(policy_label: str) -> str | None:
    """The SCP id in a kit.policy Policy name `scp:<target>/<p-id>`, else None."""
    match = _SCP_LABEL.match(policy_label)
    return match.group(2) if match else None


def shorten_arns(text_value: str, names: Names, arns: dict[str, Any]) -> str:
    """Escaped `text_value` with each ARN in `arns` (ARN -> 'key' | 'principal') written as its short name."""
    out = html.escape(text_value.replace("\x00", ""))
    rendered: list[str] = []
    for arn, kind in sorted(arns.items(), key=lambda item: -len(item[0])):
        if arn and html.escape(arn) in out:  # a placeholder first, so a shorter ARN never matches inside a title
            out = out.replace(html.escape(arn), f"\x00{len(rendered)}\x00")
            rendered.append(key_html(names, arn) if kind == "key" else principal_html(names, arn))
    return re.sub("\x00(\\d+)\x00", lambda m: rendered[int(m.group(1))], out)
