"""The scenario catalogue: coverage of the cause codes, the CLI, and every seeded scenario's internal consistency."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kit.simulate import load_catalogue
from kit.simulate.principals import principal_arn_for
from kit.causes import cause_ids, causes_of_kind

KIT = [sys.executable, "-m", "kit"]
NAMES = [s.name for s in load_catalogue()]


def test_catalogue_covers_every_cause_code_and_starts_with_seed():
    catalogue = load_catalogue()
    assert len(catalogue) >= 18
    assert catalogue[0].name == "seed"
    assert {s.cause for s in catalogue} == set(cause_ids())
    denied_by = {s.spec["expected"]["denied_by"] for s in catalogue if s.cause == "kms-grant-denied"}
    assert denied_by >= {"identity-policy", "key-policy", "explicit-deny", "permissions-boundary", "scp",
                         "session-policy"}


def test_kit_scenarios_lists_name_cause_and_story():
    result = subprocess.run([*KIT, "scenarios"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(NAMES) >= 14
    rows = {line.split()[0]: line.split()[1] for line in lines}
    assert rows == {s.name: s.cause for s in load_catalogue()}
    assert set(rows.values()) == set(cause_ids())
    assert all(len(line.split(maxsplit=2)) == 3 for line in lines), "every row has a story"


def test_kit_simulate_unknown_scenario_exits_2_listing_the_names():
    result = subprocess.run([*KIT, "simulate", "--scenario", "nope"], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 2
    assert "nope" in result.stderr
    assert all(name in result.stderr for name in NAMES)


def launch_calls_by_name(sim_client, seeded, instance: dict) -> list[dict]:
    """The launch calls tied to the instance by its fleet or Spot request id (looked up by event name, as the
    kit does: CloudTrail's lookup of the instance id does not return them)."""
    from kit.frames.launch_paths import instance_links, launch_paths, record_names_instance

    links = instance_links(instance)
    cloudtrail = sim_client("cloudtrail", region=seeded.region)
    found = []
    for path in launch_paths().values():
        if not path.lookup or not links.get(path.lookup):
            continue
        for page in cloudtrail.get_paginator("lookup_events").paginate(
                LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": path.event_name}]):
            found += [r for r in (json.loads(e["CloudTrailEvent"]) for e in page["Events"])
                      if record_names_instance(r, seeded.instance_id, links)]
    return found


def events_about(sim_client, seeded) -> list[dict]:
    """Every record naming the scenario's instance, directly or as the grantee of EC2's KMS calls."""
    cloudtrail = sim_client("cloudtrail", region=seeded.region)
    paginate = cloudtrail.get_paginator("lookup_events").paginate
    found: dict[str, dict] = {}
    queries = [seeded.instance_id, *seeded.key_arns.values()]
    for name in queries:
        for page in paginate(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": name}]):
            for event in page["Events"]:
                record = json.loads(event["CloudTrailEvent"])
                if (seeded.instance_id in json.dumps(record.get("requestParameters")) or
                        seeded.instance_id in json.dumps(record.get("responseElements"))
                        or seeded.instance_id in record["userIdentity"].get("arn", "")):
                    found[record["eventID"]] = record
    return sorted(found.values(), key=lambda r: r["eventTime"])


def account_client(sim, sim_client, service: str, account: str, region: str):
    """A client acting in `account` the way a real client gets there: STS AssumeRole."""
    import boto3

    credentials = sim_client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                                                RoleSessionName="kit-test")["Credentials"]
    return boto3.client(service, region_name=region, endpoint_url=sim.endpoint_url,
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])


@pytest.mark.parametrize("name", NAMES)
def test_seeded_scenario_is_internally_consistent(sim, sim_client, name):
    seeded = sim.scenario(name)
    spec = next(s for s in load_catalogue() if s.name == name).spec
    ec2, kms = sim_client("ec2", region=seeded.region), sim_client("kms", region=seeded.region)
    iam = sim_client("iam")

    # expected verdict: every placeholder resolved, principal and key exist
    assert "{{" not in json.dumps(seeded.expected)
    assert seeded.expected["cause"] == spec["expected"]["cause"]
    principal = seeded.expected["principal_arn"]
    kind, resource_name = principal.split(":")[5].split("/", 1)[0], principal.rsplit("/", 1)[-1]
    if kind == "user":
        assert iam.get_user(UserName=resource_name)["User"]["Arn"] == principal
    else:
        assert iam.get_role(RoleName=resource_name)["Role"]["Arn"] == principal
    for key_arn in seeded.key_arns.values():
        owner = key_arn.split(":")[4]
        reader = kms if owner == seeded.account_id else account_client(sim, sim_client, "kms", owner, seeded.region)
        assert reader.describe_key(KeyId=key_arn)["KeyMetadata"]["Arn"] == key_arn
    if seeded.expected["key_arn"]:
        assert seeded.expected["key_arn"] in seeded.key_arns.values()

    # the instance and its final state
    instance = ec2.describe_instances(InstanceIds=[seeded.instance_id])["Reservations"][0]["Instances"][0]
    failure = spec["failure"]
    assert instance["State"]["Name"] == failure["state"]
    if failure.get("state_reason"):
        assert instance["StateReason"] == {"Code": failure["state_reason"]["code"],
                                           "Message": failure["state_reason"]["message"]}
    # volumes: KmsKeyId is the full ARN of a key that exists
    volumes = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [seeded.instance_id]}])
    for volume in volumes["Volumes"]:
        assert volume["VolumeId"] in seeded.volume_ids
        if volume["Encrypted"]:
            assert volume["KmsKeyId"].startswith("arn:aws:kms:") and ":key/" in volume["KmsKeyId"]
            assert volume["KmsKeyId"] in seeded.key_arns.values()
            owner = volume["KmsKeyId"].split(":")[4]
            if owner == seeded.account_id:
                assert kms.describe_key(KeyId=volume["KmsKeyId"])["KeyMetadata"]["KeyState"]
    if failure["state"] == "terminated":
        assert volumes["Volumes"] == [], "a failed launch leaves no volumes behind"

    # events: the launch call, then EC2's KMS calls naming this instance and its volumes
    records = events_about(sim_client, seeded)
    launches = [r for r in records if r["eventName"] in ("StartInstances", "RunInstances")]
    launches += launch_calls_by_name(sim_client, seeded, instance)  # CreateFleet, a Spot request
    assert launches, "the launch call is in CloudTrail"
    launch = launches[0]
    assert "errorCode" not in launch
    requester = spec["instance"].get("requested_by")  # a Spot request: the requester calls, the principal launches
    caller_kind = requester["type"] if requester else kind
    caller = launch["userIdentity"]["arn"].split("/")[-1 if caller_kind == "user" else -2]
    assert caller in (principal_arn_for(requester, seeded.account_id, seeded.region) if requester else principal)
    kms_records = [r for r in records if r["eventSource"] == "kms.amazonaws.com"]
    excluded = "kms.amazonaws.com" in ((spec.get("trail") or {}).get("exclude_management_event_sources") or [])
    assert len(kms_records) >= (0 if excluded else len(spec.get("kms_calls") or []))
    assert not (excluded and kms_records), "a trail that leaves KMS out records none"
    for record in kms_records:
        assert record["eventTime"] >= launch["eventTime"]
        parameters = record["requestParameters"]
        context = parameters.get("constraints", {}).get("encryptionContextSubset") or parameters["encryptionContext"]
        assert context["aws:ebs:id"] in seeded.volume_ids
        if record["eventName"] == "CreateGrant":
            assert parameters["granteePrincipal"] == \
                f"arn:aws:sts::{seeded.account_id}:assumed-role/aws:ec2-infrastructure/{seeded.instance_id}"
            assert parameters["retiringPrincipal"] == f"ec2.{seeded.region}.amazonaws.com"
            assert parameters["operations"] == ["Decrypt"]
            assert record["userIdentity"]["invokedBy"] == "ec2.amazonaws.com"
            if not requester:  # a Spot request: EC2 asks KMS as the Spot service-linked role, not the requester
                assert record["userIdentity"]["arn"] == launch["userIdentity"]["arn"]
            else:
                assert record["userIdentity"]["arn"].split("/")[-2] == principal.rsplit("/", 1)[-1]
        assert record["resources"][0]["ARN"] in seeded.key_arns.values()
    errors = [r for r in kms_records if r.get("errorCode")]
    if seeded.expected["cause"] in causes_of_kind("kms") and not excluded:
        assert errors and all(r["resources"][0]["ARN"] == seeded.expected["key_arn"] for r in errors)
        assert all(seeded.expected["key_arn"] in r["errorMessage"] for r in errors)
    else:
        assert errors == [], "lookalikes (and a trail without KMS events) have no KMS error"


def test_key_states_and_managers_match_their_scenarios(sim, sim_client):
    kms = sim_client("kms")
    states = {name: kms.describe_key(KeyId=sim.scenario(name).expected["key_arn"])["KeyMetadata"]
              for name in ("key-disabled", "key-pending-deletion", "key-unusable", "seed")}
    assert states["key-disabled"]["KeyState"] == "Disabled"
    assert states["key-pending-deletion"]["KeyState"] == "PendingDeletion"
    assert "DeletionDate" in states["key-pending-deletion"]
    assert (states["key-unusable"]["KeyState"], states["key-unusable"]["Origin"]) == ("PendingImport", "EXTERNAL")
    assert states["seed"]["KeyState"] == "Enabled"


def test_aws_managed_ebs_key_is_reported_as_aws_does(sim, sim_client):
    kms = sim_client("kms")
    metadata = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    assert metadata["KeyManager"] == "AWS"
    policy = json.loads(kms.get_key_policy(KeyId=metadata["Arn"], PolicyName="default")["Policy"])
    use = policy["Statement"][0]
    assert use["Principal"] == {"AWS": "*"}
    assert "kms:CreateGrant" in use["Action"]
    assert use["Condition"]["StringEquals"] == {"kms:CallerAccount": "123456789012",
                                                "kms:ViaService": "ec2.eu-west-1.amazonaws.com"}
    healthy = sim.scenario("healthy-running")
    [volume] = sim_client("ec2").describe_volumes(VolumeIds=list(healthy.volume_ids))["Volumes"]
    assert volume["KmsKeyId"] == metadata["Arn"]
    grants = kms.list_grants(KeyId=metadata["Arn"])["Grants"]
    mine = [g for g in grants if g["GranteePrincipal"].endswith("/" + healthy.instance_id)]
    assert mine and mine[0]["Operations"] == ["Decrypt"]


def test_encryption_by_default_picks_the_scenarios_key(sim, sim_client):
    seeded = sim.scenario("default-ebs-key")
    ec2 = sim_client("ec2", region="eu-central-1")
    assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is True
    assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == seeded.expected["key_arn"]
    run = [r for r in events_about(sim_client, seeded) if r["eventName"] == "RunInstances"][0]
    ebs = run["requestParameters"]["blockDeviceMapping"]["items"][0]["ebs"]
    assert ebs["encrypted"] is True and "kmsKeyId" not in ebs, "the key was picked implicitly"


def test_principal_identities_have_the_real_shapes(sim, sim_client):
    sso = sim.scenario("sso-role")
    assert ":role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_EC2Operators_" in sso.principal_arn
    assert len(sso.principal_arn.rsplit("_", 1)[-1]) == 16
    slr = sim.scenario("autoscaling-slr")
    assert slr.principal_arn == ("arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/"
                                 "AWSServiceRoleForAutoScaling")
    records = events_about(sim_client, sso)
    identity = next(r for r in records if r["eventName"] == "StartInstances")["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"].startswith("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_EC2Operators_")
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == sso.principal_arn
    cloudtrail = sim_client("cloudtrail")
    service = [json.loads(e["CloudTrailEvent"]) for e in cloudtrail.lookup_events(LookupAttributes=[
        {"AttributeKey": "ResourceName", "AttributeValue": slr.principal_arn}])["Events"]]
    assert service and service[0]["userIdentity"] == {"type": "AWSService", "invokedBy": "autoscaling.amazonaws.com"}
    run = next(r for r in events_about(sim_client, slr) if r["eventName"] == "RunInstances")
    assert run["userIdentity"]["invokedBy"] == "autoscaling.amazonaws.com"
    instance = sim_client("ec2").describe_instances(InstanceIds=[slr.instance_id])["Reservations"][0]["Instances"][0]
    assert {"Key": "aws:autoscaling:groupName", "Value": "web-asg"} in instance["Tags"]


def test_user_stop_has_a_stop_event_and_the_user_initiated_reason(sim, sim_client):
    seeded = sim.scenario("user-stop")
    instance = sim_client("ec2").describe_instances(InstanceIds=[seeded.instance_id])["Reservations"][0]["Instances"][0]
    stop = next(r for r in events_about(sim_client, seeded) if r["eventName"] == "StopInstances")
    stopped_at = stop["eventTime"].replace("T", " ").replace("Z", " GMT")
    assert instance["StateTransitionReason"] == f"User initiated ({stopped_at})"


def test_hostile_text_reaches_the_api_unchanged(sim, sim_client):
    seeded = sim.scenario("hostile-tags")
    instance = sim_client("ec2").describe_instances(InstanceIds=[seeded.instance_id])["Reservations"][0]["Instances"][0]
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["Name"] == "<script>alert(1)</script>"
    assert tags["Owner"] == "<img src=x onerror=alert(1)>"
    grant = next(r for r in events_about(sim_client, seeded) if r["eventName"] == "CreateGrant")
    assert "<img src=x onerror=alert(1)>" in grant["errorMessage"]
    assert grant["userAgent"] == "ec2-frontend-api.amazonaws.com"
    start = next(r for r in events_about(sim_client, seeded) if r["eventName"] == "StartInstances")
    assert start["userAgent"].startswith("<script>alert(1)</script>")


def test_seeding_again_adds_an_instance_and_reuses_named_resources(sim, sim_client):
    first = sim.scenario("key-disabled")
    again = sim.seed("key-disabled", region="eu-central-1", account_id="444455556666")
    assert again.instance_id != first.instance_id
    assert (again.account_id, again.region) == ("444455556666", "eu-central-1")
    assert again.expected["key_arn"].startswith("arn:aws:kms:eu-central-1:444455556666:key/")
    assert again.expected["principal_arn"] == "arn:aws:iam::444455556666:user/oncall-bob"
    third = sim.seed("key-disabled", region="eu-central-1", account_id="444455556666")
    assert third.expected == again.expected and third.instance_id != again.instance_id


def test_no_two_scenarios_set_the_default_ebs_key_of_one_account_and_region():
    """The default EBS key is one per account and Region: two scenarios setting it there overwrite each other
    (the second seeded decides both), so each such scenario needs a place of its own."""
    from kit.simulate.seeder import DEFAULT_ACCOUNT

    places: dict[tuple[str, str], str] = {}
    for scenario in load_catalogue():
        spec = scenario.spec
        changes = [c for c in spec.get("changes") or [] if str(c.get("call", "")).startswith("ec2:")
                   and "EbsDefault" in str(c.get("call"))]
        if not spec.get("encryption_by_default") and not changes:
            continue
        place = (str(spec.get("account") or DEFAULT_ACCOUNT), scenario.region)
        assert place not in places, f"{scenario.name} and {places[place]} both set the default EBS key of {place}"
        places[place] = scenario.name
    assert len(places) >= 2
