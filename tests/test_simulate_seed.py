"""The seed scenario over real HTTP: boto3 and the real AWS CLI against the simulated account."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3

AWS_CLI = Path(sys.executable).with_name("aws")


def client(sim, service: str, region: str = "eu-west-1"):
    env = sim.environ()
    return boto3.client(service, region_name=region, endpoint_url=env["AWS_ENDPOINT_URL"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def aws(sim, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(sim.environ())
    return subprocess.run([str(AWS_CLI), *args, "--output", "json"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_aws_cli_prints_the_seed_state_reason(sim):
    seed = sim.scenario("seed")
    result = aws(sim, "ec2", "describe-instances", "--instance-ids", seed.instance_id,
                 "--query", "Reservations[*].Instances[*].StateReason")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [[{"Code": "Client.InternalError",
                                           "Message": "Client.InternalError: Client error on launch"}]]


def test_seed_world_is_what_the_article_describes(sim):
    seed = sim.scenario("seed")
    assert (seed.account_id, seed.region) == ("123456789012", "eu-west-1")
    assert seed.principal_arn == "arn:aws:iam::123456789012:user/test"
    ec2, kms, iam = client(sim, "ec2"), client(sim, "kms"), client(sim, "iam")
    instance = ec2.describe_instances(InstanceIds=[seed.instance_id])["Reservations"][0]["Instances"][0]
    assert instance["State"]["Name"] == "stopped"
    assert instance["StateTransitionReason"] == "Client.InternalError: Client error on launch"
    volumes = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [seed.instance_id]}])
    [volume] = volumes["Volumes"]
    assert volume["Encrypted"] is True
    assert volume["KmsKeyId"] == seed.expected["key_arn"]
    assert volume["KmsKeyId"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")
    metadata = kms.describe_key(KeyId=volume["KmsKeyId"])["KeyMetadata"]
    assert (metadata["KeyManager"], metadata["KeyState"]) == ("CUSTOMER", "Enabled")
    policy = json.loads(kms.get_key_policy(KeyId=volume["KmsKeyId"], PolicyName="default")["Policy"])
    assert policy["Statement"] == [{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                                    "Action": "kms:*", "Resource": "*"}]
    user_policies = iam.list_user_policies(UserName="test")["PolicyNames"]
    documents = [iam.get_user_policy(UserName="test", PolicyName=n)["PolicyDocument"] for n in user_policies]
    actions = [s["Action"] for d in documents for s in d["Statement"]]
    assert actions == ["ec2:*"]
    assert iam.list_access_keys(UserName="test")["AccessKeyMetadata"]


def test_seed_create_grant_event_names_instance_volume_and_key(sim):
    seed = sim.scenario("seed")
    cloudtrail = client(sim, "cloudtrail")
    pages = cloudtrail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": seed.expected["key_arn"]}])
    events = [json.loads(e["CloudTrailEvent"]) for page in pages for e in page["Events"]]
    # other tests may seed more instances that share the key: the seed's grant is the one for its volume
    grants = [e for e in events if e["eventName"] == "CreateGrant" and e.get("errorCode")
              and e["requestParameters"]["constraints"]["encryptionContextSubset"].get("aws:ebs:id") == seed.volume_ids[0]]
    assert len(grants) == 1, "the seed's refused CreateGrant for its volume is in CloudTrail, once"
    grant = grants[0]
    assert grant["userIdentity"]["arn"] == "arn:aws:iam::123456789012:user/test"
    assert grant["userIdentity"]["invokedBy"] == "ec2.amazonaws.com"
    assert grant["requestParameters"]["granteePrincipal"] == (
        f"arn:aws:sts::123456789012:assumed-role/aws:ec2-infrastructure/{seed.instance_id}")
    assert grant["requestParameters"]["constraints"]["encryptionContextSubset"] == {
        "aws:ebs:id": seed.volume_ids[0]}
    assert grant["errorMessage"] == (
        "User: arn:aws:iam::123456789012:user/test is not authorized to perform: kms:CreateGrant on resource: "
        f"{seed.expected['key_arn']} because no identity-based policy allows the kms:CreateGrant action")


def test_start_on_failing_instance_answers_pending_then_ends_stopped(sim):
    seeded = sim.seed("seed")            # a fresh instance of its own, so other tests keep theirs untouched
    ec2 = client(sim, "ec2")
    answer = ec2.start_instances(InstanceIds=[seeded.instance_id])["StartingInstances"][0]
    assert answer["CurrentState"] == {"Code": 0, "Name": "pending"}
    assert answer["PreviousState"] == {"Code": 80, "Name": "stopped"}
    state = "pending"
    for _ in range(120):
        instance = ec2.describe_instances(InstanceIds=[seeded.instance_id])["Reservations"][0]["Instances"][0]
        state = instance["State"]["Name"]
        if state != "pending":
            break
        time.sleep(0.1)
    assert state == "stopped"
    assert instance["StateReason"]["Code"] == "Client.InternalError"
    cloudtrail = client(sim, "cloudtrail")
    events = cloudtrail.lookup_events(LookupAttributes=[
        {"AttributeKey": "ResourceName", "AttributeValue": seeded.instance_id}])["Events"]
    assert [e["EventName"] for e in events].count("StartInstances") == 2   # seeded launch + the replay


def test_aws_cli_start_instances_answers_pending(sim):
    seeded = sim.seed("seed")
    result = aws(sim, "ec2", "start-instances", "--instance-ids", seeded.instance_id)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["StartingInstances"][0]["CurrentState"]["Name"] == "pending"
    state = "pending"
    for _ in range(120):
        described = aws(sim, "ec2", "describe-instances", "--instance-ids", seeded.instance_id,
                        "--query", "Reservations[0].Instances[0].State.Name")
        state = json.loads(described.stdout)
        if state != "pending":
            break
        time.sleep(0.2)
    assert state == "stopped"


def test_aws_cli_reads_the_seed_evidence_as_the_article_does(sim):
    seed = sim.scenario("seed")
    volumes = aws(sim, "ec2", "describe-volumes", "--filters", f"Name=attachment.instance-id,Values={seed.instance_id}",
                  "--query", "Volumes[*].[Encrypted,KmsKeyId]")
    assert volumes.returncode == 0, volumes.stderr
    assert json.loads(volumes.stdout) == [[True, seed.expected["key_arn"]]]
    key = aws(sim, "kms", "describe-key", "--key-id", seed.expected["key_arn"], "--query", "KeyMetadata.KeyManager")
    assert json.loads(key.stdout) == "CUSTOMER"
    events = aws(sim, "cloudtrail", "lookup-events", "--lookup-attributes",
                 "AttributeKey=EventName,AttributeValue=CreateGrant", "--page-size", "5")
    assert events.returncode == 0, events.stderr
    records = [json.loads(e["CloudTrailEvent"]) for e in json.loads(events.stdout)["Events"]]
    assert len(records) > 5, "the CLI follows NextToken across pages"
    assert any(r.get("errorMessage", "").startswith("User: arn:aws:iam::123456789012:user/test is not authorized "
                                                    "to perform: kms:CreateGrant") for r in records)


def test_a_second_start_while_pending_answers_pending_again(sim, sim_client):
    seeded = sim.seed("seed")
    ec2 = sim_client("ec2")
    first = ec2.start_instances(InstanceIds=[seeded.instance_id])["StartingInstances"][0]
    second = ec2.start_instances(InstanceIds=[seeded.instance_id])["StartingInstances"][0]
    assert first["CurrentState"]["Name"] == second["CurrentState"]["Name"] == "pending"
    state = "pending"
    for _ in range(120):
        state = ec2.describe_instances(InstanceIds=[seeded.instance_id])["Reservations"][0]["Instances"][0]["State"]
        state = state["Name"]
        if state != "pending":
            break
        time.sleep(0.1)
    assert state == "stopped"
