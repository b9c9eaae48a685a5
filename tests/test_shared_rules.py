"""Rules that have one home and several users, checked against the simulated account over HTTP:
"failed to launch" (the notebook's instance picker and `kit scan`), the keys chosen from KMS events (live
collection and the cli: checklist), and parameters as collection options (notebook, batch, `kit collect`)."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kit.batch.scan import ScanRequest, launch_failure, scan
from kit.cli import build_parser
from kit.collect.cli_commands import folder_facts
from kit.collect.options import collect_options, parameters_from_args
from kit.collect.principal import keys_in_kms_events, launching_principal, records_from_lookup
from kit.diagnose.state_reason import FAILED_LAUNCH_STATES, failed_to_launch, read_instance_state
from kit.params import validate
from kit.notebook.instances import failed_from_instances, failed_instances

NOT_FAILED = ("not-a-launch-failure", "no-failure")
# every EC2 instance state, with its code
STATES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}


def _instance(sim_client, seeded) -> dict:
    """The seeded instance as describe-instances returns it (the shape both callers read)."""
    page = sim_client("ec2", region=seeded.region).describe_instances(InstanceIds=[seeded.instance_id])
    return page["Reservations"][0]["Instances"][0]


# -- failed to launch ----------------------------------------------------------------------------------

def test_picker_and_scan_list_the_same_failed_launches(sim, sim_env) -> None:
    seed = sim.scenario("seed")
    picked = set(failed_instances(seed.region)["instance_id"])
    scanned = {f.instance_id for f in scan(ScanRequest.from_args(regions=[seed.region])).instances}
    expected = {s.instance_id for s in sim.seeded if s.region == seed.region and s.account_id == seed.account_id
                and s.expected["cause"] not in NOT_FAILED}
    assert picked == scanned
    assert expected and expected <= picked
    lookalikes = {s.instance_id for s in sim.seeded if s.region == seed.region and s.expected["cause"] in NOT_FAILED}
    assert not lookalikes & picked


@pytest.mark.parametrize("state", sorted(STATES))
def test_picker_and_scan_agree_on_each_state_of_a_kms_failure_and_a_user_stop(sim, sim_client, state) -> None:
    """The simulator ends a launch stopped or terminated; the states in between are the same describe-instances
    Instance with another State. A failure in progress (stopping, shutting-down) is a failed launch for both."""
    for name, failed in (("seed", state in ("stopping", "stopped", "shutting-down", "terminated")),
                         ("user-stop", False)):
        instance = copy.deepcopy(_instance(sim_client, sim.scenario(name)))
        instance["State"] = {"Code": STATES[state], "Name": state}
        in_picker = instance["InstanceId"] in set(failed_from_instances([instance])["instance_id"])
        in_scan = launch_failure(instance) is not None
        assert (in_picker, in_scan, failed_to_launch(read_instance_state(instance))) == (failed, failed, failed), name


def test_both_callers_ask_ec2_for_the_same_states() -> None:
    assert set(FAILED_LAUNCH_STATES) == {"stopping", "stopped", "shutting-down", "terminated"}
    for module in ("kit/notebook/instances.py", "kit/batch/scan.py"):
        text = (Path(__file__).parents[1] / module).read_text(encoding="utf-8")
        assert '"Values": list(FAILED_LAUNCH_STATES)' in text, module


# -- keys from KMS events -------------------------------------------------------------------------------

def _events(sim_client, seeded, **attribute) -> list[dict]:
    """LookupEvents of the launch's hour in its Region (all pages), as the CLI prints them."""
    start = (seeded.launched_at or datetime.now(timezone.utc)) - timedelta(minutes=30)
    pages = sim_client("cloudtrail", region=seeded.region).get_paginator("lookup_events").paginate(
        LookupAttributes=[attribute], StartTime=start, EndTime=start + timedelta(hours=2))
    return [json.loads(json.dumps(e, default=str)) for page in pages for e in page["Events"]]


def _kms_scenarios(sim) -> list:
    """Seeded KMS failures of the account sim_client reads (other tests seed into another account too)."""
    account = sim.scenario("seed").account_id
    return [s for s in sim.seeded if s.expected.get("key_arn") and s.expected["cause"] not in NOT_FAILED
            and s.region == s.expected["key_arn"].split(":")[3] and s.account_id == account
            and _trail_records_kms(s.name)]


def _trail_records_kms(name: str) -> bool:
    """False for a scenario whose trail leaves KMS management events out (nothing to read there)."""
    from kit.simulate.catalogue import scenario_named

    trail = scenario_named(name).spec.get("trail") or {}
    return "kms.amazonaws.com" not in (trail.get("exclude_management_event_sources") or [])


def test_kms_events_name_the_launchs_key_and_no_other_launchs(sim, sim_client) -> None:
    """The Region's KMS events hold other launches' grants too; the rule keeps this launch's key only, and the
    cli: checklist (a folder with nothing else naming a key) chooses what live collection chooses."""
    scenarios = _kms_scenarios(sim)
    assert len(scenarios) >= 3
    for seeded in scenarios:
        kms = _events(sim_client, seeded, AttributeKey="EventSource", AttributeValue="kms.amazonaws.com")
        own = _events(sim_client, seeded, AttributeKey="ResourceName", AttributeValue=seeded.instance_id)
        records = records_from_lookup({"Events": kms + own})
        live = keys_in_kms_events(records, seeded.instance_id, launching_principal(records, seeded.instance_id))
        assert seeded.expected["key_arn"] in live and set(live) <= set(seeded.key_arns.values()), seeded.name
        reservations = sim_client("ec2", region=seeded.region).describe_instances(
            InstanceIds=[seeded.instance_id])["Reservations"]
        folder = {"ec2.describe-instances.json": json.loads(json.dumps({"Reservations": reservations}, default=str)),
                  "cloudtrail.lookup-events.kms.json": {"Events": kms}}
        assert folder_facts(folder, seeded.instance_id, seeded.region)["key_arns"] == live, seeded.name


def test_a_data_key_ec2_made_for_the_launcher_names_the_key_for_live_and_cli(sim, sim_client) -> None:
    """EC2's GenerateDataKeyWithoutPlaintext for the launcher names the volume, not the instance (the shape of
    the simulator's CreateGrant for the same launch, as EC2 makes it). Both choose its key."""
    seeded = sim.scenario("seed")
    kms = _events(sim_client, seeded, AttributeKey="EventSource", AttributeValue="kms.amazonaws.com")
    own = _events(sim_client, seeded, AttributeKey="ResourceName", AttributeValue=seeded.instance_id)
    grant = next(r for r in records_from_lookup({"Events": kms}) if r.get("eventName") == "CreateGrant"
                 and seeded.instance_id in json.dumps(r.get("requestParameters")))
    data_key = dict(grant, eventName="GenerateDataKeyWithoutPlaintext", eventID="0-data-key",
                    requestParameters={"keyId": grant["requestParameters"]["keyId"], "numberOfBytes": 64,
                                       "encryptionContext": {"aws:ebs:id": "vol-0123456789abcdef0"}},
                    responseElements=None)
    assert seeded.instance_id not in json.dumps(data_key)
    records = records_from_lookup({"Events": own}) + [data_key]
    principal = launching_principal(records, seeded.instance_id)
    assert principal is not None
    live = keys_in_kms_events(records, seeded.instance_id, principal)
    assert live == [seeded.expected["key_arn"]]
    event = {"EventId": "0-data-key", "EventName": data_key["eventName"], "CloudTrailEvent": json.dumps(data_key)}
    reservations = sim_client("ec2", region=seeded.region).describe_instances(
        InstanceIds=[seeded.instance_id])["Reservations"]
    folder = {"ec2.describe-instances.json": json.loads(json.dumps({"Reservations": reservations}, default=str)),
              f"cloudtrail.lookup-events.{seeded.instance_id}.json": {"Events": own},
              "cloudtrail.lookup-events.kms.json": {"Events": [event]}}
    _drop_requested_keys(folder, seeded.instance_id)
    assert folder_facts(folder, seeded.instance_id, seeded.region)["key_arns"] == live


def _drop_requested_keys(folder: dict, instance_id: str) -> None:
    """Keep the launch request from naming the key, so only the KMS event can."""
    for event in folder[f"cloudtrail.lookup-events.{instance_id}.json"]["Events"]:
        record = json.loads(event["CloudTrailEvent"])
        for mapping in ((record.get("requestParameters") or {}).get("blockDeviceMapping") or {}).get("items") or []:
            ((mapping or {}).get("ebs") or {}).pop("kmsKeyId", None)
        event["CloudTrailEvent"] = json.dumps(record)


# -- parameters as collection options -------------------------------------------------------------------

def test_kit_collect_options_are_the_parameters_translation(tmp_path) -> None:
    args = build_parser().parse_args(["collect", "--instance-id", "i-0123456789abcdef0", "--region", "eu-west-1",
                                      "--out", str(tmp_path), "--window-before", "120",
                                      "--cloudtrail-source", str(tmp_path)])
    from_cli = collect_options(parameters_from_args(args))
    from_params = collect_options(validate({"instance_id": "i-0123456789abcdef0", "region": "eu-west-1",
                                            "window_before_minutes": 120, "cloudtrail_source": str(tmp_path)}))
    assert from_cli == from_params
    assert (from_cli.window.before_minutes, from_cli.window.after_minutes) == (120, 30)
    assert from_cli.load_options() == {"window": from_cli.window, "cloudtrail_source": str(tmp_path)}
    bundle = collect_options(validate({"source": f"bundle:{tmp_path}", "profile": "reader"}))
    assert "session" not in bundle.load_options() and bundle.profile == "reader"


def test_a_role_in_the_parameters_is_assumed_for_live_collection(sim, sim_env) -> None:
    """The notebook loads with `load_options()`; kit batch's shared evidence with `session(session_name=...)`."""
    seed = sim.scenario("seed")
    params = validate({"instance_id": seed.instance_id, "region": seed.region, "window_before_minutes": 90,
                       "role_arn": "arn:aws:iam::123456789012:role/OrganizationAccountAccessRole"})
    options = collect_options(params)
    loaded = options.load_options()
    assert loaded["window"].before_minutes == 90 and "cloudtrail_source" not in loaded
    for session in (loaded["session"], options.session(session_name="kit-batch")):
        identity = session.client("sts", region_name=seed.region).get_caller_identity()
        assert ":assumed-role/OrganizationAccountAccessRole/" in identity["Arn"]


def test_kit_batch_reads_only_options_the_cli_defines() -> None:
    text = (Path(__file__).parents[1] / "kit/batch/command.py").read_text(encoding="utf-8")
    read = set(re.findall(r"\bargs\.(\w+)", text))
    parser = build_parser()
    defined = set(vars(parser.parse_args(["batch", "p.yaml", "--out", "x"]))) | set(
        vars(parser.parse_args(["scan", "--region", "eu-west-1", "--out", "x"])))
    assert read and read <= defined
    assert "getattr(args" not in text
