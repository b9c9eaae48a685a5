"""Recorded changes (contracts.md section 3a) read from the CloudTrail events frame: which calls count as a
change, to which layer, and whether a change touches the failing request (its key, its launcher, the
launcher's policies and groups, the SCP targets above it, the Region's EBS defaults)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

LAYERS: dict[str, str] = {
    **{name: "key-policy" for name in ("PutKeyPolicy", "CreateKey")},
    **{name: "key-state" for name in ("DisableKey", "EnableKey", "ScheduleKeyDeletion", "CancelKeyDeletion",
                                      "DeleteImportedKeyMaterial", "DisconnectCustomKeyStore")},
    **{name: "grant" for name in ("RevokeGrant", "RetireGrant")},
    **{f"{verb}{kind}Policy": "identity-policy" for verb in ("Put", "Delete", "Attach", "Detach")
       for kind in ("Role", "User", "Group")},
    **{name: "identity-policy" for name in ("CreatePolicyVersion", "SetDefaultPolicyVersion", "CreatePolicy",
                                            "AddUserToGroup", "RemoveUserFromGroup")},
    **{f"{verb}{kind}PermissionsBoundary": "permissions-boundary" for verb in ("Put", "Delete")
       for kind in ("Role", "User")},
    **{name: "scp" for name in ("AttachPolicy", "DetachPolicy", "UpdatePolicy", "MoveAccount", "EnablePolicyType")},
    **{name: "ebs-default" for name in ("EnableEbsEncryptionByDefault", "DisableEbsEncryptionByDefault",
                                        "ModifyEbsDefaultKmsKeyId", "ResetEbsDefaultKmsKeyId")},
    **{name: "launch-configuration" for name in ("CreateLaunchTemplateVersion", "ModifyLaunchTemplate",
                                                 "UpdateAutoScalingGroup")},
}
# Organizations' own policy calls (CreatePolicy shares its name with IAM's): by event source, the SCP layer.
ORGANIZATIONS_LAYERS = {name: "scp" for name in ("CreatePolicy", "UpdatePolicy", "AttachPolicy", "DetachPolicy",
                                                 "MoveAccount", "EnablePolicyType")}
SOURCES = {"key-policy": "kms", "key-state": "kms", "grant": "kms", "identity-policy": "iam",
           "permissions-boundary": "iam", "scp": "organizations", "ebs-default": "ec2",
           "launch-configuration": ("ec2", "autoscaling")}
# Calls that only set a starting point (a policy's or key's first document), not a change of its own.
ORIGINS = ("CreateKey", "CreatePolicy")


@dataclass(frozen=True)
class Candidate:
    """One recorded change call."""

    event_id: str | None
    event_name: str
    event_time: pd.Timestamp
    principal_arn: str | None
    layer: str
    region: str | None
    request: dict[str, Any] = field(hash=False, compare=False)
    response: dict[str, Any] = field(hash=False, compare=False)

    @property
    def time_text(self) -> str:
        """ISO 8601 UTC, seconds."""
        return self.event_time.strftime("%Y-%m-%dT%H:%M:%SZ")

    def param(self, *names: str) -> Any:
        """The first of `names` found in requestParameters (also inside EC2's `<Operation>Request` wrapper)."""
        scopes = [self.request] + [v for v in self.request.values() if isinstance(v, dict)]
        for scope in scopes:
            for name in names:
                if scope.get(name) not in (None, ""):
                    return scope[name]
        return None

    def document(self, *names: str) -> dict[str, Any] | None:
        """A policy document passed in requestParameters (a JSON string, as CloudTrail records it)."""
        value = self.param(*names)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                return None
        return value if isinstance(value, dict) else None

    def policy_id(self) -> str | None:
        """The Organizations policy the call names (its `policyId`, or the id CreatePolicy answered with)."""
        value = self.param("policyId")
        if value is None:
            value = ((self.response.get("policy") or {}).get("policySummary") or {}).get("id")
        return str(value) if value else None

    def key_ref(self) -> str | None:
        """The key the call names (keyId, or EC2's KmsKeyId), if any."""
        value = self.param("keyId", "KmsKeyId", "kmsKeyId")
        if value is None:
            for scope in [self.response] + [v for v in self.response.values() if isinstance(v, dict)]:
                if isinstance(scope.get("kmsKeyId"), str):
                    return str(scope["kmsKeyId"])
        return str(value) if value is not None else None


def candidates(events: pd.DataFrame) -> list[Candidate]:
    """Every successful change call of the events frame, oldest first."""
    if not len(events):
        return []
    rows = events[events["event_name"].isin(list(LAYERS)) & events["error_code"].isna()]
    out: list[Candidate] = []
    for row in rows.to_dict("records"):
        source = str(row.get("event_source") or "").split(".", 1)[0]
        layer = ORGANIZATIONS_LAYERS.get(str(row["event_name"]), "") if source == "organizations" else ""
        layer = layer or LAYERS[str(row["event_name"])]
        expected = SOURCES[layer]
        if source not in (expected if isinstance(expected, tuple) else (expected,)):
            continue
        time = pd.Timestamp(row["event_time"])
        out.append(Candidate(row.get("event_id"), str(row["event_name"]), time,
                             row.get("principal_arn") if isinstance(row.get("principal_arn"), str) else None,
                             layer, row.get("region") if isinstance(row.get("region"), str) else None,
                             _mapping(row.get("request")), _mapping(row.get("response"))))
    out.sort(key=lambda c: (c.event_time, c.event_id or ""))
    return out


@dataclass(frozen=True)
class Subject:
    """What the failing request depends on."""

    key_arn: str
    principal_arn: str
    principal_type: str  # user | role
    principal_name: str
    groups: tuple[str, ...]
    policy_arns: tuple[str, ...]  # managed policies attached now (also through groups) and the boundary
    scp_targets: tuple[str, ...]  # the account, its OUs and the root
    scp_ids: tuple[str, ...]
    region: str
    implicit_default_key: bool


def touches(change: Candidate, subject: Subject) -> bool:
    """Whether the change is to something the failing request depends on."""
    if change.layer in ("key-policy", "key-state", "grant"):
        return _same_key(change.key_ref(), subject.key_arn)
    if change.layer in ("identity-policy", "permissions-boundary"):
        names = {"roleName": "role", "userName": "user"}
        for param, kind in names.items():
            value = change.param(param)
            if value is not None:
                return kind == subject.principal_type and value == subject.principal_name
        group = change.param("groupName")
        if group is not None:
            return group in subject.groups
        policy = change.param("policyArn")
        return policy is not None and policy in subject.policy_arns and change.event_name != "CreatePolicy"
    if change.layer == "scp":
        target = change.param("targetId", "accountId", "rootId")
        if target is not None:
            return target in subject.scp_targets
        return change.policy_id() in subject.scp_ids
    if change.layer == "ebs-default":
        return subject.implicit_default_key and change.region == subject.region
    return False


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _same_key(ref: str | None, key_arn: str) -> bool:
    if not ref:
        return False
    return ref == key_arn or ref == key_arn.rsplit("/", 1)[-1]
