"""The second account, Organizations, cross-account keys and AMIs, and the EC2/KMS gaps filled over moto."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

OTHER = "444455556666"


@pytest.fixture(scope="module")
def other_session(sim, sim_client) -> boto3.session.Session:
    """Credentials in 444455556666 obtained the way a real client does: STS AssumeRole."""
    credentials = sim_client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{OTHER}:role/OrganizationAccountAccessRole", RoleSessionName="kit-reader")["Credentials"]
    return boto3.session.Session(aws_access_key_id=credentials["AccessKeyId"],
                                 aws_secret_access_key=credentials["SecretAccessKey"],
                                 aws_session_token=credentials["SessionToken"], region_name="eu-west-1")


def test_assume_role_lands_in_the_second_account(sim, other_session):
    identity = other_session.client("sts", endpoint_url=sim.endpoint_url).get_caller_identity()
    assert identity["Account"] == OTHER
    assert identity["Arn"] == f"arn:aws:sts::{OTHER}:assumed-role/OrganizationAccountAccessRole/kit-reader"


def test_cross_account_key_is_readable_where_its_policy_admits_the_account(sim, sim_client, other_session):
    key_arn = sim.scenario("cross-account-key").expected["key_arn"]
    assert key_arn.split(":")[4] == OTHER
    kms = sim_client("kms")
    metadata = kms.describe_key(KeyId=key_arn)["KeyMetadata"]        # the key policy lets 123456789012 describe it
    assert (metadata["Arn"], metadata["AWSAccountId"], metadata["KeyManager"]) == (key_arn, OTHER, "CUSTOMER")
    assert kms.list_grants(KeyId=key_arn)["Grants"] == []
    owner = other_session.client("kms", endpoint_url=sim.endpoint_url)
    policy = json.loads(owner.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    admitted = [s for s in policy["Statement"] if s["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}]
    assert admitted and "kms:CreateGrant" not in admitted[0]["Action"]


def test_cross_account_key_not_admitting_the_account_is_access_denied(sim, sim_client):
    key_arn = sim.scenario("shared-ami").expected["key_arn"]
    with pytest.raises(ClientError) as caught:
        sim_client("kms").describe_key(KeyId=key_arn)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    assert key_arn in caught.value.response["Error"]["Message"]


def test_shared_ami_shows_its_owner_and_encrypted_snapshot(sim, sim_client, other_session):
    seeded = sim.scenario("shared-ami")
    ec2 = sim_client("ec2")
    image = ec2.describe_images(ImageIds=[seeded.image_id])["Images"][0]
    assert image["OwnerId"] == OTHER
    assert image["RootDeviceName"] == "/dev/xvda"
    [mapping] = image["BlockDeviceMappings"]
    assert mapping["DeviceName"] == "/dev/xvda" and mapping["Ebs"]["Encrypted"] is True
    snapshot_id = mapping["Ebs"]["SnapshotId"]
    snapshot = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
    assert (snapshot["OwnerId"], snapshot["Encrypted"], snapshot["KmsKeyId"]) == (OTHER, True, seeded.expected["key_arn"])
    owner_ec2 = other_session.client("ec2", endpoint_url=sim.endpoint_url)
    permissions = owner_ec2.describe_image_attribute(ImageId=seeded.image_id, Attribute="launchPermission")
    assert {"UserId": "123456789012"} in permissions["LaunchPermissions"]


def test_organization_and_scps_are_readable_from_the_member_account(sim, sim_client):
    org = sim_client("organizations", region="us-east-1")
    organization = org.describe_organization()["Organization"]
    assert organization["MasterAccountId"] == "111122223333"
    [parent] = org.list_parents(ChildId="123456789012")["Parents"]
    assert parent["Type"] == "ORGANIZATIONAL_UNIT"
    chain = [parent]  # the account sits in Workloads, or in an OU inside it (change-account-moved moves it there)
    while chain[-1]["Type"] != "ROOT" and len(chain) < 4:
        [above] = org.list_parents(ChildId=chain[-1]["Id"])["Parents"]
        chain.append(above)
    assert chain[-1]["Type"] == "ROOT" and len(chain) in (2, 3)
    ou = chain[-2]  # Workloads, directly under the root
    names = {p["Name"]: p["Id"] for p in org.list_policies_for_target(TargetId=ou["Id"],
                                                                       Filter="SERVICE_CONTROL_POLICY")["Policies"]}
    assert {"FullAWSAccess", "DenyKmsGrantsForContractors"} <= set(names)
    content = json.loads(org.describe_policy(PolicyId=names["DenyKmsGrantsForContractors"])["Policy"]["Content"])
    assert content["Statement"][0]["Effect"] == "Deny"
    assert content["Statement"][0]["Condition"]["ArnLike"]["aws:PrincipalArn"] == "arn:aws:iam::*:role/contractor-*"
    on_account = [p["Name"] for p in org.list_policies_for_target(TargetId="123456789012",
                                                                  Filter="SERVICE_CONTROL_POLICY")["Policies"]]
    assert on_account[0] == "FullAWSAccess"  # then any SCP a scenario attaches to the account itself
    assert set(on_account[1:]) <= {"DenyKmsGrantsToIngestJobs"}  # change-scp-attached's


def test_default_ebs_key_id_is_the_alias_until_changed(sim_client):
    assert sim_client("ec2").get_ebs_default_kms_key_id()["KmsKeyId"] == "alias/aws/ebs"


def test_volume_key_ids_are_normalised_to_arns(sim, sim_client):
    kms, ec2 = sim_client("kms"), sim_client("ec2")
    key = kms.describe_key(KeyId="alias/app-data")["KeyMetadata"]
    volume = ec2.create_volume(AvailabilityZone="eu-west-1a", Size=1, Encrypted=True, KmsKeyId=key["KeyId"])
    try:
        described = ec2.describe_volumes(VolumeIds=[volume["VolumeId"]])["Volumes"][0]
        assert described["KmsKeyId"] == key["Arn"]
    finally:
        ec2.delete_volume(VolumeId=volume["VolumeId"])


def test_start_of_a_terminated_instance_is_refused_as_aws_does(sim, sim_client):
    seeded = sim.scenario("autoscaling-slr")
    with pytest.raises(ClientError) as caught:
        sim_client("ec2").start_instances(InstanceIds=[seeded.instance_id])
    assert caught.value.response["Error"]["Code"] == "IncorrectInstanceState"


def test_trail_bucket_holds_both_accounts_logs(sim, other_session):
    s3 = other_session.client("s3", endpoint_url=sim.endpoint_url)
    listing = s3.list_objects_v2(Bucket=f"aws-cloudtrail-logs-{OTHER}-management", Prefix=f"AWSLogs/{OTHER}/")
    assert listing["KeyCount"] > 0     # the owner's copies of cross-account KMS calls, and its own bastion


def test_auto_scaling_records_the_failed_launch(sim, sim_client):
    seeded = sim.scenario("autoscaling-slr")
    autoscaling = sim_client("autoscaling")
    [group] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web-asg"])["AutoScalingGroups"]
    assert group["LaunchTemplate"]["LaunchTemplateName"] == "web-asg-template"
    activities = [a for page in autoscaling.get_paginator("describe_scaling_activities").paginate(
        AutoScalingGroupName="web-asg") for a in page["Activities"]]
    mine = [a for a in activities if a["Description"] == f"Launching a new EC2 instance: {seeded.instance_id}"]
    assert len(mine) == 1
    assert mine[0]["StatusCode"] == "Cancelled"
    assert mine[0]["StatusMessage"].endswith("Termination Reason: Client.InternalError: Client error on launch")
    assert mine[0]["StartTime"] == seeded.launched_at
