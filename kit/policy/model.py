"""The evaluator's values: a request, the policies that apply to it, and the decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kit.errors import BadInput
from kit.policy.document import Policy, parse_policy

DECIDED_BY = ("explicit-deny", "identity-policy", "key-policy", "permissions-boundary", "scp",
              "session-policy", "allowed")
LAYERS = ("identity-policy", "key-policy", "permissions-boundary", "scp", "session-policy")


@dataclass(frozen=True)
class Request:
    """One authorization request. For a role session `principal_arn` is the role's ARN (or the session's
    `arn:aws:sts::<acct>:assumed-role/<role>/<session>`); `principal_type` is inferred when None."""

    principal_arn: str
    action: str
    resource: str
    context: Mapping[str, str | list[str]] = field(default_factory=dict)
    principal_type: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.action, str) or self.action.count(":") != 1 or not all(self.action.split(":")):
            raise BadInput("action", '"service:Action", e.g. "kms:CreateGrant"', self.action)
        if not isinstance(self.resource, str) or not self.resource:
            raise BadInput("resource", "a resource ARN (or *)", self.resource)
        if not isinstance(self.context, Mapping):
            raise BadInput("context", "an object of condition keys to strings or lists of strings", self.context)
        for key, value in self.context.items():
            if isinstance(value, list):
                if not all(isinstance(v, (str, bool, int, float)) for v in value):
                    raise BadInput(f"context.{key}", "a string or a list of strings", value)
            elif not isinstance(value, (str, bool, int, float)):
                raise BadInput(f"context.{key}", "a string or a list of strings", value)


@dataclass(frozen=True)
class Grant:
    """A KMS grant on the key: it lets `grantee` (a principal ARN: a user, a role, whose sessions it covers, or
    an account root) make `operations` (e.g. "Decrypt", "CreateGrant") on the key, on its own, with no key-policy
    or IAM statement. `constraints`: {"EncryptionContextSubset" | "EncryptionContextEquals": {key: value}}."""

    grantee: str
    operations: tuple[str, ...]
    constraints: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    name: str = "grant"

    def __post_init__(self) -> None:
        if not isinstance(self.grantee, str) or not self.grantee.startswith("arn:"):
            raise BadInput("grant.grantee", "a principal ARN", self.grantee)
        if not self.operations or not all(isinstance(o, str) and ":" not in o for o in self.operations):
            raise BadInput("grant.operations", 'KMS operation names, e.g. ["Decrypt", "CreateGrant"]', self.operations)
        unknown = set(self.constraints) - {"EncryptionContextSubset", "EncryptionContextEquals"}
        if unknown:
            raise BadInput("grant.constraints", "EncryptionContextSubset or EncryptionContextEquals", sorted(unknown))


@dataclass
class PolicySet:
    """Every policy that takes part in one decision. `scps` holds one list per organization level, root
    first ([] = no SCPs). Plain documents are accepted and named after their place.

    `management_account_id`: the organization's management account, whose principals SCPs do not affect.
    """

    identity: list[Policy] = field(default_factory=list)
    resource_policy: Policy | None = None
    boundary: Policy | None = None
    scps: list[list[Policy]] = field(default_factory=list)
    session_policies: list[Policy] = field(default_factory=list)
    management_account_id: str | None = None
    grants: list[Grant] = field(default_factory=list)   # the KMS key's grants (KMS keys only)

    def __post_init__(self) -> None:
        self.identity = [_policy(p, f"identity[{i}]") for i, p in enumerate(self.identity)]
        self.resource_policy = _policy(self.resource_policy, "key-policy") if self.resource_policy is not None else None
        self.boundary = _policy(self.boundary, "boundary") if self.boundary is not None else None
        if not isinstance(self.scps, list) or not all(isinstance(level, list) for level in self.scps):
            raise BadInput("scps", "a list of organization levels, each a list of SCP documents", self.scps)
        self.scps = [[_policy(p, f"scp[{lvl}][{i}]") for i, p in enumerate(level)] for lvl, level in enumerate(self.scps)]
        self.session_policies = [_policy(p, f"session[{i}]") for i, p in enumerate(self.session_policies)]
        for policy in self.identity + self.session_policies + [p for lvl in self.scps for p in lvl] + (
                [self.boundary] if self.boundary else []):
            for statement in policy.statements:
                if statement.principal is not None or statement.not_principal is not None:
                    element = "Principal" if statement.principal is not None else "NotPrincipal"
                    raise BadInput(f"{policy.name}: Statement[{statement.index}].{element}",
                                   "no Principal in identity policies, boundaries, SCPs or session policies",
                                   statement.raw.get(element))
        if self.resource_policy is not None:
            for statement in self.resource_policy.statements:
                if statement.principal is None and statement.not_principal is None:
                    raise BadInput(f"{self.resource_policy.name}: Statement[{statement.index}].Principal",
                                   "a Principal or NotPrincipal in every key-policy statement", None)


@dataclass(frozen=True)
class Decision:
    """The outcome. `decided_by` names the layer that refused (`explicit-deny` for any explicit Deny,
    `layer` then says where), or `allowed`. `statement` names the statement that decided, if one did."""

    decision: str
    decided_by: str
    layer: str | None
    explicit: bool
    explanation: list[str]
    statement: str | None = None

    @property
    def allowed(self) -> bool:
        """Whether the request is allowed."""
        return self.decision == "allow"

    def to_dict(self) -> dict[str, Any]:
        """The `kit policy check` output (contracts.md section 4)."""
        return {"decision": self.decision, "decided_by": self.decided_by, "explanation": list(self.explanation)}


@dataclass(frozen=True)
class WhatIf:
    """The effect of a policy change on a denied request: is it allowed now, and what else is."""

    allowed: bool
    decision: Decision
    broadened: list[str]


def _policy(value: Policy | dict[str, Any] | str, name: str) -> Policy:
    if isinstance(value, Policy):
        return value
    if isinstance(value, (dict, str)):
        return parse_policy(value, name)
    raise BadInput(name, "a policy document", value)
