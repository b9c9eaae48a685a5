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
- ResourceName = each SCP id in the account's chain and each target of the chain (the account, its OUs, the
  root), in us-east-1 of the organization's MANAGEMENT account: AttachPolicy, DetachPolicy, UpdatePolicy
  (CloudTrail records Organizations calls only there). These run with the management account's session
  (`org_role_arn`); without one, a gap names the commands to run there and the `cli:` checklist lists them.
  When the chain holds no SCP but AWS's FullAWSAccess, SCPs allow everything now: no SCP change can have
  caused a denial, and none is looked up. The look-up of the account (its id) also finds MoveAccount: then the
  chain above each parent it was moved from (`move_sources`) is read in the management account too
  (kit.collect.identity.parent_chain_policies), for the move's rollback, and the targets and SCPs of those
  chains that are not in the account's chain now are looked up as above (`moved_chain_lookups`): the move is
  rolled back with those SCPs as they were at the move.
Budget: at most `lookup_budget(...)` queries of `change_max_pages` pages each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kit.aws_ids import ACCOUNT_ID, PARENT_ID
from kit.frames.cloudtrail import ATHENA_PREFIX, LOGS_PREFIX, LOOKUP_PREFIX, lookup_event_record

GLOBAL_REGION = "us-east-1"
EBS_DEFAULT_EVENTS = ("ModifyEbsDefaultKmsKeyId", "EnableEbsEncryptionByDefault")
MAX_POLICY_LOOKUPS = 10
FULL_AWS_ACCESS = "p-FullAWSAccess"  # AWS's managed allow-all SCP
MANAGEMENT = "management"  # ChangeLookup.account: run in the organization's management account
MAX_ORGANIZATION_DEPTH = 7  # the account, up to five levels of OUs, the root (as kit.collect.identity)
MAX_MOVE_SOURCES = 5  # the parents an account was moved from whose SCP chains are read (newest moves first)
# the gap left by a read of the chain above a parent the account left (never the chain it is in now)
LEFT_CHAIN_IMPACT = "SCPs above {parent}, which the account left, are unknown: the move cannot be rolled back"


@dataclass(frozen=True)
class ChangeLookup:
    """One LookupEvents query for changes: its file qualifier, attribute, value and Region."""

    qualifier: str
    attribute: str
    value: str
    region: str
    account: str = ""  # "" the instance's account; MANAGEMENT: the organization's management account

    @property
    def file_name(self) -> str:
        return f"cloudtrail.lookup-events.{self.qualifier}.json"

    @property
    def in_management_account(self) -> bool:
        """Whether the look-up reads the management account's event history (Organizations changes)."""
        return self.account == MANAGEMENT


def change_lookups(region: str, key_arns: list[str], principal_kind: str | None, principal_name: str | None,
                   policy_arns: list[str], *, ebs_default: bool, instance_id: str | None = None,
                   scp_ids: tuple[str, ...] | None = (), scp_targets: tuple[str, ...] = ()) -> list[ChangeLookup]:
    """Every look-up for changes, in order: the instance, keys, the launcher, its managed policies, EBS
    defaults; then, in the management account, the SCPs of the account's chain and the chain's targets.
    scp_ids None: the chain could not be read (a member account may not list it), so the SCPs above the
    account are unknown and its targets are looked up all the same; () or only FullAWSAccess: no SCP change
    can explain a denial."""
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
    if scp_ids is not None and set(scp_ids) <= {FULL_AWS_ACCESS}:
        return out
    out += [ChangeLookup(f"change-scp-{_safe(policy_id)}", "ResourceName", policy_id, GLOBAL_REGION, MANAGEMENT)
            for policy_id in dict.fromkeys(scp_ids or ())]
    out += [ChangeLookup(f"change-org-{_safe(target)}", "ResourceName", target, GLOBAL_REGION, MANAGEMENT)
            for target in dict.fromkeys(scp_targets)]
    return out


def lookup_budget(keys: int, policies: int, ebs_default: bool, scps: int = 0, targets: int = 0) -> int:
    """How many queries `change_lookups` makes at most (the instance, keys, the launcher, ...; SCPs and their
    targets in the management account) (each bounded by change_max_pages pages)."""
    return (1 + keys + 1 + min(policies, MAX_POLICY_LOOKUPS) + (len(EBS_DEFAULT_EVENTS) if ebs_default else 0)
            + scps + targets)


def organization_chain(documents: Mapping[str, Any], account_id: str | None) -> tuple[list[str], list[str]]:
    """(targets from the account up to the root as far as the list-parents files go, the SCP ids listed on
    them), from `organizations.list-parents.<child>.json` and `list-policies-for-target.<target>.json`."""
    if not account_id or not (ACCOUNT_ID.fullmatch(account_id) or PARENT_ID.fullmatch(account_id)):
        return [], []
    targets = [account_id]
    current = account_id
    for _ in range(MAX_ORGANIZATION_DEPTH):
        parents = (documents.get(f"organizations.list-parents.{current}.json") or {}).get("Parents") or []
        if not parents or not isinstance(parents[0], dict) or not parents[0].get("Id"):
            break
        parent = parents[0]
        if parent["Id"] in targets or not PARENT_ID.fullmatch(str(parent["Id"])):
            break  # a loop, or not an OU or root id (it would end up in file names and commands)
        targets.append(str(parent["Id"]))
        if parent.get("Type") == "ROOT":
            break
        current = str(parent["Id"])
    policy_ids: list[str] = []
    for target in targets:
        listed = (documents.get(f"organizations.list-policies-for-target.{target}.json") or {}).get("Policies") or []
        policy_ids += [str(p["Id"]) for p in listed if isinstance(p, dict) and p.get("Id")]
    return targets, list(dict.fromkeys(policy_ids))


def chain_scp_ids(documents: Mapping[str, Any], account_id: str | None, *, no_organization: bool = False
                  ) -> tuple[list[str], tuple[str, ...] | None]:
    """(the chain's targets, the SCP ids over the account) when the chain was read (a parent above the account
    and every target's SCP listing); the ids are () for an account in no organization and None when the chain
    is unknown (change_lookups then still looks the targets up)."""
    targets, policy_ids = organization_chain(documents, account_id)
    if no_organization:
        return targets, ()
    listed = all(f"organizations.list-policies-for-target.{t}.json" in documents for t in targets)
    return targets, (tuple(policy_ids) if len(targets) > 1 and listed else None)


def move_sources(documents: Mapping[str, Any], account_id: str | None) -> list[str]:
    """The parents (OU or root ids) `account_id` was moved from: the sourceParentId of each successful
    organizations MoveAccount of it in the CloudTrail documents at hand (lookup-events, log files, Athena rows),
    newest first. The rollback of a move (kit.diagnose.change) needs each one's SCP chain."""
    if not account_id:
        return []
    moves: list[tuple[str, str]] = []
    for record in _records(documents):
        if record.get("eventName") != "MoveAccount" or record.get("errorCode") \
                or record.get("eventSource") != "organizations.amazonaws.com":
            continue
        request = record.get("requestParameters")
        if isinstance(request, str):
            try:
                request = json.loads(request)
            except json.JSONDecodeError:
                continue
        if isinstance(request, dict) and request.get("accountId") == account_id \
                and isinstance(request.get("sourceParentId"), str) and PARENT_ID.fullmatch(request["sourceParentId"]):
            moves.append((str(record.get("eventTime") or ""), request["sourceParentId"]))
    return list(dict.fromkeys(source for _, source in sorted(moves, reverse=True)))


def source_chains(documents: Mapping[str, Any], account_id: str | None) -> tuple[list[str], list[str]]:
    """(targets, SCP ids) of the chains above each parent the account was moved from (`move_sources`), as far
    as the organizations.* files at hand go: what the `cli:` checklist lists for a MoveAccount's rollback."""
    targets: list[str] = []
    policy_ids: list[str] = []
    for source in move_sources(documents, account_id):
        chain, listed = organization_chain(documents, source)
        targets += chain
        policy_ids += listed
    return list(dict.fromkeys(targets)), list(dict.fromkeys(policy_ids))


def moved_chain_lookups(documents: Mapping[str, Any], account_id: str | None,
                        current_targets: list[str] | tuple[str, ...]) -> list[ChangeLookup]:
    """The management-account look-ups for the SCP changes, since the move, of the chains the account left
    (`source_chains`) that are not in the chain it is in now (those `change_lookups` already has): each target
    (`change-org-<target>`: AttachPolicy, DetachPolicy) and each SCP listed on them but AWS's FullAWSAccess
    (`change-scp-<id>`: UpdatePolicy). A move is rolled back with the SCPs as they were then, not as they are."""
    targets, policy_ids = source_chains(documents, account_id)
    _, current_ids = organization_chain(documents, account_id)
    out = [ChangeLookup(f"change-scp-{_safe(p)}", "ResourceName", p, GLOBAL_REGION, MANAGEMENT)
           for p in policy_ids if p != FULL_AWS_ACCESS and p not in current_ids]
    out += [ChangeLookup(f"change-org-{_safe(t)}", "ResourceName", t, GLOBAL_REGION, MANAGEMENT)
            for t in targets if t not in current_targets]
    return out


def _records(documents: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The CloudTrail records of every lookup-events, log and Athena document."""
    out: list[dict[str, Any]] = []
    for name, document in documents.items():
        if not isinstance(document, dict):
            continue
        if name.startswith(LOOKUP_PREFIX):
            out += [r for r in (lookup_event_record(e) for e in document.get("Events") or []) if r]
        elif name.startswith((LOGS_PREFIX, ATHENA_PREFIX)):
            out += [r for r in document.get("Records") or [] if isinstance(r, dict)]
    return out


def management_lookup_commands(lookups: list[ChangeLookup], since: str) -> list[str]:
    """The `aws cloudtrail lookup-events` commands of the management-account look-ups, ready to paste."""
    return [f"aws cloudtrail lookup-events --lookup-attributes AttributeKey={q.attribute},AttributeValue={q.value} "
            f"--start-time {since} --region {q.region} --output json > {q.file_name}"
            for q in lookups if q.in_management_account]


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
