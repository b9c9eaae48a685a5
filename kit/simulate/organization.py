"""The organization (management account 111122223333, OU Workloads holding both member accounts), its SCPs,
each account's trail (management events to an S3 bucket; the management account's holds the
Organizations changes), and in the management account a read-only role, `CHANGE_READER_ROLE`, that a
collector assumes (`org_role_arn`) to look up those changes."""

from __future__ import annotations

import json
from typing import Any

from kit.simulate.clients import HOME_REGION, Clients
from kit.simulate.logs import TRAIL_NAME, org_trail_bucket, trail_bucket
from kit.simulate.trail import ORG_TRAIL_NAME, DigestChain
from kit.simulate.placeholders import resolve
from kit.simulate.world import DEFAULT_ACCOUNT, MANAGEMENT_ACCOUNT, OTHER_ACCOUNT, World, world

CHANGE_READER_ROLE = "KitOrganizationsReader"
CHANGE_READER_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ReadOrganizationsChanges", "Effect": "Allow", "Action": ["cloudtrail:LookupEvents"], "Resource": "*"},
    {"Sid": "ReadOrganization", "Effect": "Allow",
     "Action": ["organizations:Describe*", "organizations:List*"], "Resource": "*"}]}


def change_reader_arn() -> str:
    """The management account's read-only role for Organizations changes (what `org_role_arn` names)."""
    return f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/{CHANGE_READER_ROLE}"


def create_organization(clients: Clients, w: World) -> None:
    """The organization, its OU, the two member accounts with their access role and trail."""
    from moto.organizations.models import organizations_backends

    org = clients("organizations", MANAGEMENT_ACCOUNT, "us-east-1")
    org.create_organization(FeatureSet="ALL")
    root_id = org.list_roots()["Roots"][0]["Id"]
    ou_id = org.create_organizational_unit(ParentId=root_id, Name="Workloads")["OrganizationalUnit"]["Id"]
    backend = organizations_backends[MANAGEMENT_ACCOUNT]["aws"]
    create_trail(clients, MANAGEMENT_ACCOUNT)  # Organizations changes (SCPs) are recorded there
    for account, name in ((DEFAULT_ACCOUNT, "workloads-prod"), (OTHER_ACCOUNT, "shared-services")):
        org.create_account(Email=f"aws+{name}@example.com", AccountName=name)
        created = backend.accounts[-1]
        organizations_backends.master_accounts.pop(created.id, None)
        created.id = account
        organizations_backends.master_accounts[account] = (MANAGEMENT_ACCOUNT, "aws")
        org.move_account(AccountId=account, SourceParentId=root_id, DestinationParentId=ou_id)
        create_trail(clients, account)
        iam = clients("iam", account)
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root"}}]}
        iam.create_role(RoleName="OrganizationAccountAccessRole", AssumeRolePolicyDocument=json.dumps(trust))
        # AWS attaches the managed AdministratorAccess; moto loads no AWS managed policies: same document inline
        iam.put_role_policy(RoleName="OrganizationAccountAccessRole", PolicyName="AdministratorAccess",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                                {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    create_change_reader(clients)
    org_id = org.describe_organization()["Organization"]["Id"]
    w.organization.update(root_id=root_id, ou_id=ou_id, management=MANAGEMENT_ACCOUNT, org_id=org_id)
    create_org_trail(clients, w, org_id)


def create_change_reader(clients: Clients) -> None:
    """The management account's read-only role (CloudTrail LookupEvents, Organizations reads) that member
    accounts' collectors may assume."""
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in (DEFAULT_ACCOUNT, OTHER_ACCOUNT, MANAGEMENT_ACCOUNT)]}}]}
    iam = clients("iam", MANAGEMENT_ACCOUNT)
    iam.create_role(RoleName=CHANGE_READER_ROLE, AssumeRolePolicyDocument=json.dumps(trust),
                    Description="Read-only: the organization's changes (SCPs) for kit investigations")
    iam.put_role_policy(RoleName=CHANGE_READER_ROLE, PolicyName="read-organizations-changes",
                        PolicyDocument=json.dumps(CHANGE_READER_POLICY))


def create_org_trail(clients: Clients, w: World, org_id: str) -> None:
    """The organisation trail (every member account, every Region, log file validation on) and its bucket."""
    s3 = clients("s3", MANAGEMENT_ACCOUNT)
    bucket = org_trail_bucket()
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": HOME_REGION})
    cloudtrail = clients("cloudtrail", MANAGEMENT_ACCOUNT, "us-east-1")
    cloudtrail.create_trail(Name=ORG_TRAIL_NAME, S3BucketName=bucket, IsMultiRegionTrail=True,
                            IncludeGlobalServiceEvents=True, IsOrganizationTrail=True,
                            EnableLogFileValidation=True)
    cloudtrail.start_logging(Name=ORG_TRAIL_NAME)
    w.org_trail = DigestChain(org_id=org_id, bucket=bucket)


def create_trail(clients: Clients, account: str) -> None:
    """The account's multi-Region trail and its bucket."""
    s3 = clients("s3", account)
    bucket = trail_bucket(account)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": HOME_REGION})
    cloudtrail = clients("cloudtrail", account)
    cloudtrail.create_trail(Name=TRAIL_NAME, S3BucketName=bucket, IsMultiRegionTrail=True,
                            IncludeGlobalServiceEvents=True)
    cloudtrail.start_logging(Name=TRAIL_NAME)


def attach_scp(clients: Clients, spec: dict[str, Any], account: str, values: dict[str, str]) -> None:
    """A service control policy (created once by name) attached to the root, the OU, the account, or
    (`target: "ou:NAME"` or `"ou:NAME/CHILD"`) an OU of that name or path under the root, created on first use
    (holding no account; a scenario's `organizations:MoveAccount` change may move its account there)."""
    w = world()
    org = clients("organizations", MANAGEMENT_ACCOUNT, "us-east-1")
    existing = {p["Name"]: p["Id"] for p in
                org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]}
    where = str(spec.get("target", "ou"))
    if where.startswith("ou:"):
        target = named_ou(clients, where.split(":", 1)[1])
        values[f"org:{where}"] = target
    else:
        target = {"root": w.organization["root_id"], "ou": w.organization["ou_id"], "account": account}[where]
    policy_id = existing.get(spec["name"])
    if policy_id is None:
        policy_id = org.create_policy(Name=spec["name"], Description=spec.get("description", ""),
                                      Type="SERVICE_CONTROL_POLICY",
                                      Content=json.dumps(resolve(spec["document"], values)))["Policy"][
            "PolicySummary"]["Id"]
    values[f"scp:{spec['name']}"] = policy_id  # for changes that name it (kit.simulate.changes)
    attached = {t["TargetId"] for t in org.list_targets_for_policy(PolicyId=policy_id)["Targets"]}
    if target not in attached:
        org.attach_policy(PolicyId=policy_id, TargetId=target)


def named_ou(clients: Clients, name: str) -> str:
    """The id of the OU `name` directly under the root, or of the OU at a path under the root
    (`Workloads/Restricted`: Restricted inside Workloads), each created when missing (holding no account)."""
    org = clients("organizations", MANAGEMENT_ACCOUNT, "us-east-1")
    parent = world().organization["root_id"]
    for part in name.split("/"):
        found = [ou["Id"] for ou in org.list_organizational_units_for_parent(ParentId=parent)["OrganizationalUnits"]
                 if ou["Name"] == part]
        parent = str(found[0]) if found else str(
            org.create_organizational_unit(ParentId=parent, Name=part)["OrganizationalUnit"]["Id"])
    return parent


def regional_trail(clients: Clients, spec: dict[str, Any], account: str, region: str) -> None:
    """A scenario's single-Region trail with its event selectors (e.g. ExcludeManagementEventSources
    kms.amazonaws.com); KMS events of the account and Region are then not recorded (logs.publish)."""
    w = world()
    name = str(spec.get("name") or f"{region}-management")
    excluded = [str(s) for s in spec.get("exclude_management_event_sources") or []]
    cloudtrail = clients("cloudtrail", account, region)
    if name not in {t["Name"] for t in cloudtrail.describe_trails(includeShadowTrails=False)["trailList"]}:
        cloudtrail.create_trail(Name=name, S3BucketName=trail_bucket(account), IsMultiRegionTrail=False)
        cloudtrail.put_event_selectors(TrailName=name, EventSelectors=[{
            "ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [],
            "ExcludeManagementEventSources": excluded}])
        cloudtrail.start_logging(Name=name)
    if "kms.amazonaws.com" in excluded:
        w.kms_unrecorded.add((account, region))
