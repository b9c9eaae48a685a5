"""The seeded policies tell the same story as the scenario: the kit's own evaluator, fed what the simulated
account's APIs return, refuses EC2's kms:CreateGrant where the scenario says policy refused it (and at the
layer CloudTrail names), and allows it where the scenario blames something else (key state, quota, ...)."""

from __future__ import annotations

import json

import pytest

from kit.policy import PolicySet, Request, evaluate
from kit.simulate import load_catalogue

SPECS = {s.name: s.spec for s in load_catalogue()}
# scenario -> (decision, decided_by) expected for the launcher's CreateGrant on the failing key
POLICY_DENIED = {
    "seed": "identity-policy", "sso-role": "identity-policy", "scheduler-role": "identity-policy",
    "hostile-tags": "identity-policy", "key-policy-no-delegation": "key-policy",
    "explicit-deny-identity": "explicit-deny", "scp-deny": "explicit-deny",
    "permissions-boundary": "permissions-boundary", "autoscaling-slr": "identity-policy",
    "default-ebs-key": "identity-policy", "cross-account-key": "key-policy", "shared-ami": "key-policy",
}
POLICY_ALLOWS = ["key-disabled", "key-pending-deletion", "key-unusable", "perimeter-decrypt-deny", "session-policy"]
LAYER_WORDS = {"identity-policy": "because no identity-based policy allows",
               "key-policy": "because no resource-based policy allows",
               "explicit-deny": "with an explicit deny in an identity-based policy",
               "scp": "with an explicit deny in a service control policy",
               "permissions-boundary": "because no permissions boundary allows",
               "session-policy": "because no session policy allows"}


def identity_policies(iam, principal_arn: str) -> tuple[list[dict], dict | None]:
    """Every identity policy document of a user or role, and its permissions boundary document."""
    def managed(arn: str) -> dict:
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]

    name = principal_arn.rsplit("/", 1)[-1]
    documents: list[dict] = []
    if ":user/" in principal_arn:
        entity = iam.get_user(UserName=name)["User"]
        documents += [iam.get_user_policy(UserName=name, PolicyName=p)["PolicyDocument"]
                      for p in iam.list_user_policies(UserName=name)["PolicyNames"]]
        documents += [managed(p["PolicyArn"]) for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]]
        for group in iam.list_groups_for_user(UserName=name)["Groups"]:
            g = group["GroupName"]
            documents += [iam.get_group_policy(GroupName=g, PolicyName=p)["PolicyDocument"]
                          for p in iam.list_group_policies(GroupName=g)["PolicyNames"]]
            documents += [managed(p["PolicyArn"])
                          for p in iam.list_attached_group_policies(GroupName=g)["AttachedPolicies"]]
    else:
        entity = iam.get_role(RoleName=name)["Role"]
        documents += [iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                      for p in iam.list_role_policies(RoleName=name)["PolicyNames"]]
        documents += [managed(p["PolicyArn"]) for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
    boundary = entity.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    return documents, managed(boundary) if boundary else None


def scps(org, account: str) -> list[list[dict]]:
    """The SCP documents of each organization level above the account, root first."""
    levels, target = [], account
    while True:
        policies = org.list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")["Policies"]
        levels.append([json.loads(org.describe_policy(PolicyId=p["Id"])["Policy"]["Content"]) for p in policies])
        parents = org.list_parents(ChildId=target)["Parents"]
        if not parents:
            break
        target = parents[0]["Id"]
        if parents[0]["Type"] == "ROOT":
            policies = org.list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")["Policies"]
            levels.append([json.loads(org.describe_policy(PolicyId=p["Id"])["Policy"]["Content"]) for p in policies])
            break
    return list(reversed(levels))


def key_policy(sim, sim_client, key_arn: str, region: str) -> dict:
    import boto3

    owner = key_arn.split(":")[4]
    kms = sim_client("kms", region=region)
    if owner != "123456789012":      # GetKeyPolicy is same-account only: read it as the owner
        credentials = sim_client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{owner}:role/OrganizationAccountAccessRole", RoleSessionName="policy-test")["Credentials"]
        kms = boto3.client("kms", region_name=region, endpoint_url=sim.endpoint_url,
                           aws_access_key_id=credentials["AccessKeyId"],
                           aws_secret_access_key=credentials["SecretAccessKey"],
                           aws_session_token=credentials["SessionToken"])
    return json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])


def create_grant_decision(sim, sim_client, name: str):
    seeded = sim.scenario(name)
    key_arn = seeded.expected["key_arn"]
    identity, boundary = identity_policies(sim_client("iam"), seeded.principal_arn)
    policies = PolicySet(identity=identity, resource_policy=key_policy(sim, sim_client, key_arn, seeded.region),
                         boundary=boundary, scps=scps(sim_client("organizations", region="us-east-1"),
                                                      seeded.account_id),
                         management_account_id="111122223333")
    request = Request(principal_arn=seeded.principal_arn, action="kms:CreateGrant", resource=key_arn, context={
        "kms:GrantIsForAWSResource": "true", "kms:ViaService": f"ec2.{seeded.region}.amazonaws.com",
        "kms:CallerAccount": seeded.account_id, "kms:GrantOperations": ["Decrypt"],
        "kms:GranteePrincipal": f"arn:aws:sts::{seeded.account_id}:assumed-role/aws:ec2-infrastructure/"
                                f"{seeded.instance_id}",
        "kms:EncryptionContext:aws:ebs:id": seeded.volume_ids[0] if seeded.volume_ids else "vol-0"})
    return evaluate(request, policies)


@pytest.mark.parametrize("name", sorted(POLICY_DENIED))
def test_policies_refuse_where_the_scenario_says_policy_refused(sim, sim_client, name):
    decision = create_grant_decision(sim, sim_client, name)
    assert decision.decision == "deny", decision.explanation
    assert decision.decided_by == POLICY_DENIED[name], decision.explanation
    if SPECS[name]["expected"]["cause"] == "kms-grant-denied":
        expected = SPECS[name]["expected"]["denied_by"]
        if expected == "scp":
            assert decision.layer == "scp"
        else:
            assert decision.decided_by == expected


@pytest.mark.parametrize("name", POLICY_ALLOWS)
def test_policies_allow_where_the_scenario_blames_something_else(sim, sim_client, name):
    decision = create_grant_decision(sim, sim_client, name)
    assert decision.decision == "allow", decision.explanation


@pytest.mark.parametrize("name", [s.name for s in load_catalogue() if s.cause == "kms-grant-denied"
                                  and "kms.amazonaws.com" not in ((s.spec.get("trail") or {})
                                                                  .get("exclude_management_event_sources") or [])])
def test_cloudtrail_names_the_refusing_layer(sim, sim_client, name):
    """(A scenario whose trail leaves KMS events out has no refusal to read: tests/test_remediation_fixes.py.)"""
    seeded = sim.scenario(name)
    cloudtrail = sim_client("cloudtrail", region=seeded.region)
    records = [json.loads(e["CloudTrailEvent"]) for page in cloudtrail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": seeded.expected["key_arn"]}])
        for e in page["Events"]]
    refused = [r for r in records if r.get("errorCode") and seeded.instance_id in json.dumps(r)]
    assert refused
    denied_by = seeded.expected["denied_by"]
    words = LAYER_WORDS[denied_by]
    if denied_by == "explicit-deny":
        assert any(w in r["errorMessage"] for r in refused for w in (
            "with an explicit deny in an identity-based policy", "with an explicit deny in a resource-based policy"))
    else:
        assert all(words in r["errorMessage"] for r in refused)
