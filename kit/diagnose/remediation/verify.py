"""Verification of a policy change set: allowed now, and nothing broader than needed."""

from __future__ import annotations

from typing import Any

from kit.diagnose.authorization import Authorization
from kit.diagnose.remediation.changes import PolicyChange
from kit.policy import Policy, PolicySet, what_if

# What a service-linked role that creates encrypted volumes needs besides CreateGrant (domain.md section 1).
NEW_VOLUME_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                      "kms:DescribeKey")
IDENTITY_LAYERS = ("identity-policy", "permissions-boundary", "scp", "session-policy")


def verify(auth: Authorization, changes: list[PolicyChange], after: PolicySet, *, new_volumes: bool) -> tuple[bool, str]:
    """(verified, why): the evaluator allows the failing request with the changes, and they grant nothing
    broader than needed."""
    if not changes:
        return False, "no policy change found that the kit could verify"
    if any(not c.possible for c in changes):
        return False, "part of the fix is outside what a policy edit can change"
    if auth.unknown_layers:
        return False, "not verified: the evidence lacks the " + ", ".join(auth.unknown_layers)
    result = what_if(auth.request, auth.policies, after)
    if not result.allowed:
        return False, f"not verified: the evaluator still denies ({result.decision.decided_by})"
    needed = {f"{auth.request.principal_arn} may {action} on {auth.request.resource}".lower()
              for action in (NEW_VOLUME_ACTIONS if new_volumes else ())}
    broader = [b for b in result.broadened if not any(b.lower().startswith(n) for n in needed)]
    if broader:
        return False, "not verified: the change also allows " + "; ".join(broader[:3])
    problems = [p for c in changes for p in too_broad(c, auth.policies)]
    if problems:
        return False, "not verified: " + "; ".join(problems)
    return True, "the evaluator allows the failing request with this change set, and nothing broader"


def too_broad(change: PolicyChange, before: PolicySet) -> list[str]:
    """Statements this change adds or alters that grant kms:* (or *), or Resource "*" on the principal's side."""
    if change.document is None:
        return []
    old = _previous_statements(before, change)
    out = []
    statements = change.document.get("Statement")
    statements = statements if isinstance(statements, list) else [statements]
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or statement in old:
            continue
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if any(a in ("*", "kms:*") for a in actions if isinstance(a, str)):
            out.append(f"{statement.get('Sid')} grants {actions}")
        resources = statement.get("Resource")
        resources = resources if isinstance(resources, list) else [resources]
        if change.layer in IDENTITY_LAYERS and "*" in resources:
            out.append(f'{statement.get("Sid")} uses Resource "*" for the principal')
    return out


def aws_ebs_policy(account_id: str, region: str) -> Policy:
    """The fixed key policy of the AWS managed key aws/ebs (its documented text)."""
    return Policy({"Version": "2012-10-17", "Id": "auto-ebs-2", "Statement": [
        {"Sid": "Allow access through EBS for all principals in the account that are authorized to use EBS",
         "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant",
                    "kms:DescribeKey"],
         "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": account_id,
                                        "kms:ViaService": f"ec2.{region}.amazonaws.com"}}},
        {"Sid": "Allow direct access to key metadata to the account", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"], "Resource": "*"}]},
        "key-policy (aws/ebs)")


def _previous_statements(before: PolicySet, change: PolicyChange) -> list[dict[str, Any]]:
    """The statements of the policy the change replaces (none for a new policy)."""
    if not change.replaces:
        return []
    policies = list(before.identity) + list(before.session_policies) + [p for lvl in before.scps for p in lvl]
    policies += [p for p in (before.boundary, before.resource_policy) if p is not None]
    for policy in policies:
        if policy.name == change.replaces:
            statements: Any = policy.document.get("Statement")  # a statement or a list of them
            return list(statements) if isinstance(statements, list) else [statements]
    return []
