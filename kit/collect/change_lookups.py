"""The CloudTrail look-ups for what changed before a failure (contracts.md section 3a), narrow and bounded.

Changes are looked for further back than the failure itself (`CollectWindow.change_lookback_days`, default
30) up to the time of collection (later changes are needed to rebuild the state at the failure), one lookup
attribute per query, as LookupEvents allows:
- ResourceName = the instance id, in its Region: its earlier launches (the last success);
- ResourceName = each key's ARN, in the key's Region: PutKeyPolicy, DisableKey, ScheduleKeyDeletion,
  RevokeGrant, ... (and EC2's earlier CreateGrant calls: the last successful launch);
- ResourceName = the launcher's user or role name, in us-east-1 (IAM records its global events there):
  Put/Delete/Attach/Detach*Policy, Put/Delete*PermissionsBoundary, group membership;
- ResourceName = each managed policy ARN attached to it or set as its boundary, in us-east-1:
  CreatePolicyVersion, SetDefaultPolicyVersion;
- EventName = ModifyEbsDefaultKmsKeyId and EnableEbsEncryptionByDefault in the instance's Region, only when
  EC2 picked the key itself (the default key was read).
Budget: at most `lookup_budget(...)` queries of `change_max_pages` pages each. Organizations changes (SCPs)
are recorded in the management account's event history only: this collection reads them when it runs
there (then SCP ids are looked up too), else the `cli:` checklist names the command to run in that account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GLOBAL_REGION = "us-east-1"
EBS_DEFAULT_EVENTS = ("ModifyEbsDefaultKmsKeyId", "EnableEbsEncryptionByDefault")
MAX_POLICY_LOOKUPS = 10


@dataclass(frozen=True)
class ChangeLookup:
    """One LookupEvents query for changes: its file qualifier, attribute, value and Region."""

    qualifier: str
    attribute: str
    value: str
    region: str

    @property
    def file_name(self) -> str:
        return f"cloudtrail.lookup-events.{self.qualifier}.json"


def change_lookups(region: str, key_arns: list[str], principal_kind: str | None, principal_name: str | None,
                   policy_arns: list[str], *, ebs_default: bool, instance_id: str | None = None,
                   scp_ids: tuple[str, ...] = ()) -> list[ChangeLookup]:
    """Every look-up for changes, in order: the instance, keys, the launcher, its managed policies, EBS
    defaults, SCPs."""
    out = [ChangeLookup(f"change-instance-{instance_id}", "ResourceName", instance_id, region)] if instance_id else []
    out += [ChangeLookup(f"change-key-{arn.rsplit('/', 1)[-1]}", "ResourceName", arn, arn.split(":")[3] or region)
           for arn in dict.fromkeys(key_arns) if arn.startswith("arn:") and ":key/" in arn]
    if principal_name and principal_kind in ("user", "role", "sso-role", "service-linked-role"):
        out.append(ChangeLookup(f"change-iam-{_safe(principal_name)}", "ResourceName", principal_name, GLOBAL_REGION))
    for arn in list(dict.fromkeys(policy_arns))[:MAX_POLICY_LOOKUPS]:
        if ":policy/" in arn:
            out.append(ChangeLookup(f"change-policy-{_safe(arn.rsplit('/', 1)[-1])}", "ResourceName", arn,
                                    GLOBAL_REGION))
    if ebs_default:
        out += [ChangeLookup(f"change-ebs-{name}", "EventName", name, region) for name in EBS_DEFAULT_EVENTS]
    out += [ChangeLookup(f"change-scp-{_safe(policy_id)}", "ResourceName", policy_id, GLOBAL_REGION)
            for policy_id in scp_ids]
    return out


def lookup_budget(keys: int, policies: int, ebs_default: bool, scps: int = 0) -> int:
    """How many queries `change_lookups` makes at most (the instance, keys, the launcher, ...) (each bounded by change_max_pages pages)."""
    return 1 + keys + 1 + min(policies, MAX_POLICY_LOOKUPS) + (len(EBS_DEFAULT_EVENTS) if ebs_default else 0) + scps


def principal_policy_arns(details: dict[str, Any] | None, kind: str | None, name: str | None) -> list[str]:
    """Managed policies attached to the launcher (directly or through its groups) and its boundary."""
    if not details or not name:
        return []
    if kind in ("user", "federated-user"):
        entries = [u for u in details.get("UserDetailList") or [] if u.get("UserName") == name]
        groups = {g for u in entries for g in u.get("GroupList") or []}
        entries += [g for g in details.get("GroupDetailList") or [] if g.get("GroupName") in groups]
    else:
        entries = [r for r in details.get("RoleDetailList") or [] if r.get("RoleName") == name]
    arns: list[str] = []
    for entry in entries:
        arns += [p.get("PolicyArn", "") for p in entry.get("AttachedManagedPolicies") or []]
        arns.append((entry.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn", ""))
    return [a for a in dict.fromkeys(arns) if a]


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:100]
