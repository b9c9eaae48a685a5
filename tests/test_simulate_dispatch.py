"""The simulator's dispatch table: every registered extension is reached over real HTTP, everything else is
moto's, and a request an extension cannot read gets AWS's error shape instead of a traceback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from kit.simulate.clients import FAKE_KEY, FAKE_SECRET
from kit.simulate.dispatch import EXTENSIONS, handler_for

MEMBER = "123456789012"
SPARE_REGION = "ap-south-1"     # no scenario lives here: the default EBS key can be reset freely


def _raise_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def _lookup_events(sim, client, key: dict[str, str]) -> None:
    events = client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateGrant"}], MaxResults=5)["Events"]
    assert events and all(e["EventName"] == "CreateGrant" for e in events)   # moto has no LookupEvents


def _start_instances(sim, client, key: dict[str, str]) -> None:
    terminated = sim.scenario("autoscaling-slr").instance_id                 # moto would start it
    assert _raise_code(lambda: client("ec2").start_instances(InstanceIds=[terminated])) == "IncorrectInstanceState"


def _get_ebs_default(sim, client, key: dict[str, str]) -> None:
    assert client("ec2", SPARE_REGION).get_ebs_default_kms_key_id()["KmsKeyId"] == "alias/aws/ebs"


def _reset_ebs_default(sim, client, key: dict[str, str]) -> None:
    answer = client("ec2", SPARE_REGION).reset_ebs_default_kms_key_id()["KmsKeyId"]
    assert answer.startswith(f"arn:aws:kms:{SPARE_REGION}:{MEMBER}:key/")
    aws_ebs = client("kms", SPARE_REGION).describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["Arn"]
    assert answer == aws_ebs


def _plant_raw_key_id(volume_or_snapshot_id: str, key_id: str) -> None:
    """Put a bare key id where the extension writes ARNs (as moto itself keeps them), to see it rewritten."""
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[MEMBER][SPARE_REGION]
    resource = backend.volumes.get(volume_or_snapshot_id) or backend.snapshots[volume_or_snapshot_id]
    resource.kms_key_id = key_id


def _volume_key(client, volume_id: str) -> str:
    return str(client("ec2", SPARE_REGION).describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["KmsKeyId"])


@pytest.fixture(scope="module")
def spare_key(sim_client) -> dict[str, str]:
    """A customer managed key in SPARE_REGION: its KeyId and Arn."""
    metadata = sim_client("kms", SPARE_REGION).create_key(Description="dispatch test")["KeyMetadata"]
    return {"KeyId": metadata["KeyId"], "Arn": metadata["Arn"]}


def _volume_creating(operation: str) -> Callable[..., None]:
    def check(sim, client, key: dict[str, str]) -> None:
        ec2 = client("ec2", SPARE_REGION)
        volume_id = ec2.create_volume(AvailabilityZone=f"{SPARE_REGION}a", Size=1, Encrypted=True,
                                      KmsKeyId=key["KeyId"])["VolumeId"]
        if operation == "CreateVolume":
            assert _volume_key(client, volume_id) == key["Arn"]
            return
        _plant_raw_key_id(volume_id, key["KeyId"])
        if operation == "RunInstances":
            image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
            ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")
        elif operation == "CreateSnapshot":
            ec2.create_snapshot(VolumeId=volume_id)
        elif operation == "CopySnapshot":
            snapshot = ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"]
            _plant_raw_key_id(volume_id, key["KeyId"])
            ec2.copy_snapshot(SourceSnapshotId=snapshot, SourceRegion=SPARE_REGION)
        elif operation == "CreateSnapshots":
            image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
            instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
            _plant_raw_key_id(volume_id, key["KeyId"])
            ec2.create_snapshots(InstanceSpecification={"InstanceId": instance})
        elif operation in LAUNCHES:      # no seeded launcher signs them: moto's launch, then the same rewrite
            image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
            LAUNCHES[operation](ec2, image)
        assert _volume_key(client, volume_id) == key["Arn"]                   # the handler ran after moto
    return check


def _create_fleet(ec2, image: str) -> None:
    template = ec2.create_launch_template(LaunchTemplateName="routing-check-fleet", LaunchTemplateData={
        "ImageId": image, "InstanceType": "t3.micro"})["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_fleet(Type="instant", LaunchTemplateConfigs=[{"LaunchTemplateSpecification": {
        "LaunchTemplateId": template, "Version": "1"}}], TargetCapacitySpecification={
        "TotalTargetCapacity": 1, "DefaultTargetCapacityType": "on-demand"})


LAUNCHES: dict[str, Callable[[Any, str], Any]] = {
    "CreateFleet": _create_fleet,
    "RequestSpotInstances": lambda ec2, image: ec2.request_spot_instances(
        InstanceCount=1, LaunchSpecification={"ImageId": image, "InstanceType": "t3.micro"}),
    "RequestSpotFleet": lambda ec2, image: ec2.request_spot_fleet(SpotFleetRequestConfig={
        "IamFleetRole": f"arn:aws:iam::{MEMBER}:role/aws-ec2-spot-fleet-tagging-role", "TargetCapacity": 1,
        "AllocationStrategy": "lowestPrice",  # moto requires it
        "LaunchSpecifications": [{"ImageId": image, "InstanceType": "t3.micro"}]}),
}


def _set_desired_capacity(sim, client, key: dict[str, str]) -> None:
    """A group with no seeded failing launch: moto's launch, untouched (a seeded group's is decided by policy:
    tests/test_remediation_replay.py)."""
    ec2, autoscaling = client("ec2", SPARE_REGION), client("autoscaling", SPARE_REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.create_launch_template(LaunchTemplateName="routing-check-asg", LaunchTemplateData={
        "ImageId": image, "InstanceType": "t3.micro"})
    autoscaling.create_auto_scaling_group(AutoScalingGroupName="routing-check", MinSize=0, MaxSize=2,
                                          DesiredCapacity=0, AvailabilityZones=[f"{SPARE_REGION}a"],
                                          LaunchTemplate={"LaunchTemplateName": "routing-check-asg"})
    autoscaling.set_desired_capacity(AutoScalingGroupName="routing-check", DesiredCapacity=1)
    [group] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["routing-check"])["AutoScalingGroups"]
    [instance] = group["Instances"]
    state = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] in ("pending", "running")


def _scaling_activities(sim, client, key: dict[str, str]) -> None:
    activities = client("autoscaling").describe_scaling_activities(AutoScalingGroupName="web-asg")["Activities"]
    assert activities and activities[0]["StatusCode"] == "Cancelled"       # moto always answers none


def _kms_foreign(operation: str) -> Callable[..., None]:
    def check(sim, client, key: dict[str, str]) -> None:
        key_arn = sim.scenario("shared-ami").expected["key_arn"]           # its policy does not admit the caller
        kms = client("kms")
        calls = {"DescribeKey": lambda: kms.describe_key(KeyId=key_arn),
                 "ListGrants": lambda: kms.list_grants(KeyId=key_arn),
                 "CreateGrant": lambda: kms.create_grant(KeyId=key_arn, Operations=["Decrypt"],
                                                         GranteePrincipal=f"arn:aws:iam::{MEMBER}:role/someone")}
        with pytest.raises(ClientError) as caught:
            calls[operation]()
        error = caught.value.response["Error"]                               # moto: NotFoundException
        assert error["Code"] == "AccessDeniedException" and f"kms:{operation} on resource: {key_arn}" in error["Message"]
    return check


def _organizations(operation: str) -> Callable[..., None]:
    def check(sim, client, key: dict[str, str]) -> None:
        org = client("organizations", "us-east-1")      # the member account: moto answers only the management
        root = org.list_roots()["Roots"][0]["Id"]
        ou = org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"][0]  # one of them
        policy = org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"][0]["Id"]
        calls: dict[str, Callable[[], Any]] = {
            "ListRoots": lambda: org.list_roots()["Roots"],
            "ListParents": lambda: org.list_parents(ChildId=MEMBER)["Parents"],
            "ListChildren": lambda: org.list_children(ParentId=root, ChildType="ORGANIZATIONAL_UNIT")["Children"],
            "ListPoliciesForTarget": lambda: org.list_policies_for_target(
                TargetId=MEMBER, Filter="SERVICE_CONTROL_POLICY")["Policies"],
            "DescribePolicy": lambda: [org.describe_policy(PolicyId=policy)["Policy"]],
            "ListPolicies": lambda: org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"],
            "ListTargetsForPolicy": lambda: org.list_targets_for_policy(PolicyId=policy)["Targets"],
            "DescribeAccount": lambda: [org.describe_account(AccountId=MEMBER)["Account"]],
            "ListAccounts": lambda: org.list_accounts()["Accounts"],
            "ListOrganizationalUnitsForParent": lambda: org.list_organizational_units_for_parent(
                ParentId=root)["OrganizationalUnits"],
            "DescribeOrganizationalUnit": lambda: [org.describe_organizational_unit(
                OrganizationalUnitId=ou["Id"])["OrganizationalUnit"]],
            "ListAccountsForParent": lambda: org.list_accounts_for_parent(ParentId=ou["Id"])["Accounts"],
            # a delegated administrator's SCP update (the same description again: nothing changes)
            "UpdatePolicy": lambda: [org.update_policy(PolicyId=policy, Description=org.describe_policy(
                PolicyId=policy)["Policy"]["PolicySummary"].get("Description") or "SCP")["Policy"]],
        }
        assert calls[operation]()
    return check


def _key_state_by_arn(operation: str) -> Callable[..., None]:
    def check(sim, client, key: dict[str, str]) -> None:
        kms = client("kms", SPARE_REGION)                 # moto alone: 500 for a key ARN here
        if operation == "CancelKeyDeletion":
            kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
        if operation == "EnableKey":
            kms.disable_key(KeyId=key["KeyId"])
        getattr(kms, {"EnableKey": "enable_key", "CancelKeyDeletion": "cancel_key_deletion",
                      "DisableKey": "disable_key"}[operation])(KeyId=key["Arn"])
        state = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"]
        assert state == {"EnableKey": "Enabled", "CancelKeyDeletion": "Disabled", "DisableKey": "Disabled"}[operation]
        kms.enable_key(KeyId=key["KeyId"])
    return check


def _athena(operation: str) -> Callable[..., None]:
    def check(sim, client, key: dict[str, str]) -> None:
        from kit.collect.athena_ddl import cloudtrail_ddl
        from kit.simulate.logs import trail_bucket

        athena = client("athena")
        out = {"ResultConfiguration": {"OutputLocation": "s3://kit-dispatch-results/"}}
        ddl = cloudtrail_ddl(bucket=trail_bucket(MEMBER), accounts=[MEMBER], regions=["eu-west-1"],
                             table="dispatch_trail")
        created = athena.start_query_execution(QueryString=ddl, **out)["QueryExecutionId"]
        assert athena.get_query_execution(QueryExecutionId=created)["QueryExecution"]["Status"]["State"] == "SUCCEEDED"
        if operation == "GetTableMetadata":       # moto has no tables from DDL
            table = athena.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="default",
                                              TableName="dispatch_trail")["TableMetadata"]
            assert [k["Name"] for k in table["PartitionKeys"]] == ["account", "region", "timestamp"]
            return
        query = athena.start_query_execution(QueryString="SELECT count(*) AS n FROM default.dispatch_trail "
                                                         "WHERE eventname = ?", ExecutionParameters=["'CreateGrant'"],
                                             **out)["QueryExecutionId"]
        execution = athena.get_query_execution(QueryExecutionId=query)["QueryExecution"]
        assert execution["Statistics"]["DataScannedInBytes"] > 0                # moto scans nothing
        rows = athena.get_query_results(QueryExecutionId=query)["ResultSet"]["Rows"]
        assert rows[0]["Data"] == [{"VarCharValue": "n"}] and int(rows[1]["Data"][0]["VarCharValue"]) > 0
    return check


def _fleet_history(sim, client, key: dict[str, str]) -> None:
    from datetime import datetime, timedelta, timezone

    seeded = sim.scenario("karpenter-create-fleet")
    ec2 = client("ec2", seeded.region)
    tags = ec2.describe_instances(InstanceIds=[seeded.instance_id])["Reservations"][0]["Instances"][0]["Tags"]
    fleet_id = {t["Key"]: t["Value"] for t in tags}["aws:ec2:fleet-id"]
    history = ec2.describe_fleet_history(FleetId=fleet_id, StartTime=datetime.now(timezone.utc) - timedelta(days=2))
    assert [r["EventInformation"]["InstanceId"] for r in history["HistoryRecords"]] == [seeded.instance_id]


CHECKS: dict[tuple[str, str], Callable[..., None]] = {
    **{("athena", op): _athena(op)
       for op in ("StartQueryExecution", "GetQueryExecution", "GetQueryResults", "GetTableMetadata")},
    ("ec2", "DescribeFleetHistory"): _fleet_history,
    ("cloudtrail", "LookupEvents"): _lookup_events,
    ("ec2", "StartInstances"): _start_instances,
    ("ec2", "GetEbsDefaultKmsKeyId"): _get_ebs_default,
    ("ec2", "ResetEbsDefaultKmsKeyId"): _reset_ebs_default,
    **{("ec2", op): _volume_creating(op)
       for op in ("RunInstances", "CreateVolume", "CopySnapshot", "CreateSnapshot", "CreateSnapshots",
                  "CreateFleet", "RequestSpotInstances", "RequestSpotFleet")},
    ("autoscaling", "DescribeScalingActivities"): _scaling_activities,
    ("autoscaling", "SetDesiredCapacity"): _set_desired_capacity,
    **{("kms", op): _kms_foreign(op) for op in ("DescribeKey", "ListGrants", "CreateGrant")},
    **{("kms", op): _key_state_by_arn(op) for op in ("EnableKey", "CancelKeyDeletion", "DisableKey")},
    **{("organizations", op): _organizations(op) for op in (
        "ListRoots", "ListParents", "ListChildren", "ListPoliciesForTarget", "DescribePolicy", "ListPolicies",
        "ListTargetsForPolicy", "DescribeAccount", "ListAccounts", "ListOrganizationalUnitsForParent",
        "DescribeOrganizationalUnit", "ListAccountsForParent", "UpdatePolicy")},
}


def test_every_registered_operation_has_a_routing_check():
    registered = {(service, op) for service, handlers in EXTENSIONS.items() for op in handlers}
    assert registered == set(CHECKS)      # a new extension comes with its line in CHECKS


@pytest.mark.parametrize("service, operation", sorted(CHECKS))
def test_each_extended_operation_reaches_its_handler(sim, sim_client, spare_key, service, operation):
    assert handler_for(service, operation) is not None
    check = CHECKS[(service, operation)]         # (sim, client, a spare key) -> asserts what moto alone lacks
    def client(name, region="eu-west-1"):
        return sim_client(name, region=region)

    check(sim, client, spare_key)


def test_unextended_calls_fall_through_to_moto(sim, sim_client):
    assert handler_for("ec2", "DescribeInstances") is None and handler_for("sts", "GetCallerIdentity") is None
    assert sim_client("sts").get_caller_identity()["Account"] == MEMBER
    seeded = sim.scenario("seed")
    reservations = sim_client("ec2").describe_instances(InstanceIds=[seeded.instance_id])["Reservations"]
    assert reservations[0]["Instances"][0]["InstanceId"] == seeded.instance_id
    trails = sim_client("cloudtrail").describe_trails()["trailList"]     # CloudTrail, but not LookupEvents
    assert "management-events" in {t["Name"] for t in trails}
    key = sim_client("kms").describe_key(KeyId="alias/app-data")["KeyMetadata"]   # KMS, own account
    assert key["AWSAccountId"] == MEMBER


# ---- requests an extension cannot read -------------------------------------------------------------------

def _send(sim, service: str, region: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """A SigV4-signed POST as botocore signs it, with a body no SDK would send."""
    request = AWSRequest("POST", sim.endpoint_url + "/", data=body, headers=headers)
    SigV4Auth(Credentials(FAKE_KEY, FAKE_SECRET), service, region).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, data=body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _json_target(target: str) -> dict[str, str]:
    return {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}


LOOKUP = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"


@pytest.mark.parametrize("service, target, body", [
    ("cloudtrail", LOOKUP, b"{not json"),
    ("cloudtrail", LOOKUP, b"[1, 2]"),
    ("kms", "TrentService.DescribeKey", b'"just a string"'),
    ("kms", "TrentService.ListGrants", b"{"),
])
def test_malformed_json_body_is_a_serialization_exception(sim, service, target, body):
    status, answer = _send(sim, service, "eu-west-1", body, _json_target(target))
    assert status == 400
    payload = json.loads(answer)
    assert payload["__type"] == "SerializationException" and payload["message"]


def test_refused_lookup_keeps_the_json_error_shape(sim):
    body = json.dumps({"LookupAttributes": [{"AttributeKey": "Colour", "AttributeValue": "red"}]}).encode()
    status, answer = _send(sim, "cloudtrail", "eu-west-1", body, _json_target(LOOKUP))
    assert status == 400 and json.loads(answer)["__type"] == "InvalidLookupAttributesException"


def test_extension_failure_is_an_aws_error_not_a_traceback(sim):
    body = b"Action=GetEbsDefaultKmsKeyId&Version=2016-11-15"
    status, answer = _send(sim, "ec2", "xx-nowhere-1", body,
                           {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert status == 500 and b"Traceback" not in answer
    root = ET.fromstring(answer)
    assert root.tag == "Response" and root.findtext("Errors/Error/Code") == "InternalError"


def test_unreadable_max_records_is_the_default_page_as_before(sim):
    body = b"Action=DescribeScalingActivities&Version=2011-01-01&MaxRecords=abc"
    status, answer = _send(sim, "autoscaling", "eu-west-1", body,
                           {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert status == 200 and ET.fromstring(answer).tag.endswith("DescribeScalingActivitiesResponse")


@pytest.mark.parametrize("service, operation, protocol", [
    ("cloudtrail", "LookupEvents", "json"), ("ec2", "StartInstances", "ec2"),
    ("autoscaling", "DescribeScalingActivities", "query"), ("kms", "DescribeKey", "json"),
])
def test_error_shapes_read_as_botocore_reads_them(service, operation, protocol):
    import botocore.session
    from botocore.parsers import create_parser

    from kit.simulate.wire import error_response

    model = botocore.session.get_session().get_service_model(service)
    for status, code in (("400 Bad Request", "SomethingRefused"), ("500 Internal Server Error", "InternalFailure")):
        answer = error_response(protocol, code, "what & why <exactly>", status)
        parsed = create_parser(model.metadata["protocol"]).parse(
            {"status_code": int(status[:3]), "headers": dict(answer.headers), "body": answer.body},
            model.operation_model(operation).output_shape)
        assert parsed["Error"]["Code"] == code and parsed["Error"]["Message"] == "what & why <exactly>"
