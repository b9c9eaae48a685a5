"""The start decision: are EC2's KMS calls for a launch allowed by what the simulated world holds now?

A later StartInstances of a seeded failing instance asks this instead of replaying the scripted failure: each
KMS call of the launch is evaluated by kit.policy's evaluator over the current IAM policies of the launcher
(inline, managed, groups, permissions boundary), the SCPs of its account, the key policy with the key's
grants, and the key's state. So a fix applied through the API (put-user-policy, create-policy-version,
put-key-policy, update-policy, enable-key, create-grant, ...) changes what the next start does.

A session policy is not a document the world holds: it is passed when a session is created. The launcher's
scripted session was created with one that lets only EC2 through when the scenario's KMS errors name the
session policy; a start signed by a new session of the launcher's role (AssumeRole, with or without --policy)
is decided with that session's policy instead (`Session`). Failures that are not KMS's (capacity, quotas,
snapshots) stay as the scenario scripted them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit.policy import Grant, Policy, PolicySet, Request, evaluate
from kit.simulate import moto_state
from kit.simulate.launch import KmsCall, Launch
from kit.simulate.records import infrastructure_role_arn

# The session policy a scenario's session was created with when its KMS errors name the session policy:
# EC2 only (the GitHub Actions workflow's narrowing, as the session-policy scenario tells it).
EC2_ONLY_SESSION = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}


@dataclass(frozen=True)
class Session:
    """The launcher's own session that makes this start: the session policy it was created with (None: none)."""

    policy: dict[str, Any] | None


@dataclass(frozen=True)
class CallDecision:
    """One KMS call of the launch and the evaluator's answer (or the key's state that refuses it)."""

    call: KmsCall
    allowed: bool
    reason: str


def decided_by_policies(launch: Launch) -> bool:
    """Whether this launch's outcome is KMS's to decide (its scripted failure is a KMS error); a lookalike
    failure (capacity, quota, snapshot) stays scripted."""
    return launch.fails and any(call.error for call in launch.kms_calls)


def decide_start(launch: Launch, session: Session | None = None) -> list[CallDecision]:
    """Each KMS call of the launch, in order, decided by the world's current policies and key states (and the
    session policy of `session`, the launcher's new session, when one makes the start)."""
    out: list[CallDecision] = []
    granted: set[str] = set()
    for call in launch.kms_calls:
        policy, state, grants = _key(call.key_arn)
        if state is None:
            out.append(CallDecision(call, False, "the key does not exist"))
            continue
        if state != "Enabled":
            out.append(CallDecision(call, False, f"the key is {state}"))
            continue
        if call.by == "infrastructure":
            request, policies = _infrastructure(launch, call, policy, grants, call.key_arn in granted)
        else:
            request, policies = _launcher(launch, call, policy, grants, session)
        decision = evaluate(request, policies)
        if decision.allowed and call.operation == "CreateGrant" and call.by == "launcher":
            granted.add(call.key_arn)
        out.append(CallDecision(call, decision.allowed, decision.decided_by))
    return out


def start_allowed(launch: Launch, session: Session | None = None) -> bool:
    """Every KMS call of the launch is allowed now."""
    return all(d.allowed for d in decide_start(launch, session))


KeyGrants = list[tuple[str, list[str], dict[str, Any]]]


def _key(key_arn: str) -> tuple[dict[str, Any] | None, str | None, KeyGrants]:
    _, _, _, region, account, resource = key_arn.split(":", 5)
    return moto_state.key_record(account, region, resource.split("/")[-1])


def _context(launch: Launch, call: KmsCall) -> dict[str, str | list[str]]:
    """The context of EC2's call on the launcher's behalf (from AWS's network, through EC2)."""
    region = call.key_arn.split(":")[3]
    principal = launch.principal
    context: dict[str, str | list[str]] = {
        "kms:ViaService": f"ec2.{region}.amazonaws.com", "aws:ViaAWSService": "true",
        "kms:CallerAccount": principal.account_id, "aws:RequestedRegion": region,
        "kms:EncryptionContext:aws:ebs:id": call.volume_id, "kms:EncryptionContextKeys": ["aws:ebs:id"]}
    if not principal.invoked_by:  # a forward access session keeps the original requester's source IP
        context["aws:SourceIp"] = principal.source()[0]
    if "/aws-service-role/" not in principal.arn:  # EC2's call carries the caller's principal tags
        for key, value in moto_state.principal_tags(principal.account_id, principal.kind, principal.name).items():
            context[f"aws:PrincipalTag/{key}"] = value
    if call.operation == "CreateGrant":
        context.update({
            "kms:GrantIsForAWSResource": "true", "kms:GrantOperations": ["Decrypt"],
            "kms:GranteePrincipal": infrastructure_role_arn(launch.account_id, launch.instance_id),
            "kms:RetiringPrincipal": f"ec2.{launch.region}.amazonaws.com",
            "kms:GrantConstraintType": "EncryptionContextSubset"})
    return context


def _launcher(launch: Launch, call: KmsCall, key_policy: dict[str, Any] | None,
              grants: KeyGrants, session: Session | None = None) -> tuple[Request, PolicySet]:
    principal = launch.principal
    service_linked = "/aws-service-role/" in principal.arn
    kind = "user" if principal.kind == "user" else (
        "service_linked_role_session" if service_linked else "role_session")
    request = Request(principal.caller_arn, f"kms:{call.operation}", call.key_arn, _context(launch, call), kind)
    identity, boundary = moto_state.identity_documents(principal.account_id, principal.kind, principal.name)
    if session is not None:
        session_policies = [Policy(session.policy, "session:new")] if session.policy else []
    else:
        session_policies = [Policy(EC2_ONLY_SESSION, "session:scenario")] if _session_scripted(launch) else []
    policies = PolicySet(
        identity=[Policy(document, name) for name, document in identity],
        boundary=Policy(boundary[1], boundary[0]) if boundary else None,
        scps=[] if service_linked else _scps(principal.account_id),
        session_policies=session_policies,
        resource_policy=_key_policy(key_policy), grants=_grants(grants))
    return request, policies


def _infrastructure(launch: Launch, call: KmsCall, key_policy: dict[str, Any] | None,
                    grants: KeyGrants, granted_now: bool) -> tuple[Request, PolicySet]:
    role = infrastructure_role_arn(launch.account_id, launch.instance_id)
    context: dict[str, str | list[str]] = {"kms:EncryptionContext:aws:ebs:id": call.volume_id,
                                           "kms:EncryptionContextKeys": ["aws:ebs:id"]}
    request = Request(role, f"kms:{call.operation}", call.key_arn, context, "role_session")
    grants = list(grants) + ([(role, [call.operation], {})] if granted_now else [])
    # the grant gives the permission on the key's side; the role's own side is EC2's (never refuses)
    identity = Policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": f"kms:{call.operation}", "Resource": call.key_arn}]}, "ec2-infrastructure")
    policies = PolicySet(identity=[identity], scps=_scps(launch.account_id),
                         resource_policy=_key_policy(key_policy), grants=_grants(grants))
    return request, policies


def _key_policy(key_policy: dict[str, Any] | None) -> Policy:
    return Policy(key_policy or {"Version": "2012-10-17", "Statement": []}, "key-policy")


def _grants(grants: KeyGrants) -> list[Grant]:
    """The key's grants as the evaluator models them (a grant allows on its own; an explicit Deny still wins)."""
    return [Grant(grantee, tuple(operations), {k: v for k, v in constraints.items()
                                               if k in ("EncryptionContextSubset", "EncryptionContextEquals")},
                  name=f"grant for {grantee}")
            for grantee, operations, constraints in grants if grantee.startswith("arn:") and operations]


def _scps(account: str) -> list[list[Policy]]:
    return [[Policy(document, name) for name, document in level] for level in moto_state.scp_levels(account)]


def _session_scripted(launch: Launch) -> bool:
    """The scenario's KMS errors name the launcher's session policy."""
    return any(c.error is not None and "session policy" in c.error[1] for c in launch.kms_calls if c.by == "launcher")
