"""The KMS request EC2 makes for the launcher, the policies that decide it, and the evaluator's answer.

EC2 attaches an encrypted volume by calling `kms:CreateGrant` on the volume's key *as the launching
principal* (domain.md section 1). `creategrant_request` builds that request with the context EC2's call
carries; `policies_for` assembles identity policies, boundary, SCPs and the key policy from the frames;
`authorize` evaluates it. A layer the evidence lacks (or holds only as a document kit.policy refuses) is
not guessed: it is replaced by a permissive stand-in and named in `unknown_layers`, so a deny from a known
layer is still conclusive and an allow is only "allowed if the unknown layers allow": its `outcome` is
"unknown", never "allow".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kit.aws_ids import account_of
from kit.causes import denied_by_words
from kit.errors import BadInput
from kit.frames.policies import MalformedPolicy
from kit.policy import Decision, Policy, PolicySet, Request, evaluate

if TYPE_CHECKING:
    from kit.frames import Frames
    from kit.frames.policies import PrincipalPolicies

VERSION = "2012-10-17"
STAND_IN_PREFIX = "stand-in:"
# The grant EC2 created for the infrastructure role, modelled as a key-policy statement for the evaluator;
# never part of a proposed key policy (remediation strips it).
MODELLED_GRANT_SID = "KitModelledGrantFromEc2"


@dataclass
class Authorization:
    """One evaluated request and what the evaluation could not see."""

    request: Request
    policies: PolicySet  # with stand-ins for unknown layers
    decision: Decision
    unknown_layers: list[str] = field(default_factory=list)  # identity-policy, key-policy, scp, permissions-boundary
    notes: list[str] = field(default_factory=list)
    malformed: list[MalformedPolicy] = field(default_factory=list)  # policies in the evidence it could not parse

    @property
    def outcome(self) -> Literal["allow", "deny", "unknown"]:
        """deny; allow with every layer known; unknown when only a stand-in for a missing layer lets it through."""
        if not self.decision.allowed:
            return "deny"
        return "unknown" if self.unknown_layers else "allow"

    @property
    def unseen_layers(self) -> list[str]:
        """The layers that may refuse without the evidence showing it: the unknown ones, and the session
        policy of a role session (session policies are not evaluated from the evidence)."""
        unseen = list(self.unknown_layers)
        if self.request.principal_type == "role_session" and not self.policies.session_policies:
            unseen.append("session-policy")
        return unseen

    @property
    def conclusive(self) -> bool:
        """A deny from a known layer, or an allow with every layer known."""
        if self.decision.allowed:
            return not self.unknown_layers
        return True

    @property
    def denied_by(self) -> str | None:
        """findings' denied_by for a deny (internals.md: explicit denies by layer), None for an allow."""
        return denied_by_of(self.decision)


def denied_by_of(decision: Decision) -> str | None:
    """Map an evaluator decision to findings' denied_by."""
    if decision.allowed:
        return None
    if decision.decided_by == "explicit-deny":
        return {"scp": "scp", "permissions-boundary": "permissions-boundary",
                "session-policy": "session-policy"}.get(decision.layer or "", "explicit-deny")
    return decision.decided_by if decision.decided_by in denied_by_words() else "unknown"


def creategrant_request(principal_arn: str, principal_type: str, key_arn: str, region: str, instance_id: str,
                        account_id: str | None, volume_id: str | None = None,
                        grantee: str | None = None, principal_tags: Mapping[str, str] | None = None,
                        source_ip: str | None = None) -> Request:
    """kms:CreateGrant as EC2 makes it on the launcher's behalf (GrantIsForAWSResource, ViaService ...).
    `principal_tags`: the launcher's IAM tags when the evidence shows them (aws:PrincipalTag/<key>; a forward
    access session carries the caller's principal tags), None when unknown (the keys are then absent).
    `source_ip`: the launch call's source IP address; a forward access session keeps the original requester's
    aws:SourceIp (IAM user guide, "Denies access to AWS based on the source IP"), None when it has none."""
    caller_account = account_of(principal_arn) if principal_arn.count(":") >= 5 else account_id
    instance_account = account_id or caller_account
    context: dict[str, str | list[str]] = {
        "kms:GrantIsForAWSResource": "true",
        "kms:ViaService": f"ec2.{region}.amazonaws.com",
        "kms:GrantOperations": ["Decrypt"],
        "kms:GranteePrincipal": grantee or f"arn:aws:sts::{instance_account}:assumed-role/aws:ec2-infrastructure/{instance_id}",
        "kms:RetiringPrincipal": f"ec2.{region}.amazonaws.com",
        "aws:PrincipalArn": principal_arn,
        "aws:ViaAWSService": "true",
        "aws:RequestedRegion": region,
    }
    if caller_account:
        context["kms:CallerAccount"] = caller_account
        context["aws:PrincipalAccount"] = caller_account
    if source_ip:
        context["aws:SourceIp"] = source_ip
    for tag_key, tag_value in (principal_tags or {}).items():
        context[f"aws:PrincipalTag/{tag_key}"] = tag_value
    if volume_id:
        context["kms:EncryptionContext:aws:ebs:id"] = volume_id
        context["kms:EncryptionContextKeys"] = ["aws:ebs:id"]
        context["kms:GrantConstraintType"] = "EncryptionContextSubset"
    return Request(principal_arn=principal_arn, action="kms:CreateGrant", resource=key_arn, context=context,
                   principal_type=principal_type)


def policies_for(frames: Frames, mine: PrincipalPolicies, principal_arn: str, key_arn: str, *, principal_type: str,
                 scp_known: bool = True) -> tuple[PolicySet, list[str], list[MalformedPolicy]]:
    """The PolicySet deciding the principal's use of the key: its policies `mine` (kit.frames.policies'
    PrincipalPolicies) and the key policy; the layers the evidence lacks or holds malformed (each replaced
    by a stand-in that allows exactly the request); and the malformed policies."""
    from kit.frames.policies import key_policy_document

    malformed = list(mine.malformed)
    bad_layers = {m.layer for m in malformed}
    unknown: list[str] = []
    identity = list(mine.identity)
    if not identity and (not mine.known or mine.missing):
        unknown.append("identity-policy")
        identity = [stand_in_identity(key_arn)]
    elif "identity-policy" in bad_layers:
        unknown.append("identity-policy")  # a policy it could not read may allow: known denies still win
        identity.append(stand_in_identity(key_arn))
    if "permissions-boundary" in bad_layers:
        unknown.append("permissions-boundary")  # left out: no boundary restricts nothing
    scps = [list(level) for level in mine.scps]
    if principal_type == "service_linked_role_session":
        scps = []  # SCPs do not affect service-linked roles
    else:
        if not scp_known:
            unknown.append("scp")
        if _scp_stand_ins(scps, malformed, "kms:CreateGrant", key_arn) and "scp" not in unknown:
            unknown.append("scp")
    resource_policy = _key_policy(key_policy_document(frames, key_arn), key_arn, malformed)
    if resource_policy is None:
        unknown.append("key-policy")
        resource_policy = stand_in_key_policy(principal_arn)
    policies = PolicySet(identity=identity, resource_policy=resource_policy, boundary=mine.boundary, scps=scps)
    return policies, unknown, malformed


def _key_policy(document: Any, key_arn: str, malformed: list[MalformedPolicy]) -> Policy | None:
    """The key policy as a Policy; None when unreadable, or malformed (then added to `malformed`)."""
    if not isinstance(document, dict):
        return None
    try:
        return Policy(document, "key-policy")
    except BadInput as exc:
        if not any(m.layer == "key-policy" for m in malformed):
            malformed.append(MalformedPolicy(f"key policy of key {key_arn}", "key-policy", str(exc)))
        return None


def _scp_stand_ins(scps: list[list[Policy]], malformed: list[MalformedPolicy], action: str, resource: str) -> bool:
    """Put a stand-in allowing exactly the request at each SCP level holding a malformed SCP; True if any."""
    levels = {m.scp_level for m in malformed if m.layer == "scp" and m.scp_level is not None}
    for level in sorted(levels):
        if level < len(scps):
            scps[level].append(Policy({"Version": VERSION, "Statement": [
                {"Sid": "UnreadableScp", "Effect": "Allow", "Action": action, "Resource": resource}]},
                STAND_IN_PREFIX + "scp"))
    return bool(levels)


def infrastructure_request(failure_identity: str, action: str, key_arn: str, volume_id: str | None) -> Request:
    """The instance's aws:ec2-infrastructure role calling KMS (Decrypt) with the grant EC2 created."""
    context: dict[str, str | list[str]] = {}
    if volume_id:
        context["kms:EncryptionContext:aws:ebs:id"] = volume_id
        context["kms:EncryptionContextKeys"] = ["aws:ebs:id"]
    return Request(principal_arn=failure_identity, action=action, resource=key_arn, context=context,
                   principal_type="role_session")


def infrastructure_policies(frames: Frames, request: Request, *, scps: list[list[Policy]],
                            scp_known: bool = True, malformed: list[MalformedPolicy] | None = None,
                            ) -> tuple[PolicySet, list[str], list[MalformedPolicy]]:
    """Key policy and SCPs for the infrastructure role, with the grant EC2 created standing in as the
    permission it gives (the evaluator does not model grants): an explicit Deny still wins over it.
    `malformed`: the launcher's policies kit.policy refused (its malformed SCPs get a stand-in)."""
    from kit.frames.policies import key_policy_document, principal_of

    bad = [m for m in (malformed or []) if m.layer == "scp"]
    unknown: list[str] = [] if scp_known else ["scp"]
    scps = [list(level) for level in scps]
    if _scp_stand_ins(scps, bad, request.action, request.resource) and "scp" not in unknown:
        unknown.append("scp")
    role_arn = principal_of(frames, request.principal_arn)
    grant = {"Sid": MODELLED_GRANT_SID, "Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": request.action,
             "Resource": "*"}
    document = key_policy_document(frames, request.resource)
    key_policy = _key_policy(document, request.resource, bad)
    if key_policy is not None and isinstance(document, dict):
        statements = document.get("Statement")
        statements = list(statements) if isinstance(statements, list) else [statements]
        resource_policy = Policy({**document, "Statement": statements + [grant]}, "key-policy")
    else:
        unknown.append("key-policy")
        resource_policy = Policy({"Version": VERSION, "Statement": [grant]}, STAND_IN_PREFIX + "key-policy")
    identity = Policy({"Version": VERSION, "Statement": [
        {"Sid": MODELLED_GRANT_SID, "Effect": "Allow", "Action": request.action, "Resource": request.resource}]},
        STAND_IN_PREFIX + "grant")
    return PolicySet(identity=[identity], resource_policy=resource_policy, scps=scps), unknown, bad


def authorize(request: Request, policies: PolicySet, unknown_layers: list[str],
              malformed: list[MalformedPolicy] | None = None) -> Authorization:
    """Evaluate the request; say which layers are unknown (a stand-in lets the evaluation go on, but an allow
    through one is `outcome` "unknown", never "allow")."""
    decision = evaluate(request, policies)
    notes = [f"the {layer} is not in the evidence: unknown (a stand-in allows only so that the known layers "
             "can be evaluated)" for layer in unknown_layers]
    notes += [f"{m.name} is not a valid policy ({m.problem}): the {m.layer} is unknown" for m in malformed or []]
    return Authorization(request, policies, decision, list(unknown_layers), notes, list(malformed or []))


def stand_in_identity(key_arn: str) -> Policy:
    """An identity policy standing in for unknown ones: allows exactly the request, nothing else."""
    return Policy({"Version": VERSION, "Statement": [
        {"Sid": "UnknownIdentityPolicies", "Effect": "Allow", "Action": "kms:CreateGrant", "Resource": key_arn}]},
        STAND_IN_PREFIX + "identity-policy")


def stand_in_key_policy(principal_arn: str) -> Policy:
    """A key policy standing in for an unreadable one: names the principal for CreateGrant only."""
    return Policy({"Version": VERSION, "Statement": [
        {"Sid": "UnreadableKeyPolicy", "Effect": "Allow", "Principal": {"AWS": principal_arn},
         "Action": "kms:CreateGrant", "Resource": "*"}]}, STAND_IN_PREFIX + "key-policy")


def without_modelled_grant(document: dict[str, Any]) -> dict[str, Any]:
    """A key-policy document without the kit's modelled grant statement."""
    statements = document.get("Statement")
    statements = statements if isinstance(statements, list) else [statements]
    return {**document, "Statement": [s for s in statements
                                      if not (isinstance(s, dict) and s.get("Sid") == MODELLED_GRANT_SID)]}
