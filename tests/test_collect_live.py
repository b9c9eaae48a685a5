"""Live collection against the simulated account over real HTTP: every scenario collects, in CLI shape."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from kit.collect.cloudtrail_window import CollectWindow
from kit.collect.live import collect_live
from kit.collect.readonly import allowed_operations
from kit.errors import BadInput
from kit.evidence import Evidence
from kit.simulate.catalogue import load_catalogue
from tests.call_budget import assert_within_budget

AWSCLI_DATA = "AWS_DATA_PATH"  # awscli sets it once, when imported: an environment reset must keep it

SCENARIOS = [s.name for s in load_catalogue()]
# error codes a healthy collection may still meet: denials, absent things, and the deliberate skips
EXPLAINED_ERRORS = {"CrossAccountKey", "AWSOrganizationsNotInUseException", "AccessDenied", "AccessDeniedException",
                    "NotFoundException", "InvalidSnapshot.NotFound", "InvalidVolume.NotFound", "InvalidAMIID.NotFound",
                    "NoLaunchEvent", "KMSInvalidStateException", "UnauthorizedOperation",
                    "ManagementAccountNotRead"}  # SCP changes: recorded in the management account, not read


def keys_named(document: Any, name: str) -> bool:
    if isinstance(document, dict):
        return name in document or any(keys_named(v, name) for v in document.values())
    if isinstance(document, list):
        return any(keys_named(v, name) for v in document)
    return False


@pytest.fixture(scope="module")
def collected(sim) -> dict[str, Evidence]:
    """One live collection per seeded scenario (module scope: collected once)."""
    import os

    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_") and k != AWSCLI_DATA}
    for name in saved:
        del os.environ[name]
    os.environ.update(sim.environ())
    try:
        # the first seeded instance of each scenario: other tests in this process may seed more copies elsewhere
        return {name: collect_live(sim.scenario(name).instance_id, sim.scenario(name).region) for name in SCENARIOS}
    finally:
        for name in [n for n in os.environ if n.startswith("AWS_") and n != AWSCLI_DATA]:
            del os.environ[name]
        os.environ.update(saved)


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_collects_cli_shaped_documents(sim, collected, name):
    seeded = sim.scenario(name)
    evidence = collected[name]
    assert (evidence.instance_id, evidence.region, evidence.source) == (seeded.instance_id, seeded.region, "live")
    reservations = evidence.documents["ec2.describe-instances.json"]["Reservations"]
    assert [i["InstanceId"] for r in reservations for i in r["Instances"]] == [seeded.instance_id]
    json.dumps(evidence.documents)  # plain JSON: every datetime became a string
    assert not keys_named(evidence.documents, "ResponseMetadata")
    assert evidence.collector_arn and evidence.collector_arn.startswith("arn:aws:")
    assert evidence.documents["sts.get-caller-identity.json"]["Arn"] == evidence.collector_arn
    allowed = allowed_operations()
    assert evidence.calls and all(call["operation"] in allowed for call in evidence.calls)
    assert all(set(call) == {"operation", "params", "at"} for call in evidence.calls)
    for gap in evidence.gaps:
        assert gap.error in EXPLAINED_ERRORS or gap.error == "PageLimitReached", gap
        assert gap.next_step and gap.next_step.startswith("aws ")
    key_arn = seeded.expected.get("key_arn")
    if key_arn:
        key_id = key_arn.rsplit("/", 1)[-1]
        described = f"kms.describe-key.{key_id}.json" in evidence.documents
        refused = any(g.call == "kms:DescribeKey" and key_arn in g.next_step for g in evidence.gaps)
        assert described or refused
        lookups = {f"cloudtrail.lookup-events.{key_id}.json", "cloudtrail.lookup-events.kms.json"}
        assert lookups & set(evidence.documents)
    principal = seeded.expected.get("principal_arn")
    if principal:
        assert evidence.parameters["launching_principal"]["arn"] == principal


def test_seed_evidence_is_what_the_article_needs(sim, collected):
    seed = sim.scenario("seed")
    evidence = collected["seed"]
    key_id = seed.expected["key_arn"].rsplit("/", 1)[-1]
    [volume] = evidence.documents["ec2.describe-volumes.json"]["Volumes"]
    assert (volume["Encrypted"], volume["KmsKeyId"]) == (True, seed.expected["key_arn"])
    assert isinstance(volume["CreateTime"], str)
    policy = evidence.documents[f"kms.get-key-policy.{key_id}.json"]
    assert isinstance(policy["Policy"], str) and json.loads(policy["Policy"])["Statement"]
    assert evidence.documents[f"kms.describe-key.{key_id}.json"]["KeyMetadata"]["Arn"] == seed.expected["key_arn"]
    assert "Grants" in evidence.documents[f"kms.list-grants.{key_id}.json"]
    launches = evidence.documents[f"cloudtrail.lookup-events.{seed.instance_id}.json"]["Events"]
    assert "StartInstances" in {e["EventName"] for e in launches}
    kms_events = evidence.documents[f"cloudtrail.lookup-events.{key_id}.json"]["Events"]
    denied = [json.loads(e["CloudTrailEvent"]) for e in kms_events if e["EventName"] == "CreateGrant"]
    assert any(r.get("errorCode") and "kms:CreateGrant" in r.get("errorMessage", "") for r in denied)
    assert all(isinstance(e["EventTime"], str) for e in launches + kms_events)
    details = evidence.documents["iam.get-account-authorization-details.json"]
    assert "test" in {u["UserName"] for u in details["UserDetailList"]}
    assert evidence.parameters["launching_principal"]["kind"] == "user"


def test_every_lookup_is_bounded_in_time_and_pages(collected):
    for evidence in collected.values():
        lookups = [c for c in evidence.calls if c["operation"] == "cloudtrail:LookupEvents"]
        assert lookups
        for call in lookups:
            assert call["params"]["StartTime"] and call["params"]["EndTime"]
            assert len(call["params"]["LookupAttributes"]) == 1
            assert call["params"]["MaxResults"] == 50


def test_the_seed_fits_the_call_budget(collected, sim, sim_client):
    # the look-back for changes has its own stated budget (tests/test_collect_budget.py)
    since = (collected["seed"].parameters.get("change_window") or {}).get("start")
    calls = [c for c in collected["seed"].calls if not (c["operation"] == "cloudtrail:LookupEvents"
                                                         and c["params"].get("StartTime") == since)]
    assert_within_budget(calls, sim_client("organizations", region="us-east-1"), sim.scenario("seed").account_id)
    assert sum(c["operation"] == "cloudtrail:LookupEvents" for c in calls) <= 3


def test_a_wider_window_is_recorded_and_reaches_further_back(sim, sim_env):
    seed = sim.scenario("seed")
    evidence = collect_live(seed.instance_id, seed.region, window=CollectWindow(before_minutes=600, max_pages=1))
    assert evidence.parameters["window"]["before_minutes"] == 600
    window = evidence.parameters["cloudtrail_window"]
    lookup = next(c for c in evidence.calls if c["operation"] == "cloudtrail:LookupEvents")
    assert lookup["params"]["StartTime"] == window["start"]


def test_an_unknown_instance_is_a_gap_not_a_crash(sim_env):
    evidence = collect_live("i-0000000000000dead", "eu-west-1")
    assert any(g.call == "ec2:DescribeInstances" for g in evidence.gaps)
    assert "sts.get-caller-identity.json" in evidence.documents


@pytest.mark.parametrize("instance_id, region, field", [("vol-1234", "eu-west-1", "instance_id"),
                                                         ("i-0123456789abcdef0", "Europe", "region")])
def test_bad_target_is_bad_input_before_any_call(instance_id, region, field):
    with pytest.raises(BadInput) as error:
        collect_live(instance_id, region)
    assert error.value.field == field


def test_role_sessions_get_the_event_that_created_them(collected):
    sessions = [e for e in collected.values() if (e.parameters["launching_principal"] or {}).get("session_arn")]
    assert sessions  # role, SSO role and service-linked role launches are in the catalogue
    for evidence in sessions:
        principal = evidence.parameters["launching_principal"]
        assert f"cloudtrail.lookup-events.{principal['name']}.json" in evidence.documents
        [call] = [c for c in evidence.calls if c["operation"] == "cloudtrail:LookupEvents"
                  and c["params"]["LookupAttributes"][0]["AttributeValue"] == principal["arn"]]
        created = datetime.fromisoformat(principal["session_created"].replace("Z", "+00:00"))
        start, end = (datetime.fromisoformat(call["params"][k]) for k in ("StartTime", "EndTime"))
        assert start <= created <= end and end - start <= timedelta(minutes=4)
    users = [e for e in collected.values() if (e.parameters["launching_principal"] or {}).get("kind") == "user"]
    assert users and not any(f"cloudtrail.lookup-events.{e.parameters['launching_principal']['name']}.json"
                             in e.documents for e in users)
