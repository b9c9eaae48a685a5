"""build_frames: typed per schemas.json, identity statements with their origin, same frames from every source."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from kit.collect.bundle import load_bundle, write_bundle
from kit.collect.cli_folder import load_cli_folder
from kit.evidence import Evidence
from kit.frames import Frames, build_frames, key_policy_document, policy_documents_for
from kit.frames.schemas import FrameSchemaError, frame_from_rows, validate_frame
from tests.test_cli_folder import ACCOUNT, INSTANCE, KEY_ARN, KEY_ID, REGION, USER, VOLUME, sample_documents, write_folder

SCHEMAS = json.loads((Path(__file__).parents[1] / "kit" / "frames" / "schemas.json").read_text())
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ops/scheduler"
ASG_ROLE = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
MANAGED = f"arn:aws:iam::{ACCOUNT}:policy/ec2-operators"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/boundary"
AWS_MANAGED = "arn:aws:iam::aws:policy/AmazonEC2FullAccess"
EBS_KEY_ID = "0f0f0f0f-1111-2222-3333-444444444444"
EBS_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{EBS_KEY_ID}"


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW_EC2 = {"Sid": "Ec2", "Effect": "Allow", "Action": "ec2:*", "Resource": "*"}
ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
DENY_GRANT = {"Sid": "NoGrants", "Effect": "Deny", "Action": "kms:CreateGrant", "Resource": "*"}


def rich_documents() -> dict[str, object]:
    docs = sample_documents()
    docs["iam.get-account-authorization-details.json"] = {
        "UserDetailList": [{
            "UserName": "test", "Arn": USER, "Path": "/", "UserId": "AIDAEXAMPLE1", "GroupList": ["operators"],
            "UserPolicyList": [{"PolicyName": "own", "PolicyDocument": doc({"Effect": "Allow", "Action": "kms:Describe*", "Resource": "*"})}],
            "AttachedManagedPolicies": [{"PolicyName": "ec2-operators", "PolicyArn": MANAGED},
                                        {"PolicyName": "AmazonEC2FullAccess", "PolicyArn": AWS_MANAGED}],
            "PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": BOUNDARY}}],
        "GroupDetailList": [{"GroupName": "operators", "Arn": f"arn:aws:iam::{ACCOUNT}:group/operators", "Path": "/",
            "GroupPolicyList": [{"PolicyName": "group-inline", "PolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22kms%3AList%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D"}],
            "AttachedManagedPolicies": [{"PolicyName": "ec2-operators", "PolicyArn": MANAGED}]}],
        "RoleDetailList": [
            {"RoleName": "scheduler", "Arn": ROLE, "Path": "/ops/", "RoleId": "AROAEXAMPLE1",
             "AssumeRolePolicyDocument": doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}),
             "RolePolicyList": [{"PolicyName": "start", "PolicyDocument": doc(ALLOW_EC2)}], "AttachedManagedPolicies": []},
            {"RoleName": "AWSServiceRoleForAutoScaling", "Arn": ASG_ROLE, "Path": "/aws-service-role/autoscaling.amazonaws.com/",
             "RoleId": "AROAEXAMPLE2", "RolePolicyList": [], "AttachedManagedPolicies": [],
             "AssumeRolePolicyDocument": doc({"Effect": "Allow", "Principal": {"Service": "autoscaling.amazonaws.com"}, "Action": "sts:AssumeRole"})}],
        "Policies": [
            {"PolicyName": "ec2-operators", "Arn": MANAGED, "DefaultVersionId": "v2", "PolicyVersionList": [
                {"VersionId": "v1", "IsDefaultVersion": False, "Document": doc(ALLOW_ALL)},
                {"VersionId": "v2", "IsDefaultVersion": True, "Document": doc(ALLOW_EC2, DENY_GRANT)}]},
            {"PolicyName": "boundary", "Arn": BOUNDARY, "DefaultVersionId": "v1", "PolicyVersionList": [
                {"VersionId": "v1", "IsDefaultVersion": True, "Document": json.dumps(doc(ALLOW_ALL))}]}],
    }
    docs[f"organizations.list-parents.{ACCOUNT}.json"] = {"Parents": [{"Id": "ou-ab12-cdef3456", "Type": "ORGANIZATIONAL_UNIT"}]}
    docs["organizations.list-parents.ou-ab12-cdef3456.json"] = {"Parents": [{"Id": "r-ab12", "Type": "ROOT"}]}
    full = {"Id": "p-FullAWSAccess", "Arn": "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess", "Name": "FullAWSAccess", "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": True}
    guard = {"Id": "p-guard1234", "Arn": "arn:aws:organizations::999988887777:policy/o-abc/service_control_policy/p-guard1234", "Name": "no-grants", "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": False}
    docs["organizations.list-policies-for-target.r-ab12.json"] = {"Policies": [full]}
    docs["organizations.list-policies-for-target.ou-ab12-cdef3456.json"] = {"Policies": [full, guard]}
    docs[f"organizations.list-policies-for-target.{ACCOUNT}.json"] = {"Policies": [full]}
    docs["organizations.describe-policy.p-FullAWSAccess.json"] = {"Policy": {"PolicySummary": full, "Content": json.dumps(doc(ALLOW_ALL))}}
    docs["organizations.describe-policy.p-guard1234.json"] = {"Policy": {"PolicySummary": guard, "Content": json.dumps(doc(DENY_GRANT))}}
    docs["kms.list-aliases.json"]["Aliases"].append(
        {"AliasName": "alias/aws/ebs", "AliasArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/ebs", "TargetKeyId": EBS_KEY_ID})
    docs["ec2.get-ebs-encryption-by-default.json"] = {"EbsEncryptionByDefault": True}
    docs[f"kms.list-grants.{KEY_ID}.json"] = {"Grants": [{
        "KeyId": KEY_ARN, "GrantId": "g-1", "Name": "", "CreationDate": 1714557600.0,
        "GranteePrincipal": f"arn:aws:sts::{ACCOUNT}:assumed-role/aws:ec2-infrastructure/{INSTANCE}",
        "RetiringPrincipal": "ec2.eu-west-1.amazonaws.com", "IssuingAccount": f"arn:aws:iam::{ACCOUNT}:root",
        "Operations": ["Decrypt"], "Constraints": {"EncryptionContextSubset": {"aws:ebs:id": VOLUME}}}], "Truncated": False}
    docs["ec2.describe-snapshots.json"] = {"Snapshots": [{"SnapshotId": "snap-0123456789abcdef0", "VolumeId": VOLUME,
        "OwnerId": ACCOUNT, "Encrypted": True, "KmsKeyId": KEY_ARN, "State": "completed", "StartTime": "2024-04-01T09:00:00.000Z", "VolumeSize": 8}]}
    docs["ec2.describe-images.json"] = {"Images": [{"ImageId": "ami-0123456789abcdef0", "OwnerId": "444455556666", "Name": "shared",
        "State": "available", "Public": False, "RootDeviceName": "/dev/xvda", "CreationDate": "2024-01-01T00:00:00.000Z",
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-0aaaaaaaaaaaaaaaa", "Encrypted": True,
                                 "KmsKeyId": "arn:aws:kms:eu-west-1:444455556666:key/abcdabcd-1111-2222-3333-444455556666"}},
                                {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}]}]}
    docs["autoscaling.describe-scaling-activities.json"] = {"Activities": [{
        "ActivityId": "a-1", "AutoScalingGroupName": "web", "Description": f"Launching a new EC2 instance: {INSTANCE}. Status Reason: Instance became unhealthy while waiting for instance to be in InService state. Termination Reason: Client.InternalError: Client error on launch",
        "Cause": "At 2024-05-01T10:00:00Z an instance was started in response to a difference between desired and actual capacity",
        "StartTime": "2024-05-01T10:00:00.000Z", "EndTime": "2024-05-01T10:01:00.000Z", "StatusCode": "Cancelled", "Progress": 100}]}
    docs["ec2.describe-launch-template-versions.lt-0abcdef1234567890.json"] = {"LaunchTemplateVersions": [{
        "LaunchTemplateId": "lt-0abcdef1234567890", "LaunchTemplateName": "app", "VersionNumber": 3,
        "DefaultVersion": True, "CreateTime": "2026-11-01T10:00:00+00:00",
        "LaunchTemplateData": {"ImageId": "ami-0123456789abcdef0", "BlockDeviceMappings": [
            {"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": True, "KmsKeyId": KEY_ARN, "VolumeSize": 8}}]}}]}
    return docs


@pytest.fixture(scope="module")
def frames() -> Frames:
    return build_frames(Evidence(INSTANCE, REGION, documents=rich_documents()))


def test_every_frame_is_typed_as_schemas_json_says(frames):
    assert set(Frames.frame_names()) == set(SCHEMAS["frames"])
    for name, spec in SCHEMAS["frames"].items():
        frame = getattr(frames, name)
        assert [c["name"] for c in spec["columns"]] == list(frame.columns), name
        for column in spec["columns"]:
            assert str(frame[column["name"]].dtype) == column["dtype"], (name, column["name"])
            assert column["description"]
        assert len(frame) > 0, name  # the rich evidence fills every frame


def test_empty_evidence_gives_empty_typed_frames():
    only = {"ec2.describe-instances.json": sample_documents()["ec2.describe-instances.json"]}
    frames = build_frames(Evidence(INSTANCE, REGION, documents=only))
    frames.validate()
    assert len(frames.instances) == 1 and len(frames.keys) == 0 and len(frames.events) == 0


def test_validation_catches_wrong_frames():
    frame = frame_from_rows("aliases", [{"alias_name": "alias/x"}])
    validate_frame("aliases", frame)
    with pytest.raises(FrameSchemaError):
        validate_frame("aliases", frame.astype({"aws_managed": "object"}))
    with pytest.raises(FrameSchemaError):
        validate_frame("aliases", frame.drop(columns=["alias_arn"]))
    with pytest.raises(FrameSchemaError):
        frame_from_rows("aliases", [{"alias_name": "alias/x", "surprise": 1}])


def test_instance_volume_key(frames):
    instance = frames.instances.iloc[0]
    assert instance["state"] == "stopped" and instance["state_reason_code"] == "Client.InternalError"
    assert instance["launch_time"] == pd.Timestamp("2024-05-01T10:00:00Z")
    assert instance["volume_ids"] == [VOLUME] and instance["name"] == "prod-db-2"
    assert frames.account_id == ACCOUNT
    volume = frames.volumes.iloc[0]
    assert volume["key_arn"] == KEY_ARN and volume["instance_id"] == INSTANCE and bool(volume["encrypted"])
    key = frames.keys.iloc[0]
    assert key["key_state"] == "Enabled" and key["key_manager"] == "CUSTOMER" and key["aliases"] == ["alias/prod-db"]
    assert key["creation_date"] == pd.Timestamp("2024-04-01T10:00:00.123Z")  # epoch number from CLI v1
    statement = frames.key_policy_statements.iloc[0]
    assert statement["principals"] == [f"arn:aws:iam::{ACCOUNT}:root"] and statement["actions"] == ["kms:*"]
    assert key_policy_document(frames, KEY_ARN)["Statement"][0]["Sid"] == "Enable IAM User Permissions"
    assert key_policy_document(frames, "alias/prod-db") == key_policy_document(frames, KEY_ID)
    assert key_policy_document(frames, EBS_KEY_ARN) is None


def test_grants_aliases_defaults_snapshots_images_activities(frames):
    grant = frames.grants.iloc[0]
    assert (grant["key_arn"], grant["instance_id"], grant["volume_id"], grant["operations"]) == (KEY_ARN, INSTANCE, VOLUME, ["Decrypt"])
    aliases = frames.aliases.set_index("alias_name")
    assert aliases.loc["alias/aws/ebs", "key_arn"] == EBS_KEY_ARN and bool(aliases.loc["alias/aws/ebs", "aws_managed"])
    defaults = frames.ebs_defaults.iloc[0]
    assert bool(defaults["encryption_by_default"]) and defaults["default_key_arn"] == EBS_KEY_ARN
    assert frames.snapshots.iloc[0]["key_arn"] == KEY_ARN
    assert len(frames.images) == 1 and frames.images.iloc[0]["key_arn"].startswith("arn:aws:kms:eu-west-1:444455556666:")
    activity = frames.autoscaling_activities.iloc[0]
    assert activity["instance_id"] == INSTANCE and activity["status_code"] == "Cancelled"


def test_identity_statements_say_where_they_come_from(frames):
    rows = frames.identity_statements
    user = rows[rows["principal_arn"] == USER]
    assert set(user["source"]) == {"inline", "managed", "group-inline", "group-managed", "boundary"}
    managed = user[(user["source"] == "managed") & (user["policy_arn"] == MANAGED)]
    assert [s["Sid"] if "Sid" in s else None for s in managed["statement"]] == ["Ec2", "NoGrants"]  # default version v2
    unknown = user[user["policy_arn"] == AWS_MANAGED]
    assert len(unknown) == 1 and unknown.iloc[0]["statement"] is None  # applies, but its document is not in the evidence
    group_inline = user[user["source"] == "group-inline"].iloc[0]
    assert group_inline["group_name"] == "operators" and group_inline["statement"]["Action"] == "kms:List*"
    scps = rows[rows["source"] == "scp"]
    assert scps["principal_arn"].isna().all()
    assert list(scps.drop_duplicates(["scp_level", "target_id"])[["scp_level", "target_id"]].itertuples(index=False, name=None)) == [
        (0, "r-ab12"), (1, "ou-ab12-cdef3456"), (2, ACCOUNT)]


def test_policy_documents_for_a_user(frames):
    policies = policy_documents_for(frames, USER)
    names = sorted(p.name for p in policies.identity)
    assert names == sorted(["inline:own", f"managed:{MANAGED}", "group-inline:operators/group-inline",
                            f"group-managed:operators/{MANAGED}"])
    assert policies.boundary.name == f"boundary:{BOUNDARY}" and policies.boundary.document == doc(ALLOW_ALL)
    assert policies.missing == [f"managed:{AWS_MANAGED}"]
    assert [[p.name for p in level] for level in policies.scps] == [
        ["scp:r-ab12/p-FullAWSAccess"], ["scp:ou-ab12-cdef3456/p-FullAWSAccess", "scp:ou-ab12-cdef3456/p-guard1234"],
        [f"scp:{ACCOUNT}/p-FullAWSAccess"]]
    managed = next(p for p in policies.identity if p.name == f"managed:{MANAGED}")
    assert managed.document == doc(ALLOW_EC2, DENY_GRANT)


def test_policy_documents_for_a_role_session_and_a_service_linked_role(frames):
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/scheduler/run-42"
    policies = policy_documents_for(frames, session)
    assert policies.principal_arn == ROLE and policies.known
    assert [p.name for p in policies.identity] == ["inline:start"]
    assert len(policies.scps) == 3
    service = policy_documents_for(frames, ASG_ROLE)
    assert service.scps == [] and service.identity == [] and service.known


def test_session_policies_from_cloudtrail():
    documents = rich_documents()
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/scheduler/GitHubActions-42"
    narrowed = doc({"Sid": "OnlyEc2", "Effect": "Allow", "Action": "ec2:*", "Resource": "*"})
    documents["cloudtrail-logs/AWSLogs/x/CloudTrail/eu-west-1/2024/05/01/a.json.gz"] = {"Records": [{
        "eventVersion": "1.08", "eventID": "assume-1", "eventTime": "2024-05-01T09:59:00Z",
        "eventSource": "sts.amazonaws.com", "eventName": "AssumeRoleWithWebIdentity", "awsRegion": REGION,
        "userIdentity": {"type": "WebIdentityUser", "principalId": "repo:example-org/platform:ref:refs/heads/main"},
        "requestParameters": {"roleArn": ROLE, "roleSessionName": "GitHubActions-42", "policy": json.dumps(narrowed),
                              "policyArns": [{"arn": MANAGED}]},
        "responseElements": {"assumedRoleUser": {"assumedRoleId": "AROAEXAMPLE1:GitHubActions-42", "arn": session},
                             "credentials": {"accessKeyId": "ASIAEXAMPLEEXAMPLE12", "sessionToken": "<redacted>"}},
        "readOnly": True, "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT}]}
    frames = build_frames(Evidence(INSTANCE, REGION, documents=documents))
    rows = frames.identity_statements[frames.identity_statements["source"] == "session"]
    assert set(rows["principal_arn"]) == {session} and len(rows) == 3
    policies = policy_documents_for(frames, session)
    assert policies.principal_arn == ROLE
    by_name = {p.name: p for p in policies.session_policies}
    assert set(by_name) == {"session:inline:assume-1", f"session:{MANAGED}"}
    assert by_name["session:inline:assume-1"].document == narrowed
    assert policies.policy_set().session_policies == policies.session_policies
    assert policy_documents_for(frames, ROLE).session_policies == []


def test_policy_set_is_evaluable(frames):
    from kit.policy import Request, evaluate

    policies = policy_documents_for(frames, USER)
    policy_set = policies.policy_set(key_policy_document(frames, KEY_ARN))
    decision = evaluate(Request(USER, "kms:CreateGrant", KEY_ARN, {"kms:GrantIsForAWSResource": "true"}), policy_set)
    assert decision.decision == "deny" and decision.explicit


def _reformat_times(documents: dict) -> dict:
    """The same documents as the AWS CLI v2 prints them: every timestamp as ISO 8601 with an offset."""
    out = copy.deepcopy(documents)
    meta = out[f"kms.describe-key.{KEY_ID}.json"]["KeyMetadata"]
    meta["CreationDate"] = "2024-04-01T10:00:00.123000+00:00"
    out[f"kms.list-grants.{KEY_ID}.json"]["Grants"][0]["CreationDate"] = "2024-05-01T12:00:00+02:00"
    instance = out["ec2.describe-instances.json"]["Reservations"][0]["Instances"][0]
    instance["LaunchTime"] = "2024-05-01T10:00:00+00:00"
    for events in (out["cloudtrail.lookup-events.create-grant.json"], out["cloudtrail.lookup-events.instance.json"]):
        for event in events["Events"]:
            event["EventTime"] = "2024-05-01T10:00:05+00:00"
    return out


def test_same_frames_from_cli_folder_bundle_and_cli_v2_output(tmp_path, frames):
    documents = rich_documents()
    from_cli = build_frames(load_cli_folder(write_folder(tmp_path / "cli", documents)))
    from_v2 = build_frames(load_cli_folder(write_folder(tmp_path / "cli2", _reformat_times(documents))))
    bundle = write_bundle(load_cli_folder(tmp_path / "cli"), tmp_path / "bundle")
    from_bundle = build_frames(load_bundle(bundle))
    for other in (from_cli, from_v2, from_bundle):
        for name in Frames.frame_names():
            pd.testing.assert_frame_equal(getattr(other, name), getattr(frames, name), obj=name)


def test_rows_are_sorted_deterministically():
    documents = rich_documents()
    shuffled = copy.deepcopy(documents)
    for document in shuffled.values():
        for value in document.values() if isinstance(document, dict) else []:
            if isinstance(value, list):
                value.reverse()
    a = build_frames(Evidence(INSTANCE, REGION, documents=documents))
    b = build_frames(Evidence(INSTANCE, REGION, documents=dict(reversed(list(shuffled.items())))))
    for name in ("keys", "aliases", "events", "principals", "identity_statements", "grants", "volumes"):
        left, right = getattr(a, name), getattr(b, name)
        if name == "identity_statements":  # statement order inside a document is meaningful, not shuffled here
            left, right = left.drop(columns=["index"]), right.drop(columns=["index"])
        assert len(left) == len(right)
        pd.testing.assert_frame_equal(left, right, obj=name)


def test_frames_never_import_boto3():
    code = (
        "import sys\n"
        "from kit.frames import build_frames, policy_documents_for\n"
        "from kit.evidence import Evidence\n"
        "from tests.test_frames_build import rich_documents, INSTANCE, REGION, USER\n"
        "f = build_frames(Evidence(INSTANCE, REGION, documents=rich_documents()))\n"
        "policy_documents_for(f, USER)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'moto'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
