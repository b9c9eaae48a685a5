"""kit.diagnose on evidence built from AWS CLI output shapes (contracts.md section 2), piece by piece."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from kit.diagnose import diagnose
from kit.diagnose.kms_events import denial_layer, error_kind
from kit.diagnose.metadata import load_steps
from kit.diagnose.state_reason import read_state_reason
from kit.diagnose.steps import STEP_FUNCTIONS
from kit.errors import BadInput
from kit.evidence import Evidence, Gap

ACCOUNT = "123456789012"
REGION = "eu-west-1"
INSTANCE = "i-0abc1234def567890"
VOLUME = "vol-0123456789abcdef0"
KEY_ID = "8e3426b8-1111-2222-3333-444455556666"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
USER = f"arn:aws:iam::{ACCOUNT}:user/test"
START = "2024-05-02T09:15:02Z"


def instances(code="Client.InternalError", message="Client.InternalError: Client error on launch", state="stopped"):
    instance = {
        "InstanceId": INSTANCE, "ImageId": "ami-0123456789abcdef0", "InstanceType": "t3.micro",
        "LaunchTime": "2024-05-02T09:15:02+00:00", "Placement": {"AvailabilityZone": f"{REGION}a"},
        "State": {"Code": 80, "Name": state}, "StateTransitionReason": message or "",
        "RootDeviceName": "/dev/xvda", "RootDeviceType": "ebs",
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeId": VOLUME, "Status": "attached",
                                                                  "DeleteOnTermination": True,
                                                                  "AttachTime": "2024-05-01T08:00:00+00:00"}}],
        "Tags": [{"Key": "Name", "Value": "prod-db-2"}],
    }
    if code:
        instance["StateReason"] = {"Code": code, "Message": message}
    return {"Reservations": [{"ReservationId": "r-0123456789abcdef0", "OwnerId": ACCOUNT, "Instances": [instance]}]}


def volumes():
    return {"Volumes": [{
        "VolumeId": VOLUME, "Size": 8, "VolumeType": "gp3", "State": "in-use", "Encrypted": True,
        "KmsKeyId": KEY_ARN, "SnapshotId": "snap-0123456789abcdef0", "AvailabilityZone": f"{REGION}a",
        "CreateTime": "2024-05-01T08:00:00+00:00",
        "Attachments": [{"VolumeId": VOLUME, "InstanceId": INSTANCE, "Device": "/dev/xvda", "State": "attached",
                         "DeleteOnTermination": True, "AttachTime": "2024-05-01T08:00:00+00:00"}]}]}


def describe_key(state="Enabled", manager="CUSTOMER"):
    return {"KeyMetadata": {"AWSAccountId": ACCOUNT, "KeyId": KEY_ID, "Arn": KEY_ARN,
                            "CreationDate": "2024-01-01T00:00:00+00:00", "Enabled": state == "Enabled",
                            "Description": "prod database volumes", "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": state,
                            "Origin": "AWS_KMS", "KeyManager": manager, "KeySpec": "SYMMETRIC_DEFAULT",
                            "MultiRegion": False}}


def default_key_policy():
    policy = {"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"}]}
    return {"Policy": json.dumps(policy), "PolicyName": "default"}


def authorization_details(extra_statements=()):
    statements = [{"Sid": "AllEc2", "Effect": "Allow", "Action": "ec2:*", "Resource": "*"}, *extra_statements]
    return {"UserDetailList": [{
        "Path": "/", "UserName": "test", "UserId": "AIDAEXAMPLE", "Arn": USER, "CreateDate": "2024-01-01T00:00:00+00:00",
        "UserPolicyList": [{"PolicyName": "ec2-full-access",
                            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}],
        "GroupList": [], "AttachedManagedPolicies": [], "Tags": []}],
        "GroupDetailList": [], "RoleDetailList": [], "Policies": []}


def record(event_id, name, source, when, **fields):
    base = {"eventVersion": "1.09", "eventID": event_id, "eventTime": when, "eventSource": source,
            "eventName": name, "awsRegion": REGION, "recipientAccountId": ACCOUNT, "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": USER, "accountId": ACCOUNT,
                             "userName": "test"}}
    base.update(fields)
    return base


def lookup(records):
    return {"Events": [{"EventId": r["eventID"], "EventName": r["eventName"], "ReadOnly": "false",
                        "EventTime": r["eventTime"], "EventSource": r["eventSource"], "Username": "test",
                        "Resources": [], "CloudTrailEvent": json.dumps(r)} for r in records]}


def start_and_denied_grant(message=None):
    start = record("11111111-0000-0000-0000-000000000001", "StartInstances", "ec2.amazonaws.com", START,
                   sourceIPAddress="198.51.100.7", userAgent="aws-cli/2.15.0",
                   requestParameters={"instancesSet": {"items": [{"instanceId": INSTANCE}]}},
                   responseElements={"instancesSet": {"items": [{"instanceId": INSTANCE,
                                                                 "currentState": {"code": 0, "name": "pending"},
                                                                 "previousState": {"code": 80, "name": "stopped"}}]}})
    grant = record("11111111-0000-0000-0000-000000000002", "CreateGrant", "kms.amazonaws.com", "2024-05-02T09:15:04Z",
                   sourceIPAddress="ec2.amazonaws.com", userAgent="ec2.amazonaws.com",
                   errorCode="AccessDenied",
                   errorMessage=message or (f"User: {USER} is not authorized to perform: kms:CreateGrant on resource: "
                                            f"{KEY_ARN} because no identity-based policy allows the kms:CreateGrant action"),
                   requestParameters={"keyId": KEY_ARN, "operations": ["Decrypt"],
                                      "granteePrincipal": f"arn:aws:sts::{ACCOUNT}:assumed-role/aws:ec2-infrastructure/{INSTANCE}",
                                      "retiringPrincipal": f"ec2.{REGION}.amazonaws.com",
                                      "constraints": {"encryptionContextSubset": {"aws:ebs:id": VOLUME}}},
                   resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": KEY_ARN}])
    grant["userIdentity"]["invokedBy"] = "ec2.amazonaws.com"
    return [start, grant]


def seed_documents(**overrides):
    documents = {
        "ec2.describe-instances.json": instances(),
        "ec2.describe-volumes.json": volumes(),
        f"kms.describe-key.{KEY_ID}.json": describe_key(),
        f"kms.get-key-policy.{KEY_ID}.json": default_key_policy(),
        "kms.list-aliases.json": {"Aliases": [{"AliasName": "alias/prod-db", "TargetKeyId": KEY_ID,
                                               "AliasArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/prod-db"}]},
        f"cloudtrail.lookup-events.{INSTANCE}.json": lookup(start_and_denied_grant()),
        "iam.get-account-authorization-details.json": authorization_details(),
    }
    documents.update(overrides)
    return {k: v for k, v in documents.items() if v is not None}


def evidence(documents, gaps=()):
    return Evidence(INSTANCE, REGION, copy.deepcopy(documents), list(gaps), source="cli:/tmp/x")


def validate(findings):
    schema = json.loads(resources.files("kit.report").joinpath("findings.schema.json").read_text())
    Draft202012Validator(schema).validate(findings.to_dict())


# ---- reading the pieces -------------------------------------------------------------------------------------

def test_state_reason_message_prefix_decides_over_the_code():
    read = read_state_reason("stopped", "Server.InternalError", "Client.InternalError: Client error on launch", "")
    assert read.effective == "Client.InternalError" and read.code == "Server.InternalError" and read.disagrees
    assert read.kind == "kms-candidate"
    assert read_state_reason("running", None, None, "").kind == "running"
    stop = read_state_reason("stopped", "Client.UserInitiatedShutdown",
                             "Client.UserInitiatedShutdown: User initiated shutdown", "User initiated (2024-05-02 09:00:00 GMT)")
    assert stop.kind == "not-a-launch-failure" and stop.lookalike == "user-stop" and stop.user_initiated
    quota = read_state_reason("stopped", "Client.VolumeLimitExceeded", "Client.VolumeLimitExceeded: Volume limit exceeded", "")
    assert (quota.kind, quota.cause) == ("cause", "volume-limit-exceeded")
    assert read_state_reason("stopped", None, None, "").kind == "unknown"


@pytest.mark.parametrize("code,kind", [
    ("AccessDenied", "access-denied"), ("AccessDeniedException", "access-denied"),
    ("DisabledException", "key-disabled"), ("KMSInvalidStateException", "key-invalid-state"),
    ("NotFoundException", "key-not-found"), ("KeyUnavailableException", "key-unavailable"),
    ("kms:AccessDeniedException", "access-denied"), ("ThrottlingException", "other"), (None, "other")])
def test_error_codes_match_loosely(code, kind):
    assert error_kind(code) == kind


@pytest.mark.parametrize("fragment,layer", [
    ("because no identity-based policy allows the kms:CreateGrant action", "identity-policy"),
    ("because no resource-based policy allows the kms:CreateGrant action", "key-policy"),
    ("with an explicit deny in a service control policy", "scp"),
    ("with an explicit deny in a permissions boundary", "permissions-boundary"),
    ("because no session policy allows the kms:CreateGrant action", "session-policy"),
    ("with an explicit deny in an identity-based policy", "explicit-deny"),
    ("with an explicit deny in a resource-based policy", "explicit-deny"),
    ("on this resource because the resource does not exist in this Region, no resource-based policies allow "
     "access, or a resource-based policy explicitly denies access", "key-policy"),
    ("", "unknown")])
def test_the_error_message_names_the_refusing_layer(fragment, layer):
    message = f"User: {USER} is not authorized to perform: kms:CreateGrant on resource: {KEY_ARN} {fragment}"
    assert denial_layer(message)[0] == layer


def test_step_catalogue_metadata_is_data_and_every_step_has_its_function():
    steps = load_steps()
    assert [s["id"] for s in steps] == ["state-reason", "launch-failure", "encrypted-volumes", "key-state",
                                        "kms-events", "launching-principal", "authorization", "cross-check",
                                        "lookalikes"]
    for step in steps:
        assert step["title"] and step["checks"] and "seed_step" in step
        assert set(step) <= {"id", "title", "checks", "seed_step", "symptom_of"}, f"{step['id']}: keys nothing reads"


def test_every_catalogue_step_has_a_function_and_every_function_a_catalogue_step():
    ids = [s["id"] for s in load_steps()]
    assert sorted(ids) == sorted(STEP_FUNCTIONS), "steps.yaml ids and kit.diagnose.steps.STEP_FUNCTIONS differ"
    assert len(set(ids)) == len(ids)
    assert all(callable(function) for function in STEP_FUNCTIONS.values())


# ---- whole diagnoses over CLI-shaped evidence ---------------------------------------------------------------

def test_the_seed_from_cli_outputs():
    findings = diagnose(evidence(seed_documents()))
    verdict = findings.verdict
    assert (verdict.cause, verdict.denied_by, verdict.principal_arn, verdict.key_arn, verdict.confidence) == (
        "kms-grant-denied", "identity-policy", USER, KEY_ARN, "confirmed")
    assert "kms:CreateGrant" in verdict.summary and KEY_ARN in verdict.summary
    assert {"volume-limit-exceeded", "user-stop", "kms-key-disabled"} <= set(findings.ruled_out)
    assert findings.step("cross-check").status == "pass"
    assert findings.remediation[0].verified and findings.remediation[0].target == USER
    validate(findings)


def test_code_and_message_disagree_still_kms_with_proof():
    docs = seed_documents(**{"ec2.describe-instances.json": instances(code="Server.InternalError")})
    findings = diagnose(evidence(docs))
    assert findings.verdict.cause == "kms-grant-denied"
    assert "the code says Server.InternalError" in findings.step("state-reason").detail
    assert findings.lookalikes["server-internal-error"] == "ruled-out"


def test_state_reason_alone_never_concludes_kms():
    findings = diagnose(evidence({"ec2.describe-instances.json": instances()},
                                 gaps=[Gap("ec2:DescribeVolumes", "missing", "volumes unknown")]))
    assert findings.verdict.cause == "undetermined" and findings.verdict.confidence == "possible"
    status = {s.id: s.status for s in findings.steps}
    for step in ("encrypted-volumes", "kms-events", "launching-principal", "authorization"):
        assert status[step] == "unknown", step  # could not check is unknown, never pass
    calls = {g.call for g in findings.gaps}
    assert {"ec2:DescribeVolumes", "cloudtrail:LookupEvents", "diagnosis:launching-principal"} <= calls
    validate(findings)


def test_without_iam_details_cloudtrail_still_confirms_and_the_evaluator_says_unknown():
    docs = seed_documents(**{"iam.get-account-authorization-details.json": None})
    findings = diagnose(evidence(docs))
    assert (findings.verdict.cause, findings.verdict.denied_by) == ("kms-grant-denied", "identity-policy")
    assert findings.step("authorization").status == "unknown"  # allowed only by the stand-in: not a pass
    assert findings.step("cross-check").status == "unknown"
    assert not any(r.verified for r in findings.remediation)


def test_cross_check_disagreement_lowers_confidence():
    # CloudTrail says the key policy refused, but the evidence's key policy delegates and IAM lacks CreateGrant
    message = (f"User: {USER} is not authorized to perform: kms:CreateGrant on resource: {KEY_ARN} because no "
               "resource-based policy allows the kms:CreateGrant action")
    docs = seed_documents(**{f"cloudtrail.lookup-events.{INSTANCE}.json": lookup(start_and_denied_grant(message))})
    findings = diagnose(evidence(docs))
    assert findings.verdict.cause == "kms-grant-denied"
    assert findings.verdict.confidence == "likely"
    assert findings.step("cross-check").status == "fail"
    assert findings.verdict.denied_by == "key-policy"  # CloudTrail is what AWS decided; the disagreement is shown


def test_disabled_key_is_confirmed_by_key_state_without_cloudtrail():
    docs = seed_documents(**{f"kms.describe-key.{KEY_ID}.json": describe_key("Disabled"),
                             f"cloudtrail.lookup-events.{INSTANCE}.json": None})
    findings = diagnose(evidence(docs))
    assert (findings.verdict.cause, findings.verdict.confidence) == ("kms-key-disabled", "confirmed")
    assert findings.verdict.principal_arn is None  # who launched is unknown without CloudTrail: not invented
    assert findings.step("key-state").status == "fail"


def test_user_stop_with_a_disabled_key_is_not_kms():
    stopped = instances(code="Client.UserInitiatedShutdown", message="Client.UserInitiatedShutdown: User initiated shutdown")
    docs = seed_documents(**{"ec2.describe-instances.json": stopped,
                             f"kms.describe-key.{KEY_ID}.json": describe_key("Disabled"),
                             f"cloudtrail.lookup-events.{INSTANCE}.json": None})
    findings = diagnose(evidence(docs))
    assert findings.verdict.cause == "not-a-launch-failure" and findings.remediation == []
    assert findings.lookalikes["user-stop"] == "confirmed"


def test_unencrypted_volumes_rule_kms_out():
    plain = volumes()
    plain["Volumes"][0]["Encrypted"] = False
    del plain["Volumes"][0]["KmsKeyId"]
    docs = seed_documents(**{"ec2.describe-volumes.json": plain,
                             f"cloudtrail.lookup-events.{INSTANCE}.json": lookup(start_and_denied_grant()[:1])})
    findings = diagnose(evidence(docs))
    assert findings.verdict.cause == "undetermined"
    assert {"kms-grant-denied", "kms-key-disabled"} <= set(findings.ruled_out)
    assert findings.step("encrypted-volumes").status == "pass"
    assert findings.lookalikes["snapshot-corrupt"] == "possible"


def test_diagnose_refuses_what_is_not_evidence():
    with pytest.raises(BadInput):
        diagnose({"ec2.describe-instances.json": instances()})  # type: ignore[arg-type]


def test_cross_account_key_for_auto_scaling_gets_a_grant_not_a_condition():
    other = "444455556666"
    key_arn = f"arn:aws:kms:{REGION}:{other}:key/{KEY_ID}"
    slr = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling"
    identity = {"type": "AssumedRole", "principalId": "AROAEXAMPLE:AutoScaling", "arn": session, "accountId": ACCOUNT,
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": slr,
                                                     "accountId": ACCOUNT, "userName": "AWSServiceRoleForAutoScaling"}},
                "invokedBy": "autoscaling.amazonaws.com"}
    run = record("22222222-0000-0000-0000-000000000001", "RunInstances", "ec2.amazonaws.com", START,
                 userIdentity=identity, sourceIPAddress="autoscaling.amazonaws.com",
                 requestParameters={"instancesSet": {"items": [{"imageId": "ami-0123456789abcdef0", "minCount": 1,
                                                                "maxCount": 1}]},
                                    "blockDeviceMapping": {"items": [{"deviceName": "/dev/xvda",
                                                                      "ebs": {"encrypted": True, "kmsKeyId": key_arn}}]}},
                 responseElements={"instancesSet": {"items": [{"instanceId": INSTANCE,
                                                               "instanceState": {"code": 0, "name": "pending"}}]}})
    grant = start_and_denied_grant(f"User: {session} is not authorized to perform: kms:CreateGrant on resource: "
                                   f"{key_arn} because no identity-based policy allows the kms:CreateGrant action")[1]
    grant["userIdentity"] = dict(identity, invokedBy="ec2.amazonaws.com")
    grant["requestParameters"]["keyId"] = key_arn
    grant["resources"] = [{"accountId": other, "type": "AWS::KMS::Key", "ARN": key_arn}]
    terminated = instances(state="terminated")
    terminated["Reservations"][0]["Instances"][0]["BlockDeviceMappings"] = []
    terminated["Reservations"][0]["Instances"][0]["Tags"].append({"Key": "aws:autoscaling:groupName", "Value": "web"})
    key = describe_key()
    key["KeyMetadata"].update(AWSAccountId=other, Arn=key_arn)
    details = authorization_details()
    details["RoleDetailList"] = [{"Path": "/aws-service-role/autoscaling.amazonaws.com/",
                                  "RoleName": "AWSServiceRoleForAutoScaling", "RoleId": "AROAEXAMPLE", "Arn": slr,
                                  "CreateDate": "2024-01-01T00:00:00+00:00", "AssumeRolePolicyDocument": {},
                                  "RolePolicyList": [], "AttachedManagedPolicies": [], "Tags": []}]
    docs = seed_documents(**{"ec2.describe-instances.json": terminated, "ec2.describe-volumes.json": {"Volumes": []},
                             f"kms.describe-key.{KEY_ID}.json": key, f"kms.get-key-policy.{KEY_ID}.json": None,
                             f"cloudtrail.lookup-events.{INSTANCE}.json": lookup([run, grant]),
                             "iam.get-account-authorization-details.json": details})
    findings = diagnose(evidence(docs, gaps=[Gap("kms:GetKeyPolicy", "AccessDeniedException", "cross-account")]))
    verdict = findings.verdict
    assert (verdict.cause, verdict.principal_arn, verdict.key_arn, verdict.confidence) == (
        "service-role-key-access", slr, key_arn, "confirmed")
    assert "service-linked role" in findings.step("launching-principal").detail
    grant_items = [r for r in findings.remediation if r.kind == "kms-grant"]
    assert grant_items and grant_items[0].document["GranteePrincipal"] == slr
    assert "Decrypt" in grant_items[0].document["Operations"]
    assert not any(r.verified for r in findings.remediation)  # grants are not modelled: never claimed verified
    for item in findings.remediation:
        assert "GrantIsForAWSResource" not in json.dumps(item.document)
    validate(findings)


def test_no_documents_at_all_is_undetermined():
    findings = diagnose(evidence({}))
    assert findings.verdict.cause == "undetermined"
    assert any(g.call == "ec2:DescribeInstances" for g in findings.gaps)
    assert {s.status for s in findings.steps} <= {"unknown", "skipped"}
    validate(findings)


SEED_NAMES = sorted(seed_documents())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sets(st.sampled_from(SEED_NAMES)))
def test_dropping_any_evidence_never_invents_a_cause(dropped):
    documents = {k: v for k, v in seed_documents().items() if k not in dropped}
    findings = diagnose(evidence(documents))
    validate(findings)
    verdict = findings.verdict
    assert verdict.cause in ("kms-grant-denied", "undetermined"), (sorted(dropped), verdict.summary)
    if verdict.cause == "kms-grant-denied":
        assert verdict.key_arn == KEY_ARN and verdict.principal_arn in (USER, None)
        assert verdict.denied_by in ("identity-policy", "unknown")
    if f"cloudtrail.lookup-events.{INSTANCE}.json" in dropped:
        assert verdict.confidence != "confirmed"
    status = {s.id: s.status for s in findings.steps}
    could_not_check = {  # a dropped document means its step cannot pass
        f"cloudtrail.lookup-events.{INSTANCE}.json": ("kms-events", "launching-principal", "cross-check"),
        "ec2.describe-volumes.json": ("encrypted-volumes",),
        f"kms.describe-key.{KEY_ID}.json": ("key-state",),
        "iam.get-account-authorization-details.json": ("authorization",),
        f"kms.get-key-policy.{KEY_ID}.json": ("authorization",),
        "ec2.describe-instances.json": ("state-reason", "launch-failure"),
    }
    for name, steps in could_not_check.items():
        if name in dropped:
            for step in steps:
                assert status[step] != "pass", (name, step, findings.step(step).detail)


def test_disabled_key_that_the_launcher_may_not_use_gets_both_fixes():
    docs = seed_documents(**{f"kms.describe-key.{KEY_ID}.json": describe_key("Disabled")})
    findings = diagnose(evidence(docs))
    assert findings.verdict.cause == "kms-key-disabled"
    sets = {r.change_set: r for r in findings.remediation}
    assert {"key-state", "policy"} <= set(sets)
    assert not sets["key-state"].verified  # enabling alone still leaves EC2's CreateGrant denied
    assert sets["policy"].verified


def test_apply_remediation_is_what_the_what_if_editor_applies():
    from kit.diagnose.remediation import apply_remediation
    from kit.policy import evaluate

    findings = diagnose(evidence(seed_documents()))
    assert not evaluate(findings.request, findings.policies).allowed
    after = apply_remediation(findings.policies, [r for r in findings.remediation if r.verified])
    assert evaluate(findings.request, after).allowed
    assert len(after.identity) == len(findings.policies.identity) + 1  # one new inline policy, nothing replaced


def test_an_aws_managed_key_policy_is_never_proposed_for_change():
    policy = {"Version": "2012-10-17", "Id": "auto-ebs-2", "Statement": [
        {"Sid": "Allow access through EBS for all principals in the account that are authorized to use EBS",
         "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant",
                    "kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": "999999999999", "kms:ViaService": "ec2.eu-west-1.amazonaws.com"}}}]}
    message = (f"User: {USER} is not authorized to perform: kms:CreateGrant on resource: {KEY_ARN} because no "
               "resource-based policy allows the kms:CreateGrant action")
    docs = seed_documents(**{f"kms.describe-key.{KEY_ID}.json": describe_key(manager="AWS"),
                             f"kms.get-key-policy.{KEY_ID}.json": {"Policy": json.dumps(policy), "PolicyName": "default"},
                             f"cloudtrail.lookup-events.{INSTANCE}.json": lookup(start_and_denied_grant(message))})
    findings = diagnose(evidence(docs))
    assert (findings.verdict.cause, findings.verdict.denied_by) == ("kms-grant-denied", "key-policy")
    assert not [r for r in findings.remediation if r.kind == "key-policy"]
    assert any("AWS managed key" in r.title and "cannot be changed" in r.explanation for r in findings.remediation)
    assert not any(r.verified for r in findings.remediation)
