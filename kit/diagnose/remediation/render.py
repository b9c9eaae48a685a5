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


def heredoc_argument(document: dict[str, Any]) -> str:
    """A shell argument holding the document inline (bash, zsh: a quoted here-document, nothing to expand),
    so a command pastes in one go with no file to create."""
    return "\"$(cat <<'EOF'\n" + json.dumps(document, indent=2) + "\nEOF\n)\""


def add_to_key_policy_cli(key: str, region: str, statements: list[dict[str, Any]]) -> str:
    """One paste that adds statements to a key policy the kit cannot read: read it, append them (jq), put it
    back (run by a principal of the key's account allowed to)."""
    added = "\"$(cat <<'EOF'\n" + json.dumps(statements, indent=2) + "\nEOF\n)\""
    read = (f"aws kms get-key-policy --key-id {key} --policy-name default --region {region} --query Policy "
            "--output text")
    return (cli("put-key-policy", key=key, region=region) +
            f" --policy \"$({read} | jq -c --argjson add {added} '.Statement += $add')\"")


def policy_cli(change: PolicyChange, region: str, *, launcher_class: str | None = None) -> dict[str, Any]:
    """The one-paste shell block that puts a policy change in place (the document inline), as the only
    command; `files` stays empty (nothing to create by hand)."""
    if change.document is None:
        return {"commands": [], "files": {}}
    document = heredoc_argument(change.document)
    replaced = change.replaces or ""
    if change.layer == "key-policy":
        command = cli("put-key-policy", key=change.target, region=_key_region(change.target, region)) + (
            f" --policy {document}")
    elif change.layer == "scp":
        command = cli("update-scp", policy_id=change.target) + f" --content {document}"
    elif change.layer == "session-policy":
        command = session_policy_command(change.principal or change.target or "", launcher_class, document)
    elif change.layer == "permissions-boundary" or replaced.startswith(("managed:", "group-managed:")):
        command = cli("five-versions", policy_arn=change.target) + "\n" + cli(
            "create-policy-version", policy_arn=change.target) + f" --policy-document {document}"
    else:
        principal = change.principal or change.target or ""
        policy_name = _inline_name(change)
        if replaced.startswith("group-inline:"):
            group = replaced.partition(":")[2].partition("/")[0]
            command = cli("put-group-policy", name=group, policy_name=policy_name)
        elif ":user/" in principal:
            command = cli("put-user-policy", name=_principal_name(principal), policy_name=policy_name)
        else:
            command = cli("put-role-policy", name=_principal_name(principal), policy_name=policy_name)
        command += f" --policy-document {document}"
    return {"commands": [command], "files": {}}


def session_policy_command(role_arn: str, launcher_class: str | None, document: str) -> str:
    """The call that creates the next session with the new session policy: AssumeRoleWithWebIdentity for a
    CI role reached by web identity, AssumeRole otherwise."""
    template = "assume-role-web-identity" if launcher_class in WEB_IDENTITY_CLASSES else "assume-role"
    return cli(template, role=role_arn) + f" --policy {document}"


# Launcher classes (ids of kit/diagnose/launchers.yaml whose match is a web identity provider) that get their
# credentials through web identity federation.
WEB_IDENTITY_CLASSES = ("ci-web-identity-role", "kubernetes-workload-role")


def policy_terraform(change: PolicyChange, principal_arn: str | None, *, scp_name: str | None = None) -> str:
    """A Terraform snippet for a policy change (an SCP keeps its real name: `scp_name`)."""
    if change.document is None:
        return ""
    document = _indented(change.document)
    resource = _resource_name(change)
    if change.layer == "key-policy":
        return terraform("key-policy", resource=resource, key=change.target, document=document)
    if change.layer == "scp":
        return terraform("scp", resource=resource, name=scp_name or change.target, policy_id=change.target,
                         document=document)
    if change.layer == "session-policy":
        return ""
    replaced = change.replaces or ""
    if change.layer == "permissions-boundary" or replaced.startswith(("managed:", "group-managed:")):
        return terraform("managed-policy", resource=resource, policy_arn=change.target,
                         name=(change.target or "").rsplit("/", 1)[-1], document=document)
    principal = change.principal or change.target or principal_arn or ""
    if replaced.startswith("group-inline:"):
        return terraform("group-policy", resource=resource, policy_name=_inline_name(change),
                         name=replaced.partition(":")[2].partition("/")[0], document=document)
    template = "user-policy" if ":user/" in principal else "role-policy"
    return terraform(template, resource=resource, policy_name=_inline_name(change),
                     name=_principal_name(principal), document=document)


def _key_region(key: str | None, region: str) -> str:
    return key.split(":")[3] if key and key.count(":") >= 5 else region


def _inline_name(change: PolicyChange) -> str:
    if change.replaces and change.replaces.startswith("inline:"):
        return change.replaces.split(":", 1)[1]
    if change.replaces and change.replaces.startswith("group-inline:"):
        return change.replaces.partition(":")[2].partition("/")[2]
    return change.policy_name or "kit-remediation"


def _principal_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn


def _resource_name(change: PolicyChange) -> str:
    base = change.policy_name or change.layer
    return re.sub(r"[^A-Za-z0-9_]", "_", base.split(":")[-1].rsplit("/", 1)[-1]).strip("_").lower() or "kit"


def _indented(document: dict[str, Any]) -> str:
    return "\n".join("    " + line for line in json.dumps(document, indent=2).splitlines())


def reread_command(change: PolicyChange) -> str:
    """The AWS CLI command that reads the current document a change replaces."""
    replaced, target = change.replaces or "", change.target or ""
    if change.layer == "key-policy":
        return f"aws kms get-key-policy --key-id {target} --policy-name default --region {_key_region(target, '')}"
    if change.layer == "scp":
        return f"aws organizations describe-policy --policy-id {target}"
    if change.layer == "permissions-boundary" or replaced.startswith(("managed:", "group-managed:")):
        return (f"aws iam get-policy-version --policy-arn {target} --version-id \"$(aws iam get-policy "
                f"--policy-arn {target} --query Policy.DefaultVersionId --output text)\"")
    if replaced.startswith("group-inline:"):
        group, _, name = replaced.partition(":")[2].partition("/")
        return f"aws iam get-group-policy --group-name {group} --policy-name {name}"
    if replaced.startswith("inline:"):
        principal = change.principal or ""
        kind = "user" if ":user/" in principal else "role"
        return (f"aws iam get-{kind}-policy --{kind}-name {_principal_name(principal)} "
                f"--policy-name {_inline_name(change)}")
    return ""
