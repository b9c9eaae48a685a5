"""How to undo a recorded change (`verdict.change.rollback`): the AWS CLI call that reverses it, built from the
event's own request parameters, or what to restore in words when the call needs what the evidence lacks.

Pure: a Candidate (kit.diagnose.change_candidates) and whether the evidence holds the state before it. Every
value comes from a CloudTrail record (attacker-controlled): each is quoted for a POSIX shell, and the HTML
that shows the text escapes it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from kit.diagnose.change_candidates import Candidate

MANAGEMENT = " (in the organization's management account)"


def rollback(change: Candidate, *, before_known: bool, previous_version: str | None = None) -> str:
    """The way back from `change`: a command where the event says everything it needs, else a sentence;
    "" for a change with no known undo. `before_known`: the evidence holds the document the change replaced
    (`verdict.change.before`); `previous_version`: the managed policy version that was the default before a
    CreatePolicyVersion."""
    name = change.event_name
    build = _BUILDERS.get(name)
    if build is not None:
        return build(change, before_known, previous_version)
    return ""


def _q(value: object) -> str:
    return shlex.quote(str(value))


def _principal_option(change: Candidate) -> str:
    role, user = change.param("roleName"), change.param("userName")
    if role:
        return f"role --role-name {_q(role)}"
    return f"user --user-name {_q(user)}" if user else ""


def _policy_call(who: str) -> str:
    """"role --role-name R" -> "role-policy --role-name R" (the IAM call's noun and its option)."""
    kind, option = who.split(" ", 1)
    return f"{kind}-policy {option}"


def _key_policy(change: Candidate, before_known: bool, _: str | None) -> str:
    key = change.key_ref() or change.param("keyId")
    if not key:
        return "Put back the key policy this call replaced."
    if before_known:
        return (f"aws kms put-key-policy --key-id {_q(key)} --policy-name default --policy file://before.json "
                "(before.json: the key policy this call replaced, verdict.change.before)")
    return (f"Restore the statement of key {key}'s policy that allowed the request (the document this call "
            "replaced is not in the evidence): aws kms put-key-policy --key-id "
            f"{_q(key)} --policy-name default --policy file://restored.json")


def _policy_version(change: Candidate, _: bool, previous: str | None) -> str:
    arn = change.param("policyArn")
    if not arn:
        return "Make the policy's previous version its default again."
    if previous:
        return f"aws iam set-default-policy-version --policy-arn {_q(arn)} --version-id {_q(previous)}"
    return (f"Make the previous version of {arn} its default again: aws iam list-policy-versions --policy-arn "
            f"{_q(arn)}, then aws iam set-default-policy-version --policy-arn {_q(arn)} --version-id <that version>")


def _attach(change: Candidate, _: bool, __: str | None) -> str:
    who, arn = _principal_option(change), change.param("policyArn")
    return f"aws iam detach-{_policy_call(who)} --policy-arn {_q(arn)}" if who and arn else ""


def _detach(change: Candidate, _: bool, __: str | None) -> str:
    who, arn = _principal_option(change), change.param("policyArn")
    return f"aws iam attach-{_policy_call(who)} --policy-arn {_q(arn)}" if who and arn else ""


def _inline(change: Candidate, before_known: bool, _: str | None) -> str:
    who, policy = _principal_option(change), change.param("policyName")
    if not (who and policy):
        return ""
    if before_known:
        return (f"aws iam put-{_policy_call(who)} --policy-name {_q(policy)} --policy-document "
                "file://before.json (before.json: the document this call replaced, verdict.change.before)")
    return f"Put back the inline policy {policy} as it was before this call (its earlier document is not in the evidence)."


def _boundary(change: Candidate, before_known: bool, _: str | None) -> str:
    who = _principal_option(change)
    return (f"Set the permissions boundary of the {who.split(' ', 1)[0]} back to the one it had before this call"
            if who else "")


def _enable_key(change: Candidate, _: bool, __: str | None) -> str:
    key = change.key_ref() or change.param("keyId")
    return f"aws kms enable-key --key-id {_q(key)}" if key else ""


def _cancel_deletion(change: Candidate, _: bool, __: str | None) -> str:
    key = change.key_ref() or change.param("keyId")
    return (f"aws kms cancel-key-deletion --key-id {_q(key)} && aws kms enable-key --key-id {_q(key)}"
            " (a key whose deletion is cancelled is left disabled)") if key else ""


def _scp_attach(change: Candidate, _: bool, __: str | None) -> str:
    policy, target = change.param("policyId"), change.param("targetId")
    return f"aws organizations detach-policy --policy-id {_q(policy)} --target-id {_q(target)}{MANAGEMENT}" \
        if policy and target else ""


def _scp_detach(change: Candidate, _: bool, __: str | None) -> str:
    policy, target = change.param("policyId"), change.param("targetId")
    return f"aws organizations attach-policy --policy-id {_q(policy)} --target-id {_q(target)}{MANAGEMENT}" \
        if policy and target else ""


def _scp_update(change: Candidate, before_known: bool, _: str | None) -> str:
    policy = change.param("policyId")
    if not policy:
        return ""
    if before_known:
        return (f"aws organizations update-policy --policy-id {_q(policy)} --content file://before.json{MANAGEMENT} "
                "(before.json: the content this call replaced, verdict.change.before)")
    return f"Put back the content SCP {policy} had before this call{MANAGEMENT}."


def _ebs_default(change: Candidate, _: bool, __: str | None) -> str:
    region = change.region or ""
    where = f" --region {_q(region)}" if region else ""
    return (f"Set the Region's default EBS key back to the one it had before: aws ec2 modify-ebs-default-kms-key-id"
            f"{where} --kms-key-id <that key> (aws ec2 reset-ebs-default-kms-key-id{where} when it was aws/ebs)")


def _ebs_encryption(change: Candidate, _: bool, __: str | None) -> str:
    region = change.region or ""
    return f"aws ec2 disable-ebs-encryption-by-default{f' --region {_q(region)}' if region else ''}"


_BUILDERS: dict[str, Callable[[Candidate, bool, str | None], str]] = {
    "PutKeyPolicy": _key_policy,
    "CreatePolicyVersion": _policy_version, "SetDefaultPolicyVersion": _policy_version,
    "AttachRolePolicy": _attach, "AttachUserPolicy": _attach,
    "DetachRolePolicy": _detach, "DetachUserPolicy": _detach,
    "PutRolePolicy": _inline, "PutUserPolicy": _inline, "DeleteRolePolicy": _inline, "DeleteUserPolicy": _inline,
    "PutRolePermissionsBoundary": _boundary, "PutUserPermissionsBoundary": _boundary,
    "DeleteRolePermissionsBoundary": _boundary, "DeleteUserPermissionsBoundary": _boundary,
    "DisableKey": _enable_key, "ScheduleKeyDeletion": _cancel_deletion,
    "AttachPolicy": _scp_attach, "DetachPolicy": _scp_detach, "UpdatePolicy": _scp_update,
    "ModifyEbsDefaultKmsKeyId": _ebs_default, "EnableEbsEncryptionByDefault": _ebs_encryption,
}
