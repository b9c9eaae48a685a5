"""Remediation rendered for people: explanation text, AWS CLI commands and Terraform, from remediation.yaml."""

from __future__ import annotations

import json
import re
from string import Template
from typing import Any

from kit.diagnose.metadata import load_data
from kit.diagnose.remediation.changes import PolicyChange


def text(entry: str, /, **values: Any) -> str:
    """One explanation of remediation.yaml `texts`, filled in."""
    return " ".join(Template(load_data("remediation.yaml")["texts"][entry]).safe_substitute(values).split())


def cli(entry: str, /, **values: Any) -> str:
    """One AWS CLI command of remediation.yaml `cli`, filled in."""
    return " ".join(Template(load_data("remediation.yaml")["cli"][entry]).safe_substitute(values).split())


def terraform(entry: str, /, **values: Any) -> str:
    """One Terraform snippet of remediation.yaml `terraform`, filled in."""
    return Template(load_data("remediation.yaml")["terraform"][entry]).safe_substitute(values)


def policy_cli(change: PolicyChange, region: str) -> dict[str, Any]:
    """The commands that put a policy change in place, and the files they read."""
    if change.document is None:
        return {"commands": [], "files": {}}
    file = _file_name(change)
    files = {file: change.document}
    replaced = change.replaces or ""
    if change.layer == "key-policy":
        command = cli("put-key-policy", key=change.target, file=file, region=region)
    elif change.layer == "scp":
        command = cli("update-scp", policy_id=change.target, file=file)
    elif change.layer == "permissions-boundary" or replaced.startswith(("managed:", "group-managed:")):
        command = cli("create-policy-version", policy_arn=change.target, file=file)
    else:
        principal = change.target or ""
        name = _principal_name(principal)
        policy_name = _inline_name(change)
        if replaced.startswith("group-inline:"):
            group, _, policy_name = replaced.partition(":")[2].partition("/")
            command = (f"aws iam put-group-policy --group-name {group} --policy-name {policy_name} "
                       f"--policy-document file://{file}")
        elif ":user/" in principal:
            command = cli("put-user-policy", name=name, policy_name=policy_name, file=file)
        else:
            command = cli("put-role-policy", name=name, policy_name=policy_name, file=file)
    return {"commands": [command], "files": files}


def policy_terraform(change: PolicyChange, principal_arn: str | None) -> str:
    """A Terraform snippet for a policy change."""
    if change.document is None:
        return ""
    document = _indented(change.document)
    resource = _resource_name(change)
    if change.layer == "key-policy":
        return terraform("key-policy", resource=resource, key=change.target, document=document)
    if change.layer == "scp":
        return terraform("scp", resource=resource, name=change.target, policy_id=change.target, document=document)
    replaced = change.replaces or ""
    if change.layer == "permissions-boundary" or replaced.startswith(("managed:", "group-managed:")):
        return terraform("managed-policy", resource=resource, policy_arn=change.target,
                         name=(change.target or "").rsplit("/", 1)[-1], document=document)
    principal = change.target or principal_arn or ""
    template = "user-policy" if ":user/" in principal else "role-policy"
    return terraform(template, resource=resource, policy_name=_inline_name(change),
                     name=_principal_name(principal), document=document)


def _file_name(change: PolicyChange) -> str:
    return {"key-policy": "key-policy.json", "scp": "scp.json", "permissions-boundary": "boundary.json"}.get(
        change.layer, "policy.json")


def _inline_name(change: PolicyChange) -> str:
    if change.replaces and change.replaces.startswith("inline:"):
        return change.replaces.split(":", 1)[1]
    return change.policy_name or "kit-remediation"


def _principal_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn


def _resource_name(change: PolicyChange) -> str:
    base = change.policy_name or change.layer
    return re.sub(r"[^A-Za-z0-9_]", "_", base.split(":")[-1].rsplit("/", 1)[-1]).strip("_").lower() or "kit"


def _indented(document: dict[str, Any]) -> str:
    return "\n".join("    " + line for line in json.dumps(document, indent=2).splitlines())
