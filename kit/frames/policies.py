"""Policies of a principal and of a key, rebuilt from the frames as kit.policy objects for the evaluator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from kit.aws_ids import ROLE_ARN
from kit.errors import BadInput
from kit.frames.cloudtrail import role_arn_from_session

if TYPE_CHECKING:  # kit.policy is imported lazily: frames do not need the evaluator to load
    from kit.frames.build import Frames
    from kit.policy import Policy, PolicySet


@dataclass(frozen=True)
class MalformedPolicy:
    """A policy in the evidence that kit.policy refuses to parse: its layer is unknown to the evaluator."""

    name: str  # inline:Name, managed:arn, scp:target/p-id, key policy of key <arn>
    layer: str  # identity-policy | permissions-boundary | scp | session-policy | key-policy
    problem: str  # the BadInput message: which statement and field, and what was expected
    scp_level: int | None = None  # for an SCP: its organization level (index into PrincipalPolicies.scps)


@dataclass(frozen=True)
class PrincipalPolicies:
    """The identity side of one principal: its policies, boundary and SCP levels (root first)."""

    principal_arn: str
    identity: list[Policy] = field(default_factory=list)
    boundary: Policy | None = None
    scps: list[list[Policy]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # policies that apply but whose document is not in the evidence
    known: bool = False  # the principal is in iam.get-account-authorization-details
    session_policies: list[Policy] = field(default_factory=list)  # when asked for a session ARN whose creation is in CloudTrail
    malformed: list[MalformedPolicy] = field(default_factory=list)  # in the evidence, but not a valid policy

    def policy_set(self, resource_policy: Policy | dict[str, Any] | None = None, **extra: Any) -> PolicySet:
        """A kit.policy PolicySet with these policies and `resource_policy` (e.g. the key policy)."""
        from kit.policy import Policy, PolicySet

        if isinstance(resource_policy, dict):
            resource_policy = Policy(resource_policy, "key-policy")
        extra.setdefault("session_policies", list(self.session_policies))
        return PolicySet(identity=list(self.identity), resource_policy=resource_policy, boundary=self.boundary,
                         scps=[list(level) for level in self.scps], **extra)


def principal_of(frames: Frames, arn: str) -> str:
    """The IAM principal ARN for `arn`: an assumed-role session becomes its role (with the role's path when
    the evidence knows it); a role ARN without its path gets it."""
    arn = role_arn_from_session(arn) or arn
    role = ROLE_ARN.match(arn or "")
    name = account = None
    if role:
        account, name = role["account"], role["name"]
    if name and len(frames.principals):
        roles = frames.principals[(frames.principals["type"] == "role") & (frames.principals["name"] == name)]
        roles = roles[roles["account"] == account]
        if len(roles) == 1:
            return str(roles.iloc[0]["arn"])
    return arn


def policy_documents_for(frames: Frames, principal_arn: str) -> PrincipalPolicies:
    """The identity policies (inline, managed, group), permissions boundary and SCP levels that apply to
    `principal_arn` (a user, role, or role session ARN), as kit.policy Policy objects.

    SCPs do not apply to service-linked roles; for those `scps` is []. For a session ARN, the session
    policies passed when it was created are in `session_policies` when CloudTrail in the evidence shows it.
    A document kit.policy refuses is left out and listed in `malformed`: its layer is then unknown."""
    arn = principal_of(frames, principal_arn)
    rows = frames.identity_statements
    mine = rows[rows["principal_arn"] == arn]
    identity: list[Policy] = []
    boundary: Policy | None = None
    missing: list[str] = []
    malformed: list[MalformedPolicy] = []
    for (source, policy_name, policy_arn, group), group_rows in _grouped(mine, ["source", "policy_name", "policy_arn", "group_name"]):
        name = _policy_label(source, policy_name, policy_arn, group)
        document = _document(group_rows)
        if document is None:
            missing.append(name)
            continue
        layer = "permissions-boundary" if source == "boundary" else "identity-policy"
        policy = parsed_policy(document, name, layer, malformed)
        if policy is None:
            continue
        if source == "boundary":
            boundary = policy
        else:
            identity.append(policy)
    principal = frames.principals[frames.principals["arn"] == arn] if len(frames.principals) else frames.principals
    service_linked = bool(len(principal) and principal.iloc[0]["service_linked"])
    scps: list[list[Policy]] = []
    if not service_linked:
        scp_rows = rows[rows["source"] == "scp"]
        for level in sorted(set(int(v) for v in scp_rows["scp_level"].dropna())):
            level_policies: list[Policy] = []
            level_rows = scp_rows[scp_rows["scp_level"] == level]
            for (target, policy_name, policy_arn), group_rows in _grouped(level_rows, ["target_id", "policy_name", "policy_arn"]):
                label = f"scp:{target}/{(policy_arn or policy_name or '').rsplit('/', 1)[-1]}"
                document = _document(group_rows)
                if document is None:
                    missing.append(label)
                    continue
                scp = parsed_policy(document, label, "scp", malformed, scp_level=len(scps))
                if scp is not None:
                    level_policies.append(scp)
            scps.append(level_policies)
    session_policies: list[Policy] = []
    if principal_arn != arn:  # a session: the policies passed when it was created, if CloudTrail shows it
        sessions = rows[(rows["source"] == "session") & (rows["principal_arn"] == principal_arn)]
        for (policy_name, policy_arn), group_rows in _grouped(sessions, ["policy_name", "policy_arn"]):
            label = f"session:{policy_arn or policy_name}"
            document = _document(group_rows)
            if document is None:
                missing.append(label)
                continue
            session = parsed_policy(document, label, "session-policy", malformed)
            if session is not None:
                session_policies.append(session)
    return PrincipalPolicies(arn, identity, boundary, scps, missing, known=bool(len(principal)),
                             session_policies=session_policies, malformed=malformed)


def parsed_policy(document: dict[str, Any], name: str, layer: str, malformed: list[MalformedPolicy], *,
                  scp_level: int | None = None) -> Policy | None:
    """`document` as a kit.policy Policy, or None with a MalformedPolicy added to `malformed` when it is not a
    valid policy (one bad document makes its layer unknown; it never stops the investigation)."""
    from kit.policy import Policy

    try:
        return Policy(document, name)
    except BadInput as exc:
        malformed.append(MalformedPolicy(name, layer, str(exc), scp_level))
        return None


def key_policy_document(frames: Frames, key_arn: str) -> dict[str, Any] | None:
    """The key policy (as a dict) of a key given by ARN, key id or alias name; None when it was not readable."""
    keys = frames.keys
    match = keys[(keys["key_arn"] == key_arn) | (keys["key_id"] == key_arn)]
    if not len(match) and len(frames.aliases):
        alias = frames.aliases[(frames.aliases["alias_name"] == key_arn) | (frames.aliases["alias_arn"] == key_arn)]
        if len(alias):
            match = keys[keys["key_arn"] == alias.iloc[0]["key_arn"]]
    if not len(match):
        return None
    policy = match.iloc[0]["policy"]
    return policy if isinstance(policy, dict) else None


def _grouped(frame: pd.DataFrame, columns: list[str]):
    keys = frame[columns].astype(object).where(frame[columns].notna(), None)
    order: dict[tuple, list[int]] = {}
    for position, key in enumerate(keys.itertuples(index=False, name=None)):
        order.setdefault(key, []).append(position)
    for key, positions in order.items():
        yield key, frame.iloc[positions]


def _document(rows: pd.DataFrame) -> dict[str, Any] | None:
    statements = [s for s in rows.sort_values("index")["statement"] if isinstance(s, dict)]
    versions = [v for v in rows["policy_version"] if isinstance(v, str)]
    if not statements and not versions:
        return None  # the document is not in the evidence
    document: dict[str, Any] = {"Statement": statements}
    if versions and versions[0]:
        document = {"Version": versions[0], "Statement": statements}
    return document


def _policy_label(source: str, name: str | None, arn: str | None, group: str | None) -> str:
    if source == "inline":
        return f"inline:{name}"
    if source == "managed":
        return f"managed:{arn}"
    if source == "group-inline":
        return f"group-inline:{group}/{name}"
    if source == "group-managed":
        return f"group-managed:{group}/{arn}"
    if source == "boundary":
        return f"boundary:{arn}"
    return f"{source}:{arn or name}"
