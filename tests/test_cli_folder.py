"""cli:DIR loading: missing, broken, mislabelled and unknown files are reported by name and skipped."""

from __future__ import annotations

import codecs
import gzip
import json
import shlex
from pathlib import Path

import pytest

from kit.collect import load_evidence
from kit.collect.cli_commands import cli_commands, spec_for_file
from kit.collect.cli_folder import CliFolderWarning, load_cli_folder
from kit.errors import BadInput
from kit.frames.cloudtrail import records_from_documents

ACCOUNT = "123456789012"
REGION = "eu-west-1"
INSTANCE = "i-0abc12345678def01"
VOLUME = "vol-0123456789abcdef0"
KEY_ID = "8e3426b8-1111-2222-3333-444455556666"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
USER = f"arn:aws:iam::{ACCOUNT}:user/test"
INVICTUS = Path("/work/shared/data/cloudtrail/invictus-ir/CloudTrail")


def grant_record(event_id: str) -> dict:
    return {
        "eventVersion": "1.09",
        "eventID": event_id,
        "eventTime": "2024-05-01T10:00:05Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "CreateGrant",
        "awsRegion": REGION,
        "errorCode": "AccessDenied",
        "errorMessage": f"User: {USER} is not authorized to perform: kms:CreateGrant on resource: {KEY_ARN} because no identity-based policy allows the kms:CreateGrant action",
        "userIdentity": {"type": "IAMUser", "arn": USER, "accountId": ACCOUNT, "invokedBy": "ec2.amazonaws.com"},
        "sourceIPAddress": "ec2.amazonaws.com",
        "userAgent": "ec2.amazonaws.com",
        "requestParameters": {
            "keyId": KEY_ARN,
            "granteePrincipal": f"arn:aws:sts::{ACCOUNT}:assumed-role/aws:ec2-infrastructure/{INSTANCE}",
            "constraints": {"encryptionContextSubset": {"aws:ebs:id": VOLUME}},
            "operations": ["Decrypt"],
        },
        "responseElements": None,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }


def lookup(records: list[dict]) -> dict:
    return {
        "Events": [
            {
                "EventId": r["eventID"],
                "EventName": r["eventName"],
                "ReadOnly": "false",
                "EventTime": 1714557605.0,  # CLI v1 prints CloudTrail times as epoch numbers
                "EventSource": r["eventSource"],
                "Username": "test",
                "Resources": [],
                "CloudTrailEvent": json.dumps(r),
            }
            for r in records
        ]
    }


def sample_documents() -> dict[str, object]:
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
              "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}]}
    return {
        "cloudtrail.describe-trails.json": {"trailList": []},  # no trail in this Region: no selectors to read
        "ec2.describe-instances.json": {"Reservations": [{"ReservationId": "r-1", "OwnerId": ACCOUNT, "Groups": [], "Instances": [{
            "InstanceId": INSTANCE, "ImageId": "ami-0123456789abcdef0", "InstanceType": "t3.micro",
            "LaunchTime": "2024-05-01T10:00:00.000Z", "Placement": {"AvailabilityZone": "eu-west-1a"},
            "State": {"Code": 80, "Name": "stopped"},
            "StateReason": {"Code": "Client.InternalError", "Message": "Client.InternalError: Client error on launch"},
            "StateTransitionReason": "Client.InternalError: Client error on launch",
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeId": VOLUME, "Status": "attached", "DeleteOnTermination": True, "AttachTime": "2024-04-01T10:00:00.000Z"}}],
            "RootDeviceName": "/dev/xvda", "RootDeviceType": "ebs", "Tags": [{"Key": "Name", "Value": "prod-db-2"}]}]}]},
        "ec2.describe-volumes.json": {"Volumes": [{"VolumeId": VOLUME, "Encrypted": True, "KmsKeyId": KEY_ARN, "Size": 8,
            "State": "in-use", "VolumeType": "gp3", "AvailabilityZone": "eu-west-1a", "CreateTime": "2024-04-01T10:00:00.000Z",
            "Attachments": [{"VolumeId": VOLUME, "InstanceId": INSTANCE, "Device": "/dev/xvda", "State": "attached", "DeleteOnTermination": True, "AttachTime": "2024-04-01T10:00:00.000Z"}]}]},
        "ec2.get-ebs-encryption-by-default.json": {"EbsEncryptionByDefault": False},
        "ec2.get-ebs-default-kms-key-id.json": {"KmsKeyId": "alias/aws/ebs"},
        f"kms.describe-key.{KEY_ID}.json": {"KeyMetadata": {"AWSAccountId": ACCOUNT, "KeyId": KEY_ID, "Arn": KEY_ARN,
            "CreationDate": 1711965600.123, "Enabled": True, "Description": "", "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": "Enabled", "Origin": "AWS_KMS", "KeyManager": "CUSTOMER", "KeySpec": "SYMMETRIC_DEFAULT", "MultiRegion": False}},
        f"kms.get-key-policy.{KEY_ID}.json": {"Policy": json.dumps(policy), "PolicyName": "default"},
        f"kms.list-grants.{KEY_ID}.json": {"Grants": [], "Truncated": False},
        "kms.list-aliases.json": {"Aliases": [{"AliasName": "alias/prod-db", "AliasArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/prod-db", "TargetKeyId": KEY_ID}]},
        "cloudtrail.lookup-events.create-grant.json": lookup([grant_record("e-1"), grant_record("e-2")]),
        "cloudtrail.lookup-events.instance.json": lookup([grant_record("e-2"), grant_record("e-3")]),
        "iam.get-account-authorization-details.json": {"UserDetailList": [{"UserName": "test", "Arn": USER, "Path": "/",
            "UserId": "AIDAEXAMPLE", "GroupList": [], "AttachedManagedPolicies": [], "UserPolicyList": []}],
            "GroupDetailList": [], "RoleDetailList": [], "Policies": []},
        "sts.get-caller-identity.json": {"UserId": "AIDAEXAMPLE", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/support"},
    }


def write_folder(folder: Path, documents: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, document in documents.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=4) + "\n", encoding="utf-8")
    return folder


def load_quietly(folder: Path, **kwargs):
    with pytest.warns(CliFolderWarning) as caught:
        evidence = load_cli_folder(folder, **kwargs)
    return evidence, [str(w.message) for w in caught]


def test_complete_folder_loads_everything(tmp_path):
    docs = sample_documents()
    evidence = load_cli_folder(write_folder(tmp_path / "cli", docs))
    assert evidence.instance_id == INSTANCE and evidence.region == REGION
    assert evidence.source == f"cli:{tmp_path / 'cli'}"
    assert evidence.documents == docs
    assert evidence.collector_arn == f"arn:aws:iam::{ACCOUNT}:user/support"
    # only the organization chain is absent (the account may be in no organization)
    assert sorted(g.call for g in evidence.gaps) == ["organizations:ListParents", "organizations:ListPoliciesForTarget"]
    assert all(g.error == "missing" for g in evidence.gaps)
    parents = next(g for g in evidence.gaps if g.call == "organizations:ListParents")
    assert parents.next_step == f"aws organizations list-parents --child-id {ACCOUNT} --output json > organizations.list-parents.{ACCOUNT}.json"
    # lookup-events merged, EventId e-2 once
    assert sorted(r["eventID"] for r in records_from_documents(evidence)) == ["e-1", "e-2", "e-3"]


def test_missing_optional_files_become_gaps_with_the_command(tmp_path):
    docs = sample_documents()
    for name in (f"kms.get-key-policy.{KEY_ID}.json", "ec2.describe-volumes.json",
                 "cloudtrail.lookup-events.create-grant.json", "cloudtrail.lookup-events.instance.json"):
        del docs[name]
    evidence = load_cli_folder(write_folder(tmp_path / "cli", docs))
    gaps = {g.call: g for g in evidence.gaps}
    policy = gaps["kms:GetKeyPolicy"]
    assert policy.error == "missing" and KEY_ARN in policy.impact
    assert policy.next_step == (f"aws kms get-key-policy --key-id {KEY_ARN} --policy-name default --region {REGION} "
                                f"--output json > kms.get-key-policy.{KEY_ID}.json")
    volumes = gaps["ec2:DescribeVolumes"]
    assert "Name=attachment.instance-id,Values=" + INSTANCE in volumes.next_step
    trail = [g for g in evidence.gaps if g.call == "cloudtrail:LookupEvents"]
    assert {g.next_step.split(" > ")[1] for g in trail} == {f"cloudtrail.lookup-events.{INSTANCE}.json",
                                                          f"cloudtrail.lookup-events.{KEY_ID}.json"}
    assert f"AttributeKey=ResourceName,AttributeValue={KEY_ARN}" in next(g.next_step for g in trail if KEY_ID in g.next_step)
    # with the volumes gone, the AMI is what tells the keys
    assert "ec2:DescribeImages" in gaps and "ami-0123456789abcdef0" in gaps["ec2:DescribeImages"].next_step
    assert set(evidence.documents) == set(docs)


def test_broken_mislabelled_and_unknown_files_are_reported_and_skipped(tmp_path):
    docs = sample_documents()
    folder = write_folder(tmp_path / "cli", docs)
    (folder / "ec2.describe-volumes.json").write_text('{"Volumes": [', encoding="utf-8")  # broken
    (folder / "kms.list-aliases.json").write_text(json.dumps(docs["ec2.describe-volumes.json"]))  # mislabelled
    lookup_without_events = {"Records": []}
    (folder / "cloudtrail.lookup-events.extra.json").write_text(json.dumps(lookup_without_events))
    (folder / "notes.txt").write_text("customer says it worked yesterday")
    (folder / "ec2.describe-instance-status.json").write_text("{}")
    evidence, messages = load_quietly(folder)
    for name in ("ec2.describe-volumes.json", "kms.list-aliases.json", "cloudtrail.lookup-events.extra.json",
                 "notes.txt", "ec2.describe-instance-status.json"):
        assert any(name in m for m in messages), name
        assert name not in evidence.documents
    by_error = {}
    for gap in evidence.gaps:
        by_error.setdefault(gap.error, []).append(gap)
    invalid = {g.call: g for g in by_error["invalid-file"]}
    assert set(invalid) == {"ec2:DescribeVolumes", "kms:ListAliases", "cloudtrail:LookupEvents"}
    assert "not valid JSON" in invalid["ec2:DescribeVolumes"].impact
    assert invalid["ec2:DescribeVolumes"].next_step.startswith("aws ec2 describe-volumes ")
    assert "Aliases" in invalid["kms:ListAliases"].impact
    assert "Events" in invalid["cloudtrail:LookupEvents"].impact
    assert {g.call for g in by_error["unknown-file"]} == {"cli:notes.txt", "cli:ec2.describe-instance-status.json"}
    assert "missing" not in {g.error for g in evidence.gaps if g.call in invalid}
    # nothing else lost
    kept = {n: d for n, d in docs.items() if n not in ("ec2.describe-volumes.json", "kms.list-aliases.json")}
    assert evidence.documents == kept


def test_describe_key_named_for_another_key_is_mislabelled(tmp_path):
    docs = sample_documents()
    other = "11111111-2222-3333-4444-555555555555"
    docs[f"kms.describe-key.{other}.json"] = docs[f"kms.describe-key.{KEY_ID}.json"]
    evidence, messages = load_quietly(write_folder(tmp_path / "cli", docs))
    assert any(f"kms.describe-key.{other}.json" in m and "not" in m for m in messages)
    gap = next(g for g in evidence.gaps if g.error == "invalid-file")
    assert other in gap.impact and "{" not in gap.impact
    assert f"kms.describe-key.{KEY_ID}.json" in evidence.documents


def test_describe_instances_is_required(tmp_path):
    docs = sample_documents()
    del docs["ec2.describe-instances.json"]
    with pytest.raises(BadInput) as missing:
        load_cli_folder(write_folder(tmp_path / "a", docs))
    assert missing.value.field == "ec2.describe-instances.json"
    docs["ec2.describe-instances.json"] = sample_documents()["ec2.describe-volumes.json"]  # wrong shape
    with pytest.raises(BadInput) as wrong:
        load_cli_folder(write_folder(tmp_path / "b", docs))
    assert wrong.value.field == "ec2.describe-instances.json" and "Reservations" in str(wrong.value)
    (tmp_path / "b" / "ec2.describe-instances.json").write_text("not json")
    with pytest.raises(BadInput, match="ec2.describe-instances.json"):
        load_cli_folder(tmp_path / "b")
    with pytest.raises(BadInput, match="ec2.describe-instances.json"):
        load_cli_folder(write_folder(tmp_path / "c", sample_documents()), instance_id="i-0fffffffffffffff0")
    with pytest.raises(BadInput, match="cli:DIR"):
        load_cli_folder(tmp_path / "nowhere")


def test_bom_trailing_newline_and_cli_v2_timestamps(tmp_path):
    docs = sample_documents()
    folder = write_folder(tmp_path / "cli", docs)
    for path in folder.glob("*.json"):
        path.write_bytes(codecs.BOM_UTF8 + path.read_bytes() + b"\r\n\n")
    evidence = load_cli_folder(folder, instance_id=INSTANCE, region=REGION)
    assert evidence.documents == docs


def test_powershell_utf16_redirects(tmp_path):
    docs = sample_documents()
    folder = write_folder(tmp_path / "cli", docs)
    for path in folder.glob("*.json"):
        path.write_bytes(path.read_text(encoding="utf-8").replace("\n", "\r\n").encode("utf-16"))
    assert load_cli_folder(folder).documents == docs


def test_cloudtrail_log_files_plain_and_gzipped(tmp_path):
    docs = sample_documents()
    folder = write_folder(tmp_path / "cli", docs)
    logs = folder / "cloudtrail-logs" / "AWSLogs" / "123837392027" / "CloudTrail" / "us-east-1" / "2023" / "07" / "10"
    logs.mkdir(parents=True)
    files = sorted(INVICTUS.glob("*.json"))
    for i, source in enumerate(files):
        if i % 2:
            (logs / (source.name + ".gz")).write_bytes(gzip.compress(source.read_bytes()))
        else:
            (logs / source.name).write_bytes(source.read_bytes())
    (logs / "digest.json.gz").write_bytes(b"not gzip at all")
    evidence, messages = load_quietly(folder)
    assert any("digest.json.gz" in m for m in messages)
    names = [n for n in evidence.documents if n.startswith("cloudtrail-logs/")]
    assert len(names) == 7 and sum(n.endswith(".json.gz") for n in names) == 3
    records = records_from_documents(evidence)
    assert len(records) == 203 + 3
    # the STS session tokens CloudTrail logged are masked; nothing else changes; the evidence can be bundled
    masked = [r for r in records if ((r.get("responseElements") or {}).get("credentials") or {}).get("sessionToken")]
    assert len(masked) == 3 and all(r["responseElements"]["credentials"]["sessionToken"] == "<redacted by kit>" for r in masked)
    assert "IQoJb3JpZ2lu" not in json.dumps(evidence.documents)
    originals = {r["eventID"]: r for f in files for r in json.loads(f.read_text())["Records"]}
    for record in records:
        if record["eventID"] in originals and record not in masked:
            assert record == originals[record["eventID"]]
    from kit.collect.bundle import load_bundle, write_bundle

    assert load_bundle(write_bundle(evidence, tmp_path / "bundle")).documents == evidence.documents


def test_region_and_instance_are_inferred(tmp_path):
    docs = sample_documents()
    docs["ec2.describe-instances.json"]["Reservations"][0]["Instances"][0]["Placement"] = {}
    evidence = load_cli_folder(write_folder(tmp_path / "cli", docs))
    assert evidence.region == REGION  # from the volume's key ARN


def test_several_instances_need_an_instance_id(tmp_path):
    docs = sample_documents()
    reservations = docs["ec2.describe-instances.json"]["Reservations"]
    other = json.loads(json.dumps(reservations[0]))
    other["Instances"][0]["InstanceId"] = "i-0fffffffffffffff0"
    reservations.append(other)
    folder = write_folder(tmp_path / "cli", docs)
    with pytest.raises(BadInput) as err:
        load_cli_folder(folder)
    assert err.value.field == "instance_id" and "i-0fffffffffffffff0" in str(err.value)
    assert load_cli_folder(folder, instance_id="i-0fffffffffffffff0").instance_id == "i-0fffffffffffffff0"


def test_load_evidence_dispatches_cli(tmp_path):
    folder = write_folder(tmp_path / "cli", sample_documents())
    evidence = load_evidence(f"cli:{folder}", INSTANCE, REGION)
    assert evidence.instance_id == INSTANCE and evidence.documents == sample_documents()
    with pytest.raises(BadInput, match="source"):
        load_evidence("ftp:somewhere", INSTANCE, REGION)


def test_commands_cover_the_contract_table():
    commands = cli_commands(INSTANCE, REGION, [KEY_ARN], account_id=ACCOUNT, image_ids=["ami-1"], snapshot_ids=["snap-1"],
                            autoscaling_group="web", scp_targets=[ACCOUNT, "ou-ab12-cdef3456", "r-ab12"], scp_policy_ids=["p-FullAWSAccess"])
    for command in commands:
        found = spec_for_file(command.file_name)
        assert found is not None, command.file_name
        assert found[0].call == command.call
        assert command.argv[0] == "aws" and command.argv[-2:] == ("--output", "json")
        assert shlex.split(command.command.split(" > ")[0]) == list(command.argv)
    names = [c.file_name for c in commands]
    assert len(names) == len(set(names))
    assert {spec_for_file(n)[0].kind for n in names} >= {
        "instances", "volumes", "snapshots", "images", "ebs-encryption-by-default", "ebs-default-kms-key-id", "key",
        "key-policy", "grants", "aliases", "lookup-events", "authorization-details", "org-parents",
        "org-policies-for-target", "org-policy", "scaling-activities", "caller-identity"}
    describe = next(c for c in commands if c.call == "kms:DescribeKey")
    assert describe.argv[:5] == ("aws", "kms", "describe-key", "--key-id", KEY_ARN)
    assert describe.file_name == f"kms.describe-key.{KEY_ID}.json"
    lookups = [c.file_name for c in commands if c.call == "cloudtrail:LookupEvents"]
    assert lookups == [f"cloudtrail.lookup-events.{INSTANCE}.json", f"cloudtrail.lookup-events.{KEY_ID}.json"]
    unknown_key = [c for c in cli_commands(INSTANCE, REGION, start_time="2024-05-01T00:00:00Z") if c.call == "cloudtrail:LookupEvents"]
    assert [c.file_name for c in unknown_key] == [f"cloudtrail.lookup-events.{INSTANCE}.json", "cloudtrail.lookup-events.kms.json"]
    assert unknown_key[1].argv[3:7] == ("--lookup-attributes", "AttributeKey=EventSource,AttributeValue=kms.amazonaws.com",
                                        "--start-time", "2024-05-01T00:00:00Z")


def _run_instances_record(ebs: dict) -> dict:
    return {"eventID": "run-1", "eventTime": "2024-05-01T10:00:00Z", "eventSource": "ec2.amazonaws.com",
            "eventName": "RunInstances", "userIdentity": {"type": "IAMUser", "arn": USER},
            "requestParameters": {"blockDeviceMapping": {"items": [{"deviceName": "/dev/xvda", "ebs": ebs}]}},
            "responseElements": {"instancesSet": {"items": [{"instanceId": INSTANCE}]}}}


def test_checklist_chooses_keys_as_live_collection_does():
    from kit.collect.cli_commands import checklist

    def files(documents):
        return {c.file_name for c in checklist(documents, INSTANCE, REGION)}

    docs = sample_documents()
    with_volume = files(docs)
    assert f"kms.describe-key.{KEY_ID}.json" in with_volume
    assert "ec2.get-ebs-default-kms-key-id.json" not in with_volume  # the volume names its key
    assert "ec2.describe-images.json" not in with_volume

    gone = {n: d for n, d in docs.items() if not n.startswith(("kms.", "cloudtrail.")) and n != "ec2.describe-volumes.json"}
    gone["ec2.describe-volumes.json"] = {"Volumes": []}
    other = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    named = dict(gone, **{"cloudtrail.lookup-events.x.json": lookup([_run_instances_record({"encrypted": True, "kmsKeyId": other})])})
    assert "kms.describe-key.11111111-2222-3333-4444-555555555555.json" in files(named)
    assert {"ec2.get-ebs-default-kms-key-id.json", "ec2.describe-images.json"} <= files(named)

    aliases = {"Aliases": [{"AliasName": "alias/aws/ebs", "AliasArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/ebs",
                            "TargetKeyId": "0f0f0f0f-1111-2222-3333-444444444444"}]}
    implicit = dict(gone, **{"kms.list-aliases.json": aliases,
                             "ec2.get-ebs-default-kms-key-id.json": {"KmsKeyId": "alias/aws/ebs"},
                             "cloudtrail.lookup-events.x.json": lookup([_run_instances_record({"encrypted": True})])})
    assert "kms.describe-key.0f0f0f0f-1111-2222-3333-444444444444.json" in files(implicit)

    unnamed = dict(gone, **{"cloudtrail.lookup-events.kms.json": lookup([grant_record("g-1")])})
    assert f"kms.describe-key.{KEY_ID}.json" in files(unnamed)  # from the refused grant for the instance
    assert "cloudtrail.lookup-events.kms.json" in files(gone)  # no key known: ask for KMS events at large


def test_checklist_looks_up_the_launching_role_session():
    from kit.collect.cli_commands import checklist

    role = f"arn:aws:iam::{ACCOUNT}:role/ops/scheduler"
    start = {"eventID": "start-1", "eventTime": "2024-05-01T10:00:00Z", "eventSource": "ec2.amazonaws.com",
             "eventName": "StartInstances",
             "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/scheduler/run-7",
                              "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role, "userName": "scheduler"},
                                                 "attributes": {"creationDate": "2024-05-01T09:58:30Z"}}},
             "requestParameters": {"instancesSet": {"items": [{"instanceId": INSTANCE}]}}, "responseElements": None}
    docs = dict(sample_documents(), **{f"cloudtrail.lookup-events.{INSTANCE}.json": lookup([start])})
    commands = {c.file_name: c for c in checklist(docs, INSTANCE, REGION)}
    session = commands["cloudtrail.lookup-events.scheduler.json"]
    assert session.argv[1:] == ("cloudtrail", "lookup-events", "--lookup-attributes",
                                f"AttributeKey=ResourceName,AttributeValue={role}", "--start-time", "2024-05-01T09:56:30Z",
                                "--end-time", "2024-05-01T10:00:30Z", "--region", REGION, "--output", "json")
