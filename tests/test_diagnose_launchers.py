"""Launch paths, launcher classes and key provenance over the real pipeline: simulated account -> live, bundle:
and cli: (the real AWS CLI) evidence -> diagnosis, for every scenario that says what its launch looks like
(`expected_launch` in its YAML), plus the launcher catalogue itself."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from tests.aws_cli_runs import run_cli_folder  # the checklist run by the real AWS CLI

from kit.collect import load_evidence
from kit.collect.bundle import write_bundle
from kit.collect.cli_commands import checklist
from kit.collect.live import collect_live
from kit.diagnose import diagnose
from kit.diagnose.launchers import LauncherFacts, catalogue, class_ids, classify
from kit.frames.launch_paths import launch_paths
from kit.simulate.catalogue import load_catalogue

LAUNCH_SCENARIOS = {s.name: s.spec["expected_launch"] for s in load_catalogue() if s.spec.get("expected_launch")}
NAMES = sorted(LAUNCH_SCENARIOS)


@pytest.fixture(scope="module")
def live(sim, aws_env):
    return {name: collect_live(sim.scenario(name).instance_id, sim.scenario(name).region) for name in NAMES}


def assert_launch(findings, seeded, wanted) -> None:
    verdict = findings.verdict
    assert (verdict.cause, verdict.denied_by, verdict.principal_arn, verdict.key_arn) == tuple(
        seeded.expected[k] for k in ("cause", "denied_by", "principal_arn", "key_arn")), verdict.summary
    assert verdict.launcher_class == wanted["launcher_class"]
    launch = findings.launch
    assert launch is not None and launch["path"] == wanted["launch_path"]
    assert launch["launcher_class"]["id"] == wanted["launcher_class"]
    words = launch_paths()[wanted["launch_path"]].words
    assert verdict.launched_by.endswith(words) or f"through {words} by " in verdict.launched_by
    requester = launch.get("requested_by_class") or {}
    assert requester.get("id") == wanted.get("requested_by_class", requester.get("id"))
    if requester:  # the caller of a service-fulfilled request is named by its class, not its ARN
        assert verdict.launched_by.endswith(f" by {requester['label']}")
    if "fleet_error_kinds" in wanted:  # the fleet's error set, each error told apart by kind, cited in the verdict
        assert [e["kind"] for e in launch["fleet_errors"]] == wanted["fleet_error_kinds"]
        for error in launch["fleet_errors"]:
            assert f"{error['code']} for {error['instance_type']}: {error['kind_words']}" in verdict.summary
    assert not any(r.kind == "iam-policy" and "/aws-service-role/" in str(r.target) for r in findings.remediation)
    if "fix" in wanted:  # a verified fix of the kind the launcher's owner can apply, on the right resource
        target = seeded.expected["key_arn" if wanted["fix"] == "key-policy" else "principal_arn"]
        fixes = [r for r in findings.remediation if r.verified and r.target == target]
        assert {wanted["fix"], "cli"} <= {r.kind for r in fixes}, [(r.kind, r.target) for r in findings.remediation]
        assert findings.remediation[0].kind == wanted["fix"]
    assert [p["source"] for p in findings.key_provenance] == [wanted["key_source"]]
    assert findings.key_provenance[0]["key_arn"] == seeded.expected["key_arn"]
    out = findings.to_dict()
    assert out["verdict"]["launched_by"] == verdict.launched_by and out["launch"] == launch
    json.dumps(out)


def test_the_catalogue_has_each_launch_path_and_launcher_class_of_the_issue():
    paths = {wanted["launch_path"] for wanted in LAUNCH_SCENARIOS.values()}
    classes = {wanted["launcher_class"] for wanted in LAUNCH_SCENARIOS.values()}
    assert {"CreateFleet", "RequestSpotInstances", "RequestSpotFleet", "RunInstances"} <= paths
    assert {"karpenter-controller-role", "spot-service-linked-role", "eks-cluster-role", "emr-service-role",
            "ci-web-identity-role", "person", "spot-fleet-role", "backup-service-role", "service-catalog-launch-role",
            "image-builder-service-linked-role"} <= classes
    assert "batch-service-linked-role" in {w.get("requested_by_class") for w in LAUNCH_SCENARIOS.values()}
    assert {w["key_source"] for w in LAUNCH_SCENARIOS.values()} >= {"launch-template", "launch-request",
                                                                      "account-default"}


@pytest.mark.parametrize("name", NAMES)
def test_live_names_the_launcher_its_class_and_path(sim, live, name):
    assert_launch(diagnose(live[name]), sim.scenario(name), LAUNCH_SCENARIOS[name])


@pytest.mark.parametrize("name", NAMES)
def test_bundle_diagnoses_the_launch_as_live(sim, live, name, tmp_path):
    seeded = sim.scenario(name)
    folder = write_bundle(live[name], tmp_path / "bundle")
    findings = diagnose(load_evidence(f"bundle:{folder}", seeded.instance_id, seeded.region))
    assert_launch(findings, seeded, LAUNCH_SCENARIOS[name])
    assert findings.to_dict() == diagnose(live[name]).to_dict()


@pytest.mark.parametrize("name", NAMES)
def test_cli_folder_names_the_launcher_its_class_and_path(sim, live, name, tmp_path):
    seeded = sim.scenario(name)
    folder = run_cli_folder(live[name], tmp_path / "cli")
    evidence = load_evidence(f"cli:{folder}", seeded.instance_id, seeded.region)
    assert_launch(diagnose(evidence), seeded, LAUNCH_SCENARIOS[name])


def test_fleet_and_spot_launch_calls_are_collected_by_event_name(live):
    assert "cloudtrail.lookup-events.CreateFleet.json" in live["karpenter-create-fleet"].documents
    assert "cloudtrail.lookup-events.RequestSpotInstances.json" in live["spot-request-slr"].documents
    commands = {c.file_name: c for c in checklist(live["spot-request-slr"].documents, live["spot-request-slr"]
                                                  .instance_id, live["spot-request-slr"].region)}
    argv = commands["cloudtrail.lookup-events.RequestSpotInstances.json"].argv
    assert "AttributeKey=EventName,AttributeValue=RequestSpotInstances" in argv
    assert "cloudtrail.lookup-events.RequestSpotFleet.json" in live["spot-fleet-role"].documents
    fleet = live["spot-fleet-role"]
    commands = {c.file_name: c for c in checklist(fleet.documents, fleet.instance_id, fleet.region)}
    assert "AttributeKey=EventName,AttributeValue=RequestSpotFleet" in commands[
        "cloudtrail.lookup-events.RequestSpotFleet.json"].argv
    template_files = [n for n in live["launch-template-key"].documents
                      if n.startswith("ec2.describe-launch-template-versions.")]
    assert len(template_files) == 1


def test_spot_launcher_is_the_service_linked_role_and_the_request_is_the_analysts(sim, live):
    findings = diagnose(live["spot-request-slr"])
    assert findings.launch["requested_by"].endswith(":user/data-analyst")
    assert findings.launch["launcher_class"]["fix"] == "key-policy"
    assert "AWSServiceRoleForEC2Spot" in findings.verdict.launched_by


def test_spot_fleet_launcher_is_its_service_linked_role_not_the_fleet_role_or_the_requester(sim, live):
    for name, requester in (("spot-fleet-role", ":user/render-admin"),
                            ("batch-spot-fleet", ":role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch")):
        findings = diagnose(live[name])
        assert findings.verdict.principal_arn.endswith("/spotfleet.amazonaws.com/AWSServiceRoleForEC2SpotFleet")
        assert findings.launch["requested_by"].endswith(requester)
        assert findings.launch["launcher_class"]["fix"] == "key-policy"
        fixes = [r for r in findings.remediation if r.kind in ("key-policy", "iam-policy")]
        assert fixes and all(r.kind == "key-policy" and r.verified for r in fixes)
        assert not any("fleet-tagging-role" in str(r.target) or "AWSServiceRoleForBatch" in str(r.target)
                       for r in findings.remediation)
    assert "by AWS Batch's service-linked role AWSServiceRoleForBatch" in diagnose(live["batch-spot-fleet"]) \
        .verdict.launched_by


def test_service_role_launchers_get_the_fix_their_owner_can_apply(sim, live):
    """A restore role and a Service Catalog launch role belong to the customer: IAM (or the key policy when
    that is what refused); a service-linked role: the key policy, never its IAM."""
    backup = diagnose(live["backup-restore-role"])
    assert "AWS Backup's restore role backup-restore-role, through RunInstances" in backup.verdict.launched_by
    assert [r.kind for r in backup.remediation][0] == "iam-policy"
    assert backup.remediation[0].target.endswith(":role/service-role/backup-restore-role")
    catalog = diagnose(live["service-catalog-launch-role"])
    assert catalog.verdict.denied_by == "key-policy" and catalog.remediation[0].kind == "key-policy"
    builder = diagnose(live["image-builder-slr"])
    assert {r.kind for r in builder.remediation} <= {"key-policy", "cli", "terraform", "kms-grant"}
    assert all(r.verified for r in builder.remediation)


def test_default_key_provenance_names_the_baseline_that_set_it(sim, live):
    provenance = diagnose(live["default-key-baseline"]).key_provenance[0]
    assert provenance["set_by"]["principal_arn"].endswith(":role/stacksets-exec-security-baseline")
    assert provenance["set_by"]["event_name"] == "ModifyEbsDefaultKmsKeyId"
    assert "stacksets-exec-security-baseline" in provenance["from"]
    assert "ModifyEbsDefaultKmsKeyId" in live["default-key-baseline"].documents[
        "cloudtrail.lookup-events.ModifyEbsDefaultKmsKeyId.json"]["Events"][0]["EventName"]


def test_without_the_fleet_record_the_launcher_is_still_the_kms_caller_but_the_path_is_unknown(live):
    evidence = live["karpenter-create-fleet"]
    emptied = replace(evidence, documents={k: v for k, v in evidence.documents.items()
                                           if k != "cloudtrail.lookup-events.CreateFleet.json"})
    findings = diagnose(emptied)
    assert findings.verdict.principal_arn == diagnose(evidence).verdict.principal_arn
    assert findings.launch["path"] is None


# ---- the catalogue, as data ------------------------------------------------------------------------------------

FACTS = [
    (LauncherFacts("role", "karpenter", "/", user_agent="aws-sdk-go-v2/1.30 karpenter.sh-v1.0.8"),
     "karpenter-controller-role"),
    (LauncherFacts("role", "KarpenterControllerRole", "/", web_identity="arn:aws:iam::1:oidc-provider/oidc.eks.eu-west-1"
                   ".amazonaws.com/id/X"), "karpenter-controller-role"),
    (LauncherFacts("role", "app-irsa", "/", web_identity="arn:aws:iam::1:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/"
                   "id/X"), "kubernetes-workload-role"),
    (LauncherFacts("role", "deploy", "/", web_identity="arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com"),
     "ci-web-identity-role"),
    (LauncherFacts("service-linked-role", "AWSServiceRoleForAutoScaling", "/aws-service-role/autoscaling.amazonaws.com/"),
     "autoscaling-service-linked-role"),
    (LauncherFacts("service-linked-role", "AWSServiceRoleForEC2Fleet", "/aws-service-role/ec2fleet.amazonaws.com/"),
     "fleet-service-linked-role"),
    (LauncherFacts("role", "aws-ec2-spot-fleet-tagging-role", "/"), "spot-fleet-role"),
    (LauncherFacts("role", "AWSBatchServiceRole", "/service-role/", invoked_by="batch.amazonaws.com"),
     "batch-service-role"),
    (LauncherFacts("role", "AWSBackupDefaultServiceRole", "/service-role/"), "backup-service-role"),
    (LauncherFacts("service-linked-role", "AWSServiceRoleForBatch", "/aws-service-role/batch.amazonaws.com/"),
     "batch-service-linked-role"),
    (LauncherFacts("service-linked-role", "AWSServiceRoleForImageBuilder",
                   "/aws-service-role/imagebuilder.amazonaws.com/"), "image-builder-service-linked-role"),
    (LauncherFacts("role", "SCEC2LaunchRole", "/", invoked_by="cloudformation.amazonaws.com"),
     "service-catalog-launch-role"),
    (LauncherFacts("role", "SC-launch", "/", invoked_by="servicecatalog.amazonaws.com"), "service-catalog-launch-role"),
    (LauncherFacts("role", "EC2InstanceProfileForImageBuilder", "/"), "image-builder-role"),
    (LauncherFacts("role", "instance-scheduler", "/service-role/", user_agent="Boto3 exec-env/AWS_Lambda_python3.12"),
     "scheduler-role"),
    (LauncherFacts("sso-role", "AWSReservedSSO_Admin_0123", "/aws-reserved/sso.amazonaws.com/"),
     "person-identity-center"),
    (LauncherFacts("user", "build", user_agent="APN/1.0 HashiCorp/1.0 Packer/1.10.2"), "automation"),
    (LauncherFacts("user", "alice", user_agent="aws-cli/2.15.30"), "person"),
    (LauncherFacts("root", "root"), "root"),
    (LauncherFacts("role", "whatever", "/"), "role"),
]


@pytest.mark.parametrize("facts, expected", FACTS, ids=[e for _, e in FACTS])
def test_launcher_class_from_the_facts(facts, expected):
    found = classify(facts)
    assert found.id == expected
    assert facts.name in found.label


def test_every_class_has_a_fix_and_an_owner_and_is_reachable():
    assert {e for _, e in FACTS} | {"spot-service-linked-role", "eks-cluster-role", "emr-service-role",
                                     "service-linked-role", "service-role"} == set(class_ids())
    for entry in catalogue():
        assert entry.fix in ("identity-policy", "key-policy", "grant") and entry.fix_owner and entry.when


# ---- launch paths, as CloudTrail records them ---------------------------------------------------------------------

FLEET_RECORD = {
    "eventName": "CreateFleet",
    "requestParameters": {"CreateFleetRequest": {"Type": "instant", "LaunchTemplateConfigs": {
        "LaunchTemplateSpecification": {"LaunchTemplateId": "lt-0123456789abcdef0", "Version": "4"}, "tag": 1}}},
    "responseElements": {"CreateFleetResponse": {
        "fleetId": "fleet-0a1b2c3d-0000-1111-2222-333344445555",
        "errorSet": {"item": [{"errorCode": "InsufficientInstanceCapacity",
                               "errorMessage": "We currently do not have sufficient m6i.xlarge capacity"}]},
        "fleetInstanceSet": {"item": [{"instanceIds": {"item": ["i-0123456789abcdef0", "i-0fedcba9876543210"]},
                                       "lifecycle": "on-demand"}]}}},
}


def test_create_fleet_record_names_its_instances_template_and_errors():
    from kit.frames.launch_paths import fleet_error_kind, fleet_errors, fleet_instance_ids, fleet_type, \
        launch_template_of, record_names_instance

    assert fleet_instance_ids(FLEET_RECORD) == ["i-0123456789abcdef0", "i-0fedcba9876543210"]
    assert record_names_instance(FLEET_RECORD, "i-0fedcba9876543210")
    assert not record_names_instance(FLEET_RECORD, "i-0aaaaaaaaaaaaaaaa")
    assert fleet_errors(FLEET_RECORD) == [{"code": "InsufficientInstanceCapacity",
                                           "message": "We currently do not have sufficient m6i.xlarge capacity",
                                           "instance_type": "", "subnet_id": "", "kind": "capacity",
                                           "kind_words": fleet_error_kind("InsufficientInstanceCapacity").words}]
    assert fleet_type(FLEET_RECORD) == "instant"
    assert launch_paths()["CreateFleet"].launching_role(FLEET_RECORD) is None  # instant: the caller launches
    maintain = {**FLEET_RECORD, "requestParameters": {"CreateFleetRequest": {"Type": "maintain"}}}
    assert launch_paths()["CreateFleet"].launching_role(maintain).role == "AWSServiceRoleForEC2Fleet"
    assert launch_template_of(FLEET_RECORD) == ("lt-0123456789abcdef0", "4")


def test_spot_records_are_tied_by_the_request_ids_the_instance_carries():
    from kit.frames.launch_paths import instance_links, record_names_instance, request_mappings

    instance = {"InstanceId": "i-0123456789abcdef0", "SpotInstanceRequestId": "sir-7c2b1a9e",
                "Tags": [{"Key": "aws:ec2spot:fleet-request-id", "Value": "sfr-11112222-3333-4444-5555-666677778888"}]}
    links = instance_links(instance)
    spot = {"eventName": "RequestSpotInstances",
            "requestParameters": {"launchSpecification": {"blockDeviceMapping": {"items": [
                {"deviceName": "/dev/xvda", "ebs": {"encrypted": True, "kmsKeyId": "alias/spot"}}]}}},
            "responseElements": {"spotInstanceRequestSet": {"items": [{"spotInstanceRequestId": "sir-7c2b1a9e"}]}}}
    other = json.loads(json.dumps(spot).replace("sir-7c2b1a9e", "sir-00000000"))
    assert record_names_instance(spot, "i-0123456789abcdef0", links)
    assert not record_names_instance(other, "i-0123456789abcdef0", links)
    assert not record_names_instance(spot, "i-0123456789abcdef0")  # without the instance's links: not tied
    assert request_mappings(spot)[0]["ebs"]["kmsKeyId"] == "alias/spot"
    fleet = {"eventName": "RequestSpotFleet",
             "responseElements": {"RequestSpotFleetResponse": {
                 "spotFleetRequestId": "sfr-11112222-3333-4444-5555-666677778888"}}}
    assert record_names_instance(fleet, "i-0123456789abcdef0", links)
    assert launch_paths()["RequestSpotFleet"].launching_role(fleet).role == "AWSServiceRoleForEC2SpotFleet"
    spec = {"ImageId": "ami-0123456789abcdef0", "InstanceType": "c6i.2xlarge", "tag": 1,
            "BlockDeviceMapping": [{"DeviceName": "/dev/xvda", "tag": 1, "Ebs": {
                "VolumeSize": 100, "Encrypted": True, "KmsKeyId": "alias/render", "DeleteOnTermination": True}}]}
    fleet["requestParameters"] = {"RequestSpotFleetRequest": {"SpotFleetRequestConfig": {
        "IamFleetRole": "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role",
        "LaunchSpecifications": spec}}}
    assert request_mappings(fleet) == [{"deviceName": "/dev/xvda", "ebs": {"kmsKeyId": "alias/render",
                                                                           "encrypted": True, "volumeSize": 100}}]
    spec["BlockDeviceMapping"] = spec["BlockDeviceMapping"][0]  # one member: recorded as an object
    assert request_mappings(fleet)[0]["ebs"]["kmsKeyId"] == "alias/render"


ERRORS = [
    ("InsufficientInstanceCapacity", "We currently do not have sufficient m6i.xlarge capacity in the Availability "
     "Zone you requested (eu-west-1a).", "capacity"),
    ("Client.InvalidKMSKey.InvalidState", "The KMS key provided is in an incorrect state", "kms"),
    ("InvalidParameterValue", "The key arn:aws:kms:eu-west-1:123456789012:key/x is pending deletion", "kms"),
    ("SpotMaxPriceTooLow", "Your Spot request price of 0.01 is lower than the minimum required Spot request "
     "fulfillment price of 0.02.", "spot-price"),
    ("VcpuLimitExceeded", "You have requested more vCPU capacity than your current vCPU limit of 32 allows",
     "quota"),
    ("InvalidLaunchTemplateConfiguration", "The launch template is invalid", "configuration"),
    ("UnauthorizedOperation", "You are not authorized to perform this operation.", "other"),
]


@pytest.mark.parametrize("code, message, kind", ERRORS, ids=[e[0] for e in ERRORS])
def test_fleet_errors_are_told_apart_by_kind(code, message, kind):
    from kit.frames.launch_paths import fleet_error_kind

    found = fleet_error_kind(code, message)
    assert found.id == kind and found.kms == (kind == "kms")
    assert ("not a KMS problem" in found.words) == (kind not in ("kms", "other"))


def _fleet(instance_ids: list[str], errors: list[tuple[str, str, str]]) -> dict:
    items = [{"errorCode": c, "errorMessage": m, "launchTemplateAndOverrides": {"overrides": {"instanceType": t}}}
             for c, m, t in errors]
    return {"eventName": "CreateFleet", "requestParameters": {"CreateFleetRequest": {"Type": "instant"}},
            "responseElements": {"CreateFleetResponse": {
                "fleetId": "fleet-0a1b2c3d-0000-1111-2222-333344445555", "errorSet": {"item": items},
                "fleetInstanceSet": {"item": [{"instanceIds": {"item": instance_ids}}]} if instance_ids else ""}}}


def test_the_verdict_note_tells_a_capacity_error_from_a_kms_error():
    from kit.diagnose.fleet_errors import fleet_error_note

    capacity = _fleet(["i-0123456789abcdef0"], [("InsufficientInstanceCapacity", "no m6i capacity", "m6i.xlarge")])
    note = fleet_error_note(capacity, "i-0123456789abcdef0")
    assert "InsufficientInstanceCapacity for m6i.xlarge" in note and "No KMS refusal among them" in note
    kms = _fleet(["i-0123456789abcdef0"], [("Client.InvalidKMSKey.InvalidState", "The KMS key provided is in an "
                                                                                 "incorrect state", "m5.xlarge")])
    note = fleet_error_note(kms, "i-0123456789abcdef0")
    assert "a KMS key refusal" in note and "No KMS refusal" not in note
    nothing = _fleet([], [("InsufficientInstanceCapacity", "no capacity", "m6i.xlarge")])
    assert "no instance id" in fleet_error_note(nothing, "i-0fedcba9876543210")
    assert fleet_error_note(_fleet(["i-0123456789abcdef0"], []), "i-0123456789abcdef0") is None
    assert fleet_error_note({"eventName": "RunInstances"}, "i-0123456789abcdef0") is None
