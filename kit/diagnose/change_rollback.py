"""How to undo a recorded change (`verdict.change.rollback`): the AWS CLI call that reverses it, built from the
event's own request parameters and, for a replaced document, the document itself inline; or what to restore in
words when the call needs what the evidence lacks.

A command (it starts with `aws `) is safe to paste: notes follow it as a shell comment (`  # ...`), never inside
it, and a step whose value the evidence lacks is in the comment. Anything else is a sentence saying what to
restore. Pure: a Candidate (kit.diagnose.change_candidates) and the document the change replaced when the
evidence holds it. Every value comes from a CloudTrail record (attacker-controlled): each is quoted for a POSIX
shell, and the HTML that shows the text escapes it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Any

from kit.aws_ids import ACCOUNT_ID, PARENT_ID, region_of
from kit.diagnose.change_candidates import Candidate

MANAGEMENT = "  # in the organization's management account"


def rollback(change: Candidate, *, before: dict[str, Any] | None, previous_version: str | None = None) -> str:
    """The way back from `change`: a command where the event (and `before`, the document it replaced, when the
    evidence holds it) says everything it needs, else a sentence; "" for a change with no known undo.
    `previous_version`: the managed policy version that was the default before a CreatePolicyVersion."""
    build = _BUILDERS.get(change.event_name)
    return build(change, before, previous_version) if build is not None else ""


def _q(value: object) -> str:
    return shlex.quote(str(value))


def _inline_json(document: dict[str, Any]) -> str:
    return _q(json.dumps(document, separators=(",", ":")))


def _kms_region(change: Candidate, key: str) -> str:
    """` --region R`: the key ARN's Region, else the event's (a key id alone is looked up in the CLI's Region)."""
    region = region_of(key) or change.region or ""
    return f" --region {_q(region)}" if region else ""


def _principal_option(change: Candidate) -> str:
    role, user = change.param("roleName"), change.param("userName")
    if role:
        return f"role --role-name {_q(role)}"
    return f"user --user-name {_q(user)}" if user else ""


def _policy_call(who: str) -> str:
    """"role --role-name R" -> "role-policy --role-name R" (the IAM call's noun and its option)."""
    kind, option = who.split(" ", 1)
    return f"{kind}-policy {option}"


def _key_policy(change: Candidate, before: dict[str, Any] | None, _: str | None) -> str:
    key = change.key_ref() or change.param("keyId")
    if not key:
        return "Put back the key policy this call replaced."
    call = f"aws kms put-key-policy{_kms_region(change, str(key))} --key-id {_q(key)} --policy-name default"
    if before is not None:
        return f"{call} --policy {_inline_json(before)}  # the key policy this call replaced"
    return (f"{call} --policy file://restored.json  # restored.json: the key policy with the statement that allowed "
            "the request put back (the document this call replaced is not in the evidence)")


def _policy_version(change: Candidate, _: dict[str, Any] | None, previous: str | None) -> str:
    arn = change.param("policyArn")
    if not arn:
        return "Make the policy's previous default version its default again."
    if previous:
        return f"aws iam set-default-policy-version --policy-arn {_q(arn)} --version-id {_q(previous)}"
    return (f"aws iam list-policy-versions --policy-arn {_q(arn)}  # then make the version that was the default "
            f"before this call the default again: aws iam set-default-policy-version --policy-arn {_q(arn)} "
            "--version-id <that version>")


def _attach(change: Candidate, _: dict[str, Any] | None, __: str | None) -> str:
    who, arn = _principal_option(change), change.param("policyArn")
    return f"aws iam detach-{_policy_call(who)} --policy-arn {_q(arn)}" if who and arn else ""


def _detach(change: Candidate, _: dict[str, Any] | None, __: str | None) -> str:
    who, arn = _principal_option(change), change.param("policyArn")
    return f"aws iam attach-{_policy_call(who)} --policy-arn {_q(arn)}" if who and arn else ""


def _inline(change: Candidate, before: dict[str, Any] | None, _: str | None) -> str:
    who, policy = _principal_option(change), change.param("policyName")
    if not (who and policy):
        return ""
    if before is not None:
        return (f"aws iam put-{_policy_call(who)} --policy-name {_q(policy)} --policy-document "
                f"{_inline_json(before)}  # the document this call replaced")
    if change.event_name.startswith("Delete"):
        return f"Put back the inline policy {policy} this call deleted (its document is not in the evidence)."
    return f"Put back the inline policy {policy} as it was before this call (its earlier document is not in the evidence)."


def _boundary(change: Candidate, _: dict[str, Any] | None, __: str | None) -> str:
    who = _principal_option(change)
    return (f"Set the permissions boundary of the {who.split(' ', 1)[0]} back to the one it had before this call"
            if who else "")


def _enable_key(change: Candidate, _: dict[str, Any] | None, __: str | None) -> str:
    key = change.key_ref() or change.param("keyId")
    return f"aws kms enable-key{_kms_region(change, str(key))} --key-id {_q(key)}" if key else ""


def _cancel_deletion(change: Candidate, _: dict[str, Any] | None, __: str | None) -> str:
    key = change.key_ref() or change.param("keyId")
    if not key:
        return ""
    region = _kms_region(change, str(key))
    return (f"aws kms cancel-key-deletion{region} --key-id {_q(key)} && aws kms enable-key{region} --key-id {_q(key)}"
            "  # a key whose deletion is cancelled is left disabled")


def _scp_attach(change: Candidate, _: dict[str, Any] | None, __: str | None) -> str:
    policy, target = change.param("policyId"), change.param("targetId")
    return f"aws organizations detach-policy --policy-id {_q(policy)} --target-id {_q(target)}{MANAGEMENT}" \
        if policy and target else ""


def _scp_detach(change: Candidate, _: dict[str, Any] | None, __: str | None) -> str:
    policy, target = change.param("policyId"), change.param("targetId")
    return f"aws organizations attach-policy --policy-id {_q(policy)} --target-id {_q(target)}{MANAGEMENT}" \
        if policy and target else ""


def _scp_update(change: Candidate, before: dict[str, Any] | None, _: str | None) -> str:
    policy = change.param("policyId")
    if not policy:
        return ""
    if before is not None:
        return (f"aws organizations update-policy --policy-id {_q(policy)} --content {_inline_json(before)}"
                f"{MANAGEMENT}; the content this call replaced")
    return f"Put back the content SCP {policy} had before this call (in the organization's management account)."


def move_back(change: Candidate) -> str | None:
    """A MoveAccount's way back, `aws organizations move-account` with the recorded parents swapped; None when
    the recorded ids are not an account id and Organizations parent ids (nothing else reaches a command)."""
    account, source, destination = (str(change.param(n)) for n in ("accountId", "sourceParentId", "destinationParentId"))
    if not (ACCOUNT_ID.fullmatch(account) and PARENT_ID.fullmatch(source) and PARENT_ID.fullmatch(destination)):
        return None
    return (f"aws organizations move-account --account-id {account} --source-parent-id {destination} "
            f"--destination-parent-id {source}")


def _move_account(change: Candidate, _: dict[str, Any] | None, __: str | None) -> str:
    command = move_back(change)
    if command is None:
        return "Move the account back under its former parent, or change the SCPs that deny the request."
    return (f"{command}{MANAGEMENT}; or change the SCPs of {change.param('destinationParentId')} so that they allow "
            "the request")


def _ebs_default(change: Candidate, _: dict[str, Any] | None, __: str | None) -> str:
    region = change.region or ""
    where = f" --region {_q(region)}" if region else ""
    return (f"Set the Region's default EBS key back to the one it had before: aws ec2 modify-ebs-default-kms-key-id"
            f"{where} --kms-key-id <that key> (aws ec2 reset-ebs-default-kms-key-id{where} when it was aws/ebs)")


def _ebs_encryption(change: Candidate, _: dict[str, Any] | None, __: str | None) -> str:
    region = change.region or ""
    return f"aws ec2 disable-ebs-encryption-by-default{f' --region {_q(region)}' if region else ''}"


_BUILDERS: dict[str, Callable[[Candidate, dict[str, Any] | None, str | None], str]] = {
    "PutKeyPolicy": _key_policy,
    "CreatePolicyVersion": _policy_version, "SetDefaultPolicyVersion": _policy_version,
    "AttachRolePolicy": _attach, "AttachUserPolicy": _attach,
    "DetachRolePolicy": _detach, "DetachUserPolicy": _detach,
    "PutRolePolicy": _inline, "PutUserPolicy": _inline, "DeleteRolePolicy": _inline, "DeleteUserPolicy": _inline,
    "PutRolePermissionsBoundary": _boundary, "PutUserPermissionsBoundary": _boundary,
    "DeleteRolePermissionsBoundary": _boundary, "DeleteUserPermissionsBoundary": _boundary,
    "DisableKey": _enable_key, "ScheduleKeyDeletion": _cancel_deletion,
    "AttachPolicy": _scp_attach, "DetachPolicy": _scp_detach, "UpdatePolicy": _scp_update,
    "MoveAccount": _move_account,
    "ModifyEbsDefaultKmsKeyId": _ebs_default, "EnableEbsEncryptionByDefault": _ebs_encryption,
}
