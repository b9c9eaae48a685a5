"""Policy changes that turn a denied request into an allow, one refusing layer at a time.

`fix_policies` asks the evaluator why the request is denied, makes the smallest change to that layer
(a scoped Allow statement, or an exception in the denying statement), and asks again, until the request is
allowed or no change the kit knows would help. Each change is a whole document: a new inline policy, or
the replacement of one existing policy (key policy, managed policy version, boundary, SCP).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, replace
from typing import Any

from kit.aws_ids import ASSUMED_ROLE_ARN
from kit.diagnose.metadata import load_data
from kit.policy import Decision, Policy, PolicySet, Request, evaluate

VERSION = "2012-10-17"
MAX_ROUNDS = 5
_STATEMENT_INDEX = re.compile(r"Statement\[(\d+)\]")
# What EC2 asks KMS as the launcher when a launch creates encrypted volumes, besides CreateGrant.
USE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo",
               "kms:DescribeKey")
# Condition keys that tie a request to a network or an origin: EC2's calls on the principal's behalf come
# from AWS's network, so a Deny on them needs the aws:ViaAWSService exception.
NETWORK_KEYS = ("aws:sourcevpc", "aws:sourcevpce", "aws:sourceip", "aws:vpcsourceip", "aws:sourcevpcarn",
                "aws:sourceorgid", "aws:sourceorgpaths")


@dataclass(frozen=True)
class PolicyChange:
    """One document to put in place of (or beside) the evidence's policies."""

    layer: str  # identity-policy | key-policy | permissions-boundary | scp | session-policy
    target: str | None  # principal ARN, key ARN, policy ARN, or SCP id
    document: dict[str, Any] | None  # the whole new document (None: no document change possible)
    replaces: str | None  # the Policy.name it replaces in the PolicySet; None = a new identity policy
    text: str  # remediation.yaml texts key
    statement: str | None = None  # the statement changed, for the text
    policy_name: str | None = None  # new inline policy's name, or the replaced policy's name
    possible: bool = True  # False: the layer cannot be changed this way (session policy, AWS managed key)
    principal: str | None = None  # the IAM user or role ARN an inline policy belongs to (or the session's role)

    def apply(self, policies: PolicySet) -> PolicySet:
        """The PolicySet with this change made."""
        return apply_change(policies, self.layer, self.document, self.replaces, self.policy_name)


def apply_change(policies: PolicySet, layer: str, document: dict[str, Any] | None, replaces: str | None,
                 name: str | None = None) -> PolicySet:
    """Put one document into a PolicySet: replace the policy named `replaces`, or add a new identity policy."""
    if document is None:
        return policies
    new = Policy(document, replaces or f"inline:{name or 'kit-remediation'}")
    if layer == "key-policy":
        return replace(policies, resource_policy=new)
    if layer == "permissions-boundary":
        return replace(policies, boundary=new)
    if layer == "scp":
        return replace(policies, scps=[[new if p.name == replaces else p for p in level] for level in policies.scps])
    if layer == "session-policy":
        return replace(policies, session_policies=[new if p.name == replaces else p for p in policies.session_policies])
    if replaces:
        return replace(policies, identity=[new if p.name == replaces else p for p in policies.identity])
    return replace(policies, identity=list(policies.identity) + [new])


def fix_policies(requests: Request | list[Request], before: PolicySet, *, principal_kind: str,
                 key_manager: str | None, new_volumes: bool = False) -> tuple[list[PolicyChange], PolicySet]:
    """The changes, in order, and the PolicySet with all of them made, until every request (the failing one
    first, then every other KMS call the launch needs) is allowed. `new_volumes`: the launch creates volumes
    (RunInstances), so the launcher also needs to use the key, not only grant it."""
    pending = [requests] if isinstance(requests, Request) else list(requests)
    after = before
    changes: list[PolicyChange] = []
    rounds = 0
    for request in pending:
        decision = evaluate(request, after)
        while not decision.allowed and rounds < MAX_ROUNDS * max(1, len(pending)):
            rounds += 1
            change = _fix_one(request, after, decision, principal_kind, key_manager, new_volumes)
            if change is None:
                break
            changes.append(change)
            if not change.possible:
                return changes, after
            after = change.apply(after)
            again = evaluate(request, after)
            if not again.allowed and (again.decided_by, again.layer, again.statement) == (
                    decision.decided_by, decision.layer, decision.statement):
                break  # the change did not move the refusal: stop rather than repeat it
            decision = again
    return _merged(changes), after


def _merged(changes: list[PolicyChange]) -> list[PolicyChange]:
    """One change per document: a later change of the same policy (or a second new identity policy) replaces
    the earlier one, since each holds the whole document with the earlier edits in it."""
    out: list[PolicyChange] = []
    for change in changes:
        same = [i for i, c in enumerate(out) if c.layer == change.layer and c.replaces == change.replaces
                and (c.replaces is not None or c.policy_name == change.policy_name)]
        if same:
            earlier = out[same[0]]
            if change.replaces is None and earlier.document and change.document:
                merged = earlier.document
                for statement in _statement_list(change.document):
                    if statement not in _statement_list(merged):
                        merged = _with_statement(merged, statement)
                change = replace(change, document=merged)
            out[same[0]] = change
        else:
            out.append(change)
    return out


def _statement_list(document: dict[str, Any]) -> list[Any]:
    statements = document.get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]


def role_of(principal_arn: str) -> str:
    """The IAM role ARN behind a role session ARN (without its path, which the session ARN does not show);
    any other ARN as it is."""
    match = ASSUMED_ROLE_ARN.match(principal_arn)
    if not match:
        return principal_arn
    return f"arn:{match['partition']}:iam::{match['account']}:role/{match['role']}"


def scoped_identity_statement(key_arn: str) -> dict[str, Any]:
    """The seed's statement: CreateGrant on the key ARN, only for AWS resources."""
    return {"Sid": _names()["statement_sid"], "Effect": "Allow", "Action": "kms:CreateGrant", "Resource": key_arn,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": True}}}


def use_through_ec2_statement(key_arn: str, region: str, sid: str | None = None) -> dict[str, Any]:
    """The use of the key EC2 makes as the launcher for new volumes, only through EC2 in this Region."""
    return {"Sid": sid or _names()["use_sid"], "Effect": "Allow", "Action": list(USE_ACTIONS), "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"ec2.{region}.amazonaws.com"}}}


def identity_statements(key_arn: str, *, new_volumes: bool) -> list[dict[str, Any]]:
    """The identity-side statements a launch needs on this key: CreateGrant for AWS resources; with new
    volumes also the use of the key through EC2."""
    statements = [scoped_identity_statement(key_arn)]
    if new_volumes:
        statements.append(use_through_ec2_statement(key_arn, _region_of(key_arn)))
    return statements


def key_policy_statements(principal_arn: str, region: str, account: str | None, *,
                          service_linked: bool, new_volumes: bool) -> list[dict[str, Any]]:
    """Key-policy statements naming the principal: CreateGrant for AWS resources; for a launch that creates
    volumes, also the use of the key through EC2 (the AWS-documented pair)."""
    names = _names()
    grant = {"Sid": names["slr_grant_sid"] if service_linked else names["key_statement_sid"], "Effect": "Allow",
             "Principal": {"AWS": principal_arn}, "Action": "kms:CreateGrant", "Resource": "*",
             "Condition": {"Bool": {"kms:GrantIsForAWSResource": True}}}
    if not new_volumes:
        return [grant]
    condition: dict[str, Any] = {"StringEquals": {"kms:ViaService": f"ec2.{region}.amazonaws.com"}}
    if account:
        condition["StringEquals"]["kms:CallerAccount"] = account
    use = {"Sid": names["slr_use_sid"] if service_linked else names["key_use_sid"], "Effect": "Allow",
           "Principal": {"AWS": principal_arn}, "Action": list(USE_ACTIONS), "Resource": "*", "Condition": condition}
    return [use, grant]


def _region_of(arn: str) -> str:
    return arn.split(":")[3] if arn.count(":") >= 5 else ""


def _fix_one(request: Request, policies: PolicySet, decision: Decision, principal_kind: str,
             key_manager: str | None, new_volumes: bool) -> PolicyChange | None:
    key_arn = request.resource
    # a refused use call (GenerateDataKeyWithoutPlaintext, Decrypt, ...) needs the use statements too
    new_volumes = new_volumes or request.action.lower() != "kms:creategrant"
    if decision.decided_by == "explicit-deny":
        return _exempt(request, policies, decision)
    layer = decision.decided_by
    if layer == "identity-policy" and ":assumed-role/aws:ec2-infrastructure/" in request.principal_arn:
        return None  # the instance's infrastructure role is EC2's: never an IAM change
    corrected = _lint_correction(request, policies, layer)
    if corrected is not None:
        return corrected
    if layer == "identity-policy":
        if principal_kind == "service-linked-role":
            return _key_policy_change(request, policies, key_manager, service_linked=True, new_volumes=new_volumes)
        name = _names()["iam_policy"]
        document = {"Version": VERSION, "Statement": identity_statements(key_arn, new_volumes=new_volumes)}
        principal = role_of(request.principal_arn)
        return PolicyChange("identity-policy", principal, document, None, "identity-allow",
                            policy_name=name, principal=principal)
    if layer == "key-policy":
        return _key_policy_change(request, policies, key_manager,
                                  service_linked=principal_kind == "service-linked-role", new_volumes=new_volumes)
    if layer == "permissions-boundary" and policies.boundary is not None:
        document = policies.boundary.document
        for statement in identity_statements(key_arn, new_volumes=new_volumes):
            document = _with_statement(document, statement)
        return PolicyChange("permissions-boundary", _policy_ref(policies.boundary.name), document,
                            policies.boundary.name, "boundary-allow", policy_name=policies.boundary.name)
    if layer == "scp":
        level = _refusing_scp_level(request, policies)
        if level is None or not policies.scps[level]:
            return None
        target = policies.scps[level][0]
        document = target.document
        for statement in identity_statements(key_arn, new_volumes=new_volumes):
            document = _with_statement(document, statement)
        return PolicyChange("scp", _policy_ref(target.name), document, target.name, "scp-allow",
                            policy_name=target.name)
    if layer == "session-policy":
        return session_policy_change(request, policies, new_volumes)
    return None


def session_policy_change(request: Request, policies: PolicySet, new_volumes: bool) -> PolicyChange:
    """The session policy the next session passes: the current one (when the evidence shows it) with the
    statements the launch needs on this key. A session's own policy cannot change: a new session can."""
    current = policies.session_policies[0] if policies.session_policies else None
    document: dict[str, Any] = current.document if current is not None else {"Version": VERSION, "Statement": []}
    for statement in identity_statements(request.resource, new_volumes=new_volumes):
        document = _with_statement(document, statement)
    role = role_of(request.principal_arn)
    return PolicyChange("session-policy", role, document, current.name if current is not None else None,
                        "session-policy", policy_name=current.name if current is not None else "session-policy",
                        principal=role)


def _lint_correction(request: Request, policies: PolicySet, layer: str) -> PolicyChange | None:
    """When a statement of the refusing layer was written to allow this but its condition can never match
    (kit.policy.lint: a kms:ViaService naming another Region or an account id, a wildcard under an exact
    operator), the smallest fix is to correct that condition: tried first, kept when the evaluator then allows."""
    from kit.policy.lint import lint_policy

    candidates: list[Policy] = []
    if layer == "key-policy" and policies.resource_policy is not None:
        candidates = [policies.resource_policy]
    elif layer == "identity-policy":
        candidates = list(policies.identity)
    elif layer == "permissions-boundary" and policies.boundary is not None:
        candidates = [policies.boundary]
    region = _region_of(request.resource)
    for policy in candidates:
        findings = [f for f in lint_policy(policy.document, name=policy.name, region=region)
                    if f.effect == "Allow" and f.covers(request.action)]
        if not findings:
            continue
        document = copy.deepcopy(policy.document)
        statements = document["Statement"] if isinstance(document.get("Statement"), list) else [document["Statement"]]
        document["Statement"] = statements
        for finding in findings:
            index = int(_STATEMENT_INDEX.search(finding.statement).group(1))  # type: ignore[union-attr]  # lint labels always carry it
            _correct(statements[index], finding.operator, finding.key, finding.value, region)
        trial = apply_change(policies, layer, document, policy.name, policy.name)
        if evaluate(request, trial).decided_by == layer and not evaluate(request, trial).allowed:
            continue
        target = request.resource if layer == "key-policy" else _policy_ref(policy.name)
        principal = role_of(request.principal_arn) if layer == "identity-policy" else None
        label = "; ".join(f"{f.statement} {f.operator} {f.key} {f.value!r}" for f in findings)
        return PolicyChange(layer, target, document, policy.name, "lint-correction", statement=label,
                            policy_name="default" if layer == "key-policy" else policy.name, principal=principal)
    return None


def _correct(statement: dict[str, Any], operator: str, key: str, value: str, region: str) -> None:
    """Correct one never-matching condition value in place (kms:ViaService to the key's Region; an exact
    operator holding a wildcard to its Like form)."""
    block = statement["Condition"][operator]
    if key.lower() == "kms:viaservice" and "*" not in value and "?" not in value:
        service = value.split(".", 1)[0] or "ec2"
        fixed = f"{service}.{region}.amazonaws.com"
        values = block[key]
        block[key] = [fixed if v == value else v for v in values] if isinstance(values, list) else fixed
        return
    like = {"StringEquals": "StringLike", "StringNotEquals": "StringNotLike", "ArnEquals": "ArnLike",
            "ArnNotEquals": "ArnNotLike"}
    prefix, _, base = operator.rpartition(":")
    suffix = "IfExists" if base.endswith("IfExists") else ""
    new = like.get(base.removesuffix("IfExists"))
    if new:
        moved = statement["Condition"].pop(operator)
        statement["Condition"][(prefix + ":" if prefix else "") + new + suffix] = moved


def _key_policy_change(request: Request, policies: PolicySet, key_manager: str | None, *,
                       service_linked: bool, new_volumes: bool) -> PolicyChange:
    if key_manager == "AWS":
        return PolicyChange("key-policy", request.resource, None, None, "aws-managed", possible=False)
    if new_volumes is False and request.action.lower() != "kms:creategrant":
        new_volumes = True  # the refused call is one of the use calls: name the principal for them too
    current = policies.resource_policy.document if policies.resource_policy is not None else {
        "Version": VERSION, "Statement": []}
    region = request.resource.split(":")[3] if request.resource.count(":") >= 5 else ""
    account = request.principal_arn.split(":")[4] if request.principal_arn.count(":") >= 5 else None
    document = copy.deepcopy(current)
    for statement in key_policy_statements(request.principal_arn, region, account, service_linked=service_linked,
                                           new_volumes=new_volumes):
        document = _with_statement(document, statement)
    return PolicyChange("key-policy", request.resource, document, "key-policy",
                        "key-policy-name-slr" if service_linked else "key-policy-name-principal",
                        policy_name="default")


def _exempt(request: Request, policies: PolicySet, decision: Decision) -> PolicyChange | None:
    """Exempt exactly the failing request from the explicit Deny that refused it.

    EC2's grant: the Deny keeps refusing grants a person makes (kms:GrantIsForAWSResource absent or false).
    The instance's infrastructure role: the Deny stops applying to that role only. In an identity policy or
    SCP whose Deny covers Resource "*", the exception is limited to this key (the statement is split).
    """
    found = _find_statement(policies, decision)
    if found is None:
        return None
    layer, policy, index = found
    document = copy.deepcopy(policy.document)
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    document["Statement"] = statements
    statement = statements[index]
    operator, key, value = exception_for(request, statement)
    label = f'Statement[{index}]' + (f' "{statement["Sid"]}"' if statement.get("Sid") else "")
    resource = statement.get("Resource")
    if layer != "key-policy" and resource in ("*", ["*"]) and "NotResource" not in statement:
        others = {k: v for k, v in copy.deepcopy(statement).items() if k != "Resource"}
        others["NotResource"] = request.resource
        this = copy.deepcopy(statement)
        this["Resource"] = request.resource
        if this.get("Sid"):
            this["Sid"] = f"{this['Sid']}ThisKey"
        this.setdefault("Condition", {}).setdefault(operator, {})[key] = value
        statements[index:index + 1] = [others, this]
    else:
        statement.setdefault("Condition", {}).setdefault(operator, {})[key] = value
    target = request.resource if layer == "key-policy" else _policy_ref(policy.name)
    principal = role_of(request.principal_arn) if layer in ("identity-policy", "session-policy") else None
    return PolicyChange(layer, target, document, policy.name,
                        "deny-exception-network" if key == "aws:ViaAWSService" else "deny-exception",
                        statement=label, policy_name=policy.name, principal=principal)


def exception_for(request: Request, statement: dict[str, Any] | None = None) -> tuple[str, str, str]:
    """The condition that lifts a Deny for exactly this kind of request: a Deny on the caller's network or
    origin gets the exception for calls AWS services make on the principal's behalf (aws:ViaAWSService);
    EC2's grant the exception for grants to AWS resources; the instance's infrastructure role its role."""
    arn = request.principal_arn
    infrastructure = ":assumed-role/aws:ec2-infrastructure/" in arn
    via_service = str(request.context.get("aws:ViaAWSService", "")).lower() == "true"
    if via_service and not infrastructure and statement is not None and _condition_keys(statement) & set(NETWORK_KEYS):
        return "BoolIfExists", "aws:ViaAWSService", "false"
    if request.action.lower() == "kms:creategrant":
        return "BoolIfExists", "kms:GrantIsForAWSResource", "false"
    if via_service and not infrastructure:
        return "BoolIfExists", "aws:ViaAWSService", "false"
    if ":assumed-role/aws:ec2-infrastructure/" in arn:
        return "ArnNotLike", "aws:PrincipalArn", "arn:aws:iam::*:role/aws:ec2-infrastructure"
    return "ArnNotEquals", "aws:PrincipalArn", arn


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return set()
    return {str(key).lower() for block in condition.values() if isinstance(block, dict) for key in block}


def _find_statement(policies: PolicySet, decision: Decision) -> tuple[str, Policy, int] | None:
    ref = decision.statement or ""
    match = _STATEMENT_INDEX.search(ref)
    if not match:
        return None
    index = int(match.group(1))
    name = ref[: match.start()].strip()
    candidates: list[tuple[str, Policy]] = [("identity-policy", p) for p in policies.identity]
    candidates += [("session-policy", p) for p in policies.session_policies]
    candidates += [("scp", p) for level in policies.scps for p in level]
    if policies.boundary is not None:
        candidates.append(("permissions-boundary", policies.boundary))
    if policies.resource_policy is not None:
        candidates.append(("key-policy", policies.resource_policy))
    for layer, policy in candidates:
        if policy.name == name and index < len(policy.statements):
            return layer, policy, index
    return None


def _refusing_scp_level(request: Request, policies: PolicySet) -> int | None:
    for level in range(len(policies.scps)):
        trial = replace(policies, scps=[policies.scps[level]])
        decision = evaluate(request, trial)
        if not decision.allowed and decision.decided_by == "scp":
            return level
    return None


def _with_statement(document: dict[str, Any], statement: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(document)
    statements = out.get("Statement", [])
    statements = list(statements) if isinstance(statements, list) else [statements]
    sids = {s.get("Sid") for s in statements if isinstance(s, dict)}
    statement = dict(statement)
    if statement.get("Sid") in sids:
        statement["Sid"] = f"{statement['Sid']}{len(statements)}"
    statements.append(statement)
    out["Statement"] = statements
    out.setdefault("Version", VERSION)
    return out


def _policy_ref(name: str) -> str:
    """The thing a command names for a policy label: `managed:ARN`, `group-managed:Group/ARN`, `boundary:ARN`
    -> the ARN; `scp:r-xxxx/p-xxxx` -> `p-xxxx`; `inline:Name`, `group-inline:Group/Name` -> Name."""
    kind, _, rest = name.partition(":")
    if kind == "scp":
        return rest.rsplit("/", 1)[-1]
    if kind in ("group-managed", "group-inline"):
        return rest.partition("/")[2]
    return rest or name


def _names() -> dict[str, str]:
    names: dict[str, str] = load_data("remediation.yaml")["names"]
    return names
