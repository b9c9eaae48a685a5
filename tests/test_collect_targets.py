"""--asg, --fleet-id and --error-text: resolved to the seeded failed launches over real HTTP (the simulated
account), and `kit investigate` run from them."""

from __future__ import annotations

import json

import pytest
import yaml

from kit.cli import main
from kit.collect.targets import Resolution, read_error_text, resolve
from kit.errors import BadInput
from kit.params import validate
from kit.report.targets import failed_launch, run_entry_point

TERRAFORM = ("Error: waiting for EC2 Instance ({instance}) create: unexpected state 'terminated', wanted target "
             "'running'. last error: Client.InternalError: Client error on launch")
ASG_MESSAGE = ("Instance became unhealthy while waiting for instance to be in InService state. Termination Reason: "
               "Client.InternalError: Client error on launch")
CONSOLE = "One or more of the attached Amazon EBS volumes are encrypted with an inaccessible AWS KMS key."


def test_asg_resolves_to_the_groups_failed_launches(sim, sim_env):
    seeded = sim.scenario("autoscaling-slr")
    found = resolve(seeded.region, asg="web-asg", failed=failed_launch)
    assert seeded.instance_id in found.instance_ids
    assert all(i.startswith("i-") for i in found.instance_ids)
    assert any("DescribeScalingActivities" in c["operation"] for c in found.calls)


def test_an_asg_with_several_failures_becomes_a_batch_of_parameter_files(sim, sim_env, tmp_path):
    more = [sim.seed("autoscaling-slr") for _ in range(2)]
    params = validate({"asg": "web-asg", "region": more[0].region, "interactive": False}, require_target=True)
    assert run_entry_point(params, tmp_path, batch=None) == 0
    files = sorted((tmp_path / "params").glob("*.yaml"))
    ids = {yaml.safe_load(f.read_text())["instance_id"] for f in files}
    assert {s.instance_id for s in more} | {sim.scenario("autoscaling-slr").instance_id} <= ids
    for file in files:  # each is a parameter file kit batch accepts
        assert validate(yaml.safe_load(file.read_text()), require_target=True).asg == ""
    resolution = json.loads((tmp_path / "resolution.json").read_text())
    assert resolution["entry"] == "asg" and set(resolution["instance_ids"]) == ids


def test_fleet_id_resolves_to_the_fleets_instance(sim, sim_env, sim_client):
    seeded = sim.scenario("karpenter-create-fleet")
    instance = sim_client("ec2", region=seeded.region).describe_instances(
        InstanceIds=[seeded.instance_id])["Reservations"][0]["Instances"][0]
    fleet_id = {t["Key"]: t["Value"] for t in instance["Tags"]}["aws:ec2:fleet-id"]
    found = resolve(seeded.region, fleet_id=fleet_id, failed=failed_launch)
    assert found.instance_ids == [seeded.instance_id]


@pytest.mark.parametrize("wording", ["terraform", "asg", "console", "old"])
def test_error_text_resolves_to_failed_instances(sim, sim_env, wording):
    seeded = sim.scenario("ci-web-identity")
    text = {"terraform": TERRAFORM.format(instance=seeded.instance_id), "asg": ASG_MESSAGE, "console": CONSOLE,
            "old": "Client.InternalError: Client error on launch"}[wording]
    found = resolve(seeded.region, error_text=text, failed=failed_launch)
    if wording == "terraform":
        assert found.instance_ids == [seeded.instance_id]  # the text names it
    else:  # the Region's instances that failed with the state reason the wording describes
        assert seeded.instance_id in found.instance_ids
        assert sim.scenario("healthy-running").instance_id not in found.instance_ids
    assert found.wordings


def test_error_text_wordings_are_recognised():
    ids, matched = read_error_text(TERRAFORM.format(instance="i-0123456789abcdef0"))
    assert ids == ["i-0123456789abcdef0"]
    assert {"terraform-unexpected-state", "client-internal-error"} <= {w.id for w in matched}
    assert {w.id for w in read_error_text(ASG_MESSAGE)[1]} >= {"autoscaling-termination-reason"}
    assert {w.id for w in read_error_text(CONSOLE)[1]} == {"console-inaccessible-kms-key"}
    with pytest.raises(BadInput) as refused:
        read_error_text("the build failed, please help")
    assert refused.value.field == "--error-text"


@pytest.mark.parametrize("values, field", [
    ({"asg": "x" * 256}, "asg"),
    ({"fleet_id": "fleet-nope"}, "fleet_id"),
    ({"asg": "web", "fleet_id": "sfr-0123456789ab0123456789ab0123456789ab"}, "fleet_id"),
    ({"asg": "web", "instance_id": "i-0123456789abcdef0"}, "asg"),
])
def test_bad_entry_points_are_bad_input_naming_the_parameter(values, field):
    with pytest.raises(BadInput) as refused:
        validate({"region": "eu-west-1", **values})
    assert refused.value.field == field


def test_kit_investigate_from_a_fleet_id_writes_the_report(sim, sim_env, sim_client, tmp_path, capsys):
    seeded = sim.scenario("karpenter-create-fleet")
    instance = sim_client("ec2", region=seeded.region).describe_instances(
        InstanceIds=[seeded.instance_id])["Reservations"][0]["Instances"][0]
    fleet_id = {t["Key"]: t["Value"] for t in instance["Tags"]}["aws:ec2:fleet-id"]
    code = main(["investigate", "--fleet-id", fleet_id, "--region", seeded.region, "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    findings = json.loads((tmp_path / "findings.json").read_text())
    assert findings["instance_id"] == seeded.instance_id
    assert findings["verdict"]["launcher_class"] == "karpenter-controller-role"
    assert "through CreateFleet" in findings["verdict"]["launched_by"]


def test_kit_investigate_without_a_failed_instance_says_so(sim, sim_env, tmp_path, capsys):
    code = main(["investigate", "--asg", "no-such-group", "--region", "eu-west-1", "--out", str(tmp_path)])
    assert code == 1
    assert "no instance that failed to launch" in capsys.readouterr().err


def _fleets_without_instances(sim_client, seeded) -> list[dict]:
    """The CreateFleet records of the scenario's launcher that launched nothing (read as a client would)."""
    events = sim_client("cloudtrail", region=seeded.region).lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateFleet"}])["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    return [r for r in records if r["userIdentity"]["arn"].split("/")[1] == seeded.principal_arn.rsplit("/", 1)[1]
            and not r["responseElements"]["CreateFleetResponse"]["fleetInstanceSet"]]


def test_a_fleet_that_launched_nothing_resolves_to_its_error_set(sim, sim_env, sim_client):
    seeded = sim.scenario("fleet-capacity-and-kms")
    record = _fleets_without_instances(sim_client, seeded)[0]
    fleet_id = record["responseElements"]["CreateFleetResponse"]["fleetId"]
    found = resolve(seeded.region, fleet_id=fleet_id, failed=failed_launch)
    assert found.instance_ids == [] and found.fleet_event_id == record["eventID"]
    assert [(e["code"], e["instance_type"], e["kind"]) for e in found.fleet_errors] == [
        ("InsufficientInstanceCapacity", "m6i.2xlarge", "capacity"),
        ("InsufficientInstanceCapacity", "r6i.2xlarge", "capacity")]
    assert "launched no instance" in found.fleet_verdict and "No KMS refusal" in found.fleet_verdict
    assert any(c["operation"].endswith("LookupEvents") for c in found.calls)


def test_the_fleet_that_launched_the_failed_node_resolves_to_it_with_its_errors(sim, sim_env, sim_client):
    seeded = sim.scenario("fleet-capacity-and-kms")
    instance = sim_client("ec2", region=seeded.region).describe_instances(
        InstanceIds=[seeded.instance_id])["Reservations"][0]["Instances"][0]
    fleet_id = {t["Key"]: t["Value"] for t in instance["Tags"]}["aws:ec2:fleet-id"]
    found = resolve(seeded.region, fleet_id=fleet_id, failed=failed_launch)
    assert found.instance_ids == [seeded.instance_id] and found.fleet_verdict is None
    assert [(e["code"], e["instance_type"]) for e in found.fleet_errors] == [
        ("InsufficientInstanceCapacity", "c6i.2xlarge")]


def test_kit_investigate_of_a_fleet_that_launched_nothing_answers_with_its_errors(sim, sim_env, sim_client,
                                                                                   tmp_path, capsys):
    seeded = sim.scenario("fleet-capacity-and-kms")
    fleet_id = _fleets_without_instances(sim_client, seeded)[0]["responseElements"]["CreateFleetResponse"]["fleetId"]
    code = main(["investigate", "--fleet-id", fleet_id, "--region", seeded.region, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"Fleet {fleet_id} launched no instance" in err and "InsufficientInstanceCapacity for m6i.2xlarge" in err
    resolution = json.loads((tmp_path / "resolution.json").read_text())
    assert resolution["instance_ids"] == [] and resolution["fleet_verdict"] in err
    assert not (tmp_path / "findings.json").exists()


def test_a_fleet_error_the_kit_does_not_classify_never_rules_kms_out():
    found = Resolution("fleet-id", "fleet-0123", "eu-west-1", fleet_errors=[
        {"code": "InsufficientInstanceCapacity", "kind": "capacity", "kind_words": "no capacity"},
        {"code": "Client.InternalError", "kind": "other", "kind_words": "an error the kit does not classify"}])
    assert "launched no instance" in found.fleet_verdict
    assert "No KMS refusal" not in found.fleet_verdict and "read their messages" in found.fleet_verdict
