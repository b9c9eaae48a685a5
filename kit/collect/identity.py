"""Identity evidence: the account's IAM authorization details, the launcher's AWS managed policies, SCPs.

`iam.get-account-authorization-details.json` is read with Filter User, Role, Group, LocalManagedPolicy:
AWS managed policies number over a thousand, so instead only those attached to the launching principal
(directly, through its groups, or as its permissions boundary) are read, at most MAX_MANAGED_POLICIES,
as `iam.get-policy.<policy-name>.json` + `iam.get-policy-version.<policy-name>.json` (default version).
SCPs are read from the account up to the root when Organizations is readable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kit.collect.fetcher import Fetcher
from kit.collect.principal import Principal

AUTHORIZATION_FILTER = ["User", "Role", "Group", "LocalManagedPolicy"]
AWS_MANAGED_PREFIX = ":iam::aws:policy/"
MAX_MANAGED_POLICIES = 10
MAX_ORGANIZATION_DEPTH = 7  # the account, up to five levels of OUs, the root


def authorization_details(fetch: Fetcher) -> dict[str, Any] | None:
    """`iam.get-account-authorization-details.json` (users, roles, groups, customer managed policies)."""
    return fetch.fetch("iam.get-account-authorization-details.json", "iam", "GetAccountAuthorizationDetails",
                       {"Filter": AUTHORIZATION_FILTER}, page_size=1000)  # IAM's largest page: fewest calls


def aws_managed_policies(fetch: Fetcher, details: dict[str, Any] | None, principal: Principal | None) -> None:
    """The default version of each AWS managed policy that applies to `principal` (bounded)."""
    arns = attached_aws_managed(details or {}, principal)
    if len(arns) > MAX_MANAGED_POLICIES:
        fetch.skip("iam", "GetPolicy", {"PolicyArn": arns[MAX_MANAGED_POLICIES]}, error="PolicyLimitReached",
                   impact=f"{principal.arn if principal else 'the principal'} has {len(arns)} AWS managed policies; "
                          f"only the first {MAX_MANAGED_POLICIES} were read")
        arns = arns[:MAX_MANAGED_POLICIES]
    fetch.each(lambda arn: _default_version(fetch, arn), arns)


def attached_aws_managed(details: dict[str, Any], principal: Principal | None) -> list[str]:
    """AWS managed policy ARNs attached to the principal, its groups, or set as its boundary."""
    if principal is None or principal.kind in ("root", "service"):
        return []
    entries: list[dict[str, Any]] = []
    if principal.kind in ("user", "federated-user"):
        entries = [u for u in details.get("UserDetailList") or [] if _same_entity(u, principal)]
        groups = {g for u in entries for g in u.get("GroupList") or []}
        entries += [g for g in details.get("GroupDetailList") or [] if g.get("GroupName") in groups]
    else:
        entries = [r for r in details.get("RoleDetailList") or [] if _same_entity(r, principal)]
    arns: list[str] = []
    for entry in entries:
        arns += [p.get("PolicyArn", "") for p in entry.get("AttachedManagedPolicies") or []]
        arns.append((entry.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn", ""))
    already = {p.get("Arn") for p in details.get("Policies") or []}
    return [a for a in dict.fromkeys(arns) if AWS_MANAGED_PREFIX in a and a not in already]


def _same_entity(entry: dict[str, Any], principal: Principal) -> bool:
    if entry.get("Arn") == principal.arn:
        return True
    name = entry.get("UserName") or entry.get("RoleName")
    return bool(name) and name == principal.name


def _default_version(fetch: Fetcher, arn: str) -> None:
    name = arn.rsplit("/", 1)[-1]
    policy = fetch.fetch(f"iam.get-policy.{name}.json", "iam", "GetPolicy", {"PolicyArn": arn}, target=arn)
    version = ((policy or {}).get("Policy") or {}).get("DefaultVersionId")
    if version:
        fetch.fetch(f"iam.get-policy-version.{name}.json", "iam", "GetPolicyVersion",
                    {"PolicyArn": arn, "VersionId": version}, target=arn)


def service_control_policies(fetch: Fetcher, account_id: str | None) -> None:
    """`organizations.list-parents.<child>.json` up to the root, `list-policies-for-target.<target>.json`
    (SERVICE_CONTROL_POLICY) for the account and each parent, `describe-policy.<id>.json` for each SCP."""
    if not account_id:
        return
    targets, child = [account_id], account_id
    for _ in range(MAX_ORGANIZATION_DEPTH):
        parents = fetch.fetch(f"organizations.list-parents.{child}.json", "organizations", "ListParents",
                              {"ChildId": child}, target=child)
        if not parents or not parents.get("Parents"):
            break
        parent = parents["Parents"][0]
        targets.append(parent["Id"])
        if parent.get("Type") == "ROOT":
            break
        child = parent["Id"]
    if len(targets) == 1 and _not_in_organization(fetch):
        return  # no organization, no SCPs (the gap says so)
    listings = fetch.each(
        lambda target: fetch.fetch(f"organizations.list-policies-for-target.{target}.json", "organizations",
                                   "ListPoliciesForTarget", {"TargetId": target, "Filter": "SERVICE_CONTROL_POLICY"},
                                   target=target),
        targets)
    policy_ids = [p["Id"] for listing in listings for p in (listing or {}).get("Policies") or []]
    fetch.each(lambda pid: fetch.fetch(f"organizations.describe-policy.{pid}.json", "organizations",
                                       "DescribePolicy", {"PolicyId": pid}, target=pid),
               list(dict.fromkeys(policy_ids)))


def parent_chain_policies(fetch: Fetcher, parent_id: str, known: Mapping[str, Any] | None = None) -> None:
    """For an OU or root the account was moved from (kit.collect.change_lookups.move_sources): its
    `list-parents` up to the root, `list-policies-for-target` (SERVICE_CONTROL_POLICY) for it and each ancestor,
    `describe-policy` for each SCP listed; documents already read (here or in `known`: the account's own chain)
    are not read again."""
    def once(name: str, operation: str, params: dict[str, Any], target: str) -> dict[str, Any] | None:
        for documents in (fetch.documents, known or {}):
            if name in documents:
                return documents[name]
        return fetch.fetch(name, "organizations", operation, params, target=target)

    targets, child = [parent_id], parent_id
    for _ in range(MAX_ORGANIZATION_DEPTH):
        if child.startswith("r-"):  # the root has no parent
            break
        parents = once(f"organizations.list-parents.{child}.json", "ListParents", {"ChildId": child}, child)
        parent = ((parents or {}).get("Parents") or [{}])[0]
        if not parent.get("Id") or parent["Id"] in targets:
            break
        targets.append(str(parent["Id"]))
        child = str(parent["Id"])
    listings = fetch.each(
        lambda target: once(f"organizations.list-policies-for-target.{target}.json", "ListPoliciesForTarget",
                            {"TargetId": target, "Filter": "SERVICE_CONTROL_POLICY"}, target),
        targets)
    policy_ids = [p["Id"] for listing in listings for p in (listing or {}).get("Policies") or []]
    fetch.each(lambda pid: once(f"organizations.describe-policy.{pid}.json", "DescribePolicy", {"PolicyId": pid}, pid),
               list(dict.fromkeys(policy_ids)))


def _not_in_organization(fetch: Fetcher) -> bool:
    return any(g.call == "organizations:ListParents" and g.error == "AWSOrganizationsNotInUseException"
               for g in fetch.gaps)
