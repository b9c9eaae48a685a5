"""The call budget: at most INCIDENT_CALL_BUDGET AWS calls besides the
Organizations reads, which organization_call_budget bounds by the organization's depth and SCPs (kit.collect.limits), for one instance with up to 4 volumes and 2 keys, never an
unbounded CloudTrail scan. The 4-volume, 2-key incident is the seed story with a second key, seeded through
the simulator's public Seeder (it is not a catalogue scenario: it tells nothing new, it only costs more).
"""

from __future__ import annotations

import copy
from collections import Counter

import pytest
import yaml

from kit.collect.change_lookups import lookup_budget
from kit.collect.cloudtrail_window import CollectWindow
from kit.collect.live import collect_live
from kit.simulate.catalogue import parse_scenario
from kit.simulate.seeder import Seeder
from tests.call_budget import assert_within_budget

NO_LOOK_BACK = CollectWindow(change_lookback_days=0)


def change_calls(evidence) -> list[dict]:
    """The LookupEvents calls of the look-back for changes (they start at the change window's start)."""
    window = evidence.parameters.get("change_window") or {}
    return [c for c in evidence.calls if c["operation"] == "cloudtrail:LookupEvents"
            and c["params"].get("StartTime") == window.get("start")]


@pytest.fixture(scope="module")
def four_volumes_two_keys(sim):
    from importlib import resources

    spec = yaml.safe_load(resources.files("kit.simulate").joinpath("scenarios/seed.yaml").read_text())
    spec = copy.deepcopy(spec)
    spec["name"] = "budget-four-volumes-two-keys"
    spec["keys"]["logs"] = {"alias": "alias/app-logs", "description": "Application log volumes", "policy": "default"}
    spec["instance"]["volumes"] = [{"device": "/dev/xvda", "size": 8, "key": "app"},
                                   {"device": "/dev/sdf", "size": 50, "key": "app"},
                                   {"device": "/dev/sdg", "size": 20, "key": "logs"},
                                   {"device": "/dev/sdh", "size": 20, "key": "logs"}]
    return Seeder(sim.endpoint_url).seed(parse_scenario(spec, "test_collect_budget"))


def test_four_volumes_and_two_keys_fit_the_budget(sim, sim_env, sim_client, four_volumes_two_keys):
    seeded = four_volumes_two_keys
    evidence = collect_live(seeded.instance_id, seeded.region, window=NO_LOOK_BACK)
    operations = Counter(c["operation"] for c in evidence.calls)
    assert_within_budget(evidence.calls, sim_client("organizations", region="us-east-1"), seeded.account_id)
    volumes = evidence.documents["ec2.describe-volumes.json"]["Volumes"]
    assert len(volumes) == 4 and {v["KmsKeyId"] for v in volumes} == set(seeded.key_arns.values())
    for key_arn in seeded.key_arns.values():
        key_id = key_arn.rsplit("/", 1)[-1]
        assert {f"kms.describe-key.{key_id}.json", f"kms.get-key-policy.{key_id}.json",
                f"kms.list-grants.{key_id}.json"} <= set(evidence.documents)
    assert operations["cloudtrail:LookupEvents"] <= 2  # the instance's events, then every KMS event at once
    kms_events = evidence.documents["cloudtrail.lookup-events.kms.json"]["Events"]
    assert any(e["EventName"] == "CreateGrant" for e in kms_events)
    assert evidence.parameters["launching_principal"]["arn"] == seeded.principal_arn
    assert not any(g.error == "PageLimitReached" for g in evidence.gaps)


def test_the_seed_fits_the_budget_and_every_lookup_is_bounded(sim, sim_env, sim_client):
    seed = sim.scenario("seed")
    evidence = collect_live(seed.instance_id, seed.region)
    changes = change_calls(evidence)
    assert_within_budget([c for c in evidence.calls if c not in changes],
                         sim_client("organizations", region="us-east-1"), seed.account_id)
    for call in evidence.calls:
        if call["operation"] == "cloudtrail:LookupEvents":
            params = call["params"]
            assert params["StartTime"] < params["EndTime"] and params["MaxResults"] == 50
            assert len(params["LookupAttributes"]) == 1


def test_the_look_back_for_changes_keeps_its_own_stated_budget(sim, sim_env, sim_client, four_volumes_two_keys):
    """Two keys and a user with no managed policy: one look-up per key and one for the user, each bounded."""
    seeded = four_volumes_two_keys
    evidence = collect_live(seeded.instance_id, seeded.region)
    window = CollectWindow()
    changes = change_calls(evidence)
    budget = lookup_budget(keys=2, policies=0, ebs_default=False)
    assert 0 < len(changes) <= budget * window.change_max_pages
    assert_within_budget([c for c in evidence.calls if c not in changes],
                         sim_client("organizations", region="us-east-1"), seeded.account_id)
    for call in changes:
        assert len(call["params"]["LookupAttributes"]) == 1 and call["params"]["MaxResults"] == 50
    start = evidence.parameters["change_window"]["start"]
    assert start < evidence.parameters["cloudtrail_window"]["start"]  # looks back further than the incident
