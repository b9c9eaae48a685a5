"""Verification of a policy change set: every KMS call the launch needs is allowed with it, against which
layers, and nothing broader than needed is granted."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from kit.diagnose.authorization import STAND_IN_PREFIX, Authorization
from kit.diagnose.remediation.changes import USE_ACTIONS, PolicyChange
from kit.policy import Grant, Policy, PolicySet, Request, evaluate, what_if

# What a launch that creates encrypted volumes asks KMS for as the launcher, besides CreateGrant.
NEW_VOLUME_ACTIONS = USE_ACTIONS
_LABEL = re.compile(r'Statement\[\d+\]( "[^"]*")?')
IDENTITY_LAYERS = ("identity-policy", "permissions-boundary", "scp", "session-policy")
# Context keys only a CreateGrant request carries.
GRANT_ONLY_KEYS = ("kms:GrantIsForAWSResource", "kms:GrantOperations", "kms:GranteePrincipal",
                   "kms:RetiringPrincipal", "kms:GrantConstraintType")
LAYER_WORDS = {"identity-policy": "identity policies", "key-policy": "key policy",
               "permissions-boundary": "permissions boundary", "scp": "SCPs", "session-policy": "session policy"}


@dataclass(frozen=True)
class Verification:
    """How far a change set was checked: `verified` (every layer known and allowed), `status` one of
    verified | verified-in-evidence | not-verified, the layers checked and those not in the evidence, the
    KMS calls checked, and a sentence for people."""

    verified: bool
    status: str
    note: str
    checked_against: tuple[str, ...] = ()
    not_in_evidence: tuple[str, ...] = ()
    checked_calls: tuple[str, ...] = ()


def needed_requests(request: Request, *, new_volumes: bool) -> list[Request]:
    """Every KMS call EC2 makes as the launcher for this launch, the failing one first: CreateGrant, and
    for a launch that creates volumes also GenerateDataKeyWithoutPlaintext, Decrypt, ReEncrypt* and
    DescribeKey through EC2 (same caller, key and origin)."""
    out = [request]
    if ":assumed-role/aws:ec2-infrastructure/" in request.principal_arn:
        return out  # the instance's infrastructure role: only its own call (Decrypt through EC2's grant)
    if not new_volumes:
        if request.action.lower() != "kms:creategrant":
            out.append(replace(request, action="kms:CreateGrant"))
        return out
    base = {k: v for k, v in request.context.items() if k not in GRANT_ONLY_KEYS}
    for action in ("kms:CreateGrant", *NEW_VOLUME_ACTIONS):
        if action.lower() == request.action.lower():
            continue
        context = dict(request.context) if action == "kms:CreateGrant" else dict(base)
        out.append(replace(request, action=action, context=context))
    return out


def layers_in(policies: PolicySet, unknown: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the layers the evaluator applied from the evidence, the layers not in the evidence)."""
    checked: list[str] = []
    if policies.identity and not all(p.name.startswith(STAND_IN_PREFIX) for p in policies.identity):
        checked.append("identity-policy")
    if policies.boundary is not None and not policies.boundary.name.startswith(STAND_IN_PREFIX):
        checked.append("permissions-boundary")
    if policies.session_policies:
        checked.append("session-policy")
    if policies.scps and not all(p.name.startswith(STAND_IN_PREFIX) for level in policies.scps for p in level):
        checked.append("scp")
    if policies.resource_policy is not None and not policies.resource_policy.name.startswith(STAND_IN_PREFIX):
        checked.append("key-policy")
    checked = [c for c in checked if c not in unknown]
    return tuple(checked), tuple(dict.fromkeys(unknown))


def verify(auth: Authorization, changes: list[PolicyChange], after: PolicySet, *, new_volumes: bool,
           unseen: list[str] | None = None, requests: list[Request] | None = None) -> Verification:
    """The evaluator allows every KMS call the launch needs with the changes, and they grant nothing
    broader than needed. `unseen`: layers beyond auth.unknown_layers the evidence does not show (a role
    session's session policy)."""
    missing = list(auth.unknown_layers) + [u for u in (unseen or []) if u not in auth.unknown_layers]
    checked, not_seen = layers_in(after, missing)
    requests = requests or needed_requests(auth.request, new_volumes=new_volumes)
    calls = tuple(r.action for r in requests)

    def result(ok: bool, status: str, note: str) -> Verification:
        return Verification(ok, status, note, checked, not_seen, calls)

    if not changes:
        return result(False, "not-verified", "not verified: no policy change found that the kit could check")
    if any(not c.possible for c in changes):
        return result(False, "not-verified", "not verified: part of the fix is outside what a policy edit can change")
    refused = [(r.action, evaluate(r, after)) for r in requests]
    still = [(action, d) for action, d in refused if not d.allowed]
    if still:
        action, decision = still[0]
        return result(False, "not-verified", f"not verified: the evaluator still denies {action} "
                                             f"({decision.decided_by})")
    outcome = what_if(auth.request, auth.policies, after)
    needed = {f"{auth.request.principal_arn} may {action} on {auth.request.resource}".lower()
              for action in calls}
    # a corrected condition gives back what its statement was written to allow, and only that
    corrected = [m.group(0) for c in changes if c.text == "lint-correction" and c.statement
                 for m in _LABEL.finditer(c.statement)]
    broader = [b for b in outcome.broadened if not any(b.lower().startswith(n) for n in needed)
               and not any(f"{label})" in b for label in corrected)]
    if broader:
        return result(False, "not-verified", "not verified: the change also allows " + "; ".join(broader[:3]))
    problems = [p for c in changes for p in too_broad(c, auth.policies)]
    if problems:
        return result(False, "not-verified", "not verified: " + "; ".join(problems))
    against = ", ".join(LAYER_WORDS[c] for c in checked) or "no layer"
    names = list(dict.fromkeys(a.removeprefix("kms:") for a in calls))
    what = "the " + (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]) + " the launch needs"
    if not_seen:
        lacking = ", ".join(LAYER_WORDS.get(u, u) for u in not_seen)
        return result(False, "verified-in-evidence",
                      f"verified against every layer in the evidence ({lacking} not in the evidence): the "
                      f"evaluator allows {what} with this change set ({against}), and nothing broader")
    return result(True, "verified", f"verified against every layer ({against}): the evaluator allows {what} "
                                    "with this change set, and nothing broader")


def verify_grant(auth: Authorization, grant: Grant, requests: list[Request]) -> Verification:
    """A grant on the key for the refused principal: the evaluator (which models grants) allows every KMS call
    the launch needs with it, and the grant holds no operation the launch does not need."""
    after = replace(auth.policies, grants=[*auth.policies.grants, grant])
    checked, not_seen = layers_in(after, list(auth.unknown_layers))
    calls = tuple(r.action for r in requests)

    def result(ok: bool, status: str, note: str) -> Verification:
        return Verification(ok, status, note, checked, not_seen, calls)

    still = [(r.action, d) for r in requests if not (d := evaluate(r, after)).allowed]
    if still:
        return result(False, "not-verified", f"not verified: the evaluator still denies {still[0][0]} with the "
                                             f"grant ({still[0][1].decided_by})")
    needed = {a.removeprefix("kms:").lower() for a in calls}
    extra = [o for o in grant.operations if o.lower() not in needed]
    if extra:
        return result(False, "not-verified", "not verified: the grant also gives " + ", ".join(extra))
    names = list(dict.fromkeys(a.removeprefix("kms:") for a in calls))
    what = "the " + (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]) + " the launch needs"
    against = ", ".join(["grants"] + [LAYER_WORDS[c] for c in checked])
    if not_seen:
        lacking = ", ".join(LAYER_WORDS.get(u, u) for u in not_seen)
        return result(False, "verified-in-evidence", f"verified against every layer in the evidence ({lacking} not "
                                                     f"in the evidence): the evaluator allows {what} with the grant "
                                                     f"({against}), and nothing more")
    return result(True, "verified", f"verified against every layer ({against}): the evaluator allows {what} with "
                                    "the grant, and nothing more")


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
