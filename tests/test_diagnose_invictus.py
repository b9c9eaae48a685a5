"""Diagnosis over real CloudTrail (invictus-ir, 203 records from a Stratus Red Team detonation): it must not
crash and must not invent a KMS cause. The records hold RunInstances (one success, two refusals), KMS calls
made by services, and no CreateGrant at all."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from kit.diagnose import diagnose
from kit.causes import causes_of_kind
from kit.evidence import Evidence

DATA = Path("/work/shared/data/cloudtrail/invictus-ir/CloudTrail")
ACCOUNT = "123837392027"  # the records' account (the file names carry another)
REGION = "us-east-1"
KMS_CAUSES = set(causes_of_kind("kms"))


def log_documents() -> dict[str, dict]:
    """The log files as a bundle or cli: folder holds them: cloudtrail-logs/<relative path> -> {"Records": [...]}."""
    files = sorted(DATA.glob("*.json"))
    assert len(files) == 7
    return {f"cloudtrail-logs/AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2023/07/10/{p.name}": json.loads(p.read_text())
            for p in files}


def launched_instance() -> dict:
    """The instance the one successful RunInstances created, from its response, in describe-instances shape."""
    for document in log_documents().values():
        for record in document["Records"]:
            if record["eventName"] == "RunInstances" and record.get("responseElements"):
                return record["responseElements"]["instancesSet"]["items"][0]
    raise AssertionError("no successful RunInstances in the data")


def describe_instances(state: str, code: str | None, message: str | None) -> dict:
    item = launched_instance()
    instance = {
        "InstanceId": item["instanceId"], "ImageId": item["imageId"], "InstanceType": item["instanceType"],
        "LaunchTime": "2023-07-10T12:03:24+00:00", "Placement": {"AvailabilityZone": item["placement"]["availabilityZone"]},
        "State": {"Code": {"running": 16, "stopped": 80, "pending": 0}[state], "Name": state},
        "StateTransitionReason": message or "", "RootDeviceName": item["rootDeviceName"],
        "RootDeviceType": item["rootDeviceType"], "BlockDeviceMappings": [],
        "Tags": [{"Key": t["key"], "Value": t["value"]} for t in item["tagSet"]["items"]],
    }
    if code:
        instance["StateReason"] = {"Code": code, "Message": message}
    return {"Reservations": [{"ReservationId": "r-0ba57b7ba9925d379", "OwnerId": ACCOUNT, "Instances": [instance]}]}


def evidence(state: str, code: str | None = None, message: str | None = None) -> Evidence:
    documents = {"ec2.describe-instances.json": describe_instances(state, code, message), **log_documents()}
    return Evidence(launched_instance()["instanceId"], REGION, documents, source="cli:invictus-ir")


def validate(findings) -> None:
    schema = json.loads(resources.files("kit.report").joinpath("findings.schema.json").read_text())
    Draft202012Validator(schema).validate(findings.to_dict())


def test_every_record_is_read_and_the_launcher_found():
    findings = diagnose(evidence("running"))
    assert findings.verdict.cause == "no-failure"
    assert findings.verdict.principal_arn == f"arn:aws:iam::{ACCOUNT}:user/bert-jan"  # from the real RunInstances
    assert findings.step("launching-principal").status == "pass"
    validate(findings)


@pytest.mark.parametrize("code,message", [
    ("Client.InternalError", "Client.InternalError: Client error on launch"),
    ("Server.InternalError", "Client.InternalError: Client error on launch"),
    ("Client.InvalidKMSKey.InvalidState", "Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect state"),
])
def test_a_kms_like_stop_without_kms_evidence_is_never_blamed_on_kms(code, message):
    findings = diagnose(evidence("stopped", code, message))
    assert findings.verdict.cause not in KMS_CAUSES
    assert findings.verdict.cause == "undetermined" and findings.verdict.key_arn is None
    assert findings.step("kms-events").status == "pass"  # CloudTrail covers the launch: no KMS failure tied to it
    assert findings.remediation == []
    validate(findings)


def test_service_kms_calls_in_the_records_are_not_tied_to_the_instance():
    findings = diagnose(evidence("stopped", "Client.InternalError", "Client.InternalError: Client error on launch"))
    assert findings.step("kms-events").rows.empty
    kms_rows = findings.timeline[findings.timeline["kind"] == "kms"]
    assert kms_rows.empty
    launches = findings.timeline[findings.timeline["kind"] == "launch"]
    assert list(launches["event_name"]) == ["RunInstances"]
