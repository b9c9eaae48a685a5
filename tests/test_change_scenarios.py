"""What changed (contracts.md section 3a) over the real pipeline: simulated account -> collect (live, bundle:,
cli: with the real AWS CLI) -> diagnose, for every change scenario of the catalogue (those with
`expected.change`): the change the evaluator names, its time and author, before/after, and the last success."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import timedelta
from importlib import resources

import pandas as pd
import pytest
from jsonschema import Draft202012Validator

from kit.collect import load_evidence
from kit.collect.bundle import write_bundle
from kit.collect.live import collect_live
from kit.diagnose import diagnose
from kit.simulate.catalogue import load_catalogue
from tests.aws_cli_runs import run_cli_folder

CHANGE_SCENARIOS = [s.name for s in load_catalogue() if "change" in s.spec["expected"]]
SOURCES = ("live", "bundle", "cli")


@pytest.fixture(scope="module")
def findings(sim, aws_env, tmp_path_factory) -> dict[str, dict[str, object]]:
    """Findings per scenario and source."""
    out: dict[str, dict[str, object]] = {}
    for name in CHANGE_SCENARIOS:
        seeded = sim.scenario(name)
        live = collect_live(seeded.instance_id, seeded.region)
        base = tmp_path_factory.mktemp(name)
        bundle = write_bundle(live, base / "bundle")
        cli = run_cli_folder(live, base / "cli")
        out[name] = {
            "live": diagnose(live),
            "bundle": diagnose(load_evidence(f"bundle:{bundle}", seeded.instance_id, seeded.region)),
            "cli": diagnose(load_evidence(f"cli:{cli}", seeded.instance_id, seeded.region)),
            "evidence": live,
        }
    return out


def schema() -> Draft202012Validator:
    return Draft202012Validator(json.loads(resources.files("kit.report").joinpath("findings.schema.json").read_text()))


def test_the_catalogue_has_every_change_kind():
    kinds = {s.spec["expected"]["change"]["event_name"] for s in load_catalogue()
             if s.spec["expected"].get("change")}
    assert {"PutKeyPolicy", "CreatePolicyVersion", "DetachRolePolicy", "DisableKey", "ModifyEbsDefaultKmsKeyId",
            "PutRolePermissionsBoundary"} <= kinds
    assert any(s.spec["expected"].get("change", "absent") is None for s in load_catalogue())  # a first launch


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", CHANGE_SCENARIOS)
def test_the_change_and_last_success_are_the_scenarios(sim, findings, name, source):
    seeded = sim.scenario(name)
    expected = seeded.expected
    result = findings[name][source]
    document = result.to_dict()
    schema().validate(document)
    verdict = document["verdict"]
    assert verdict["cause"] == expected["cause"]
    change = verdict["change"]
    if expected["change"] is None:
        assert change is None, change
    else:
        assert change is not None, verdict["summary"]
        assert (change["event_name"], change["layer"]) == (expected["change"]["event_name"], expected["change"]["layer"])
        when = pd.Timestamp(change["event_time"])
        assert abs(when - (pd.Timestamp(seeded.launched_at) - timedelta(days=expected["change"]["days_ago"]))) \
            < timedelta(minutes=1)
        assert change["principal_arn"].startswith(f"arn:aws:iam::{seeded.account_id}:user/")
        assert change["principal_arn"] != seeded.principal_arn  # who changed it, not who launched
        assert (change["before"] is not None) == expected["change"]["before"]
        assert change["before"] != change["after"]
        assert change["before"] is not None or change["after"] is not None
        assert change["event_id"] and change["summary"]
    last = verdict["last_success"]
    if expected["last_success"]:
        assert last is not None
        assert pd.Timestamp(last["event_time"]) < pd.Timestamp(seeded.launched_at) - timedelta(days=1)
        assert last["instance_id"] == seeded.instance_id
        if change is not None:
            assert pd.Timestamp(last["event_time"]) < pd.Timestamp(change["event_time"])
    else:
        assert last is None


@pytest.mark.parametrize("name", CHANGE_SCENARIOS)
def test_every_source_names_the_same_change(findings, name):
    live = findings[name]["live"].to_dict()["verdict"]
    for source in ("bundle", "cli"):
        other = findings[name][source].to_dict()["verdict"]
        assert (other["change"], other["last_success"]) == (live["change"], live["last_success"]), source


def test_the_key_policy_diff_is_the_dropped_delegation(sim, findings):
    result = findings["change-key-policy-rewritten"]["live"]
    change = result.verdict.change
    sids_before = {s["Sid"] for s in change["before"]["Statement"]}
    sids_after = {s["Sid"] for s in change["after"]["Statement"]}
    assert "Enable IAM User Permissions" in sids_before - sids_after
    assert result.change_mattered["side"] == "before"  # the statement whose loss made the difference
    assert {"policy": "key-policy", "index": 0, "sid": "Enable IAM User Permissions"} in \
        result.change_mattered["statements"]
    # the harmless earlier rewrite (it kept the delegation) is listed, not named
    earlier = [o for o in result.other_changes if o["event_name"] == "PutKeyPolicy"]
    assert earlier and pd.Timestamp(earlier[0]["event_time"]) < pd.Timestamp(change["event_time"])


def test_a_change_after_the_failure_is_never_named(findings):
    result = findings["change-trap-later-changes"]["live"]
    assert result.verdict.change["event_name"] == "DetachUserPolicy"
    later = [o for o in result.other_changes if o["event_name"] == "AttachUserPolicy"]
    assert later and later[0]["why_not"] == "after the failure"


def test_changes_to_other_keys_are_listed_not_named(findings, tmp_path):
    """With every write event of the Region in the evidence (a broad look-up someone pasted), the other key's
    policy rewrite two days before the failure is an 'other change', never the change."""
    from awscli.clidriver import create_clidriver

    evidence = findings["change-trap-later-changes"]["evidence"]
    folder = run_cli_folder(evidence, tmp_path / "cli")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert create_clidriver().main(["cloudtrail", "lookup-events", "--lookup-attributes",
                                        "AttributeKey=EventName,AttributeValue=PutKeyPolicy",
                                        "--region", evidence.region, "--output", "json"]) == 0
    (folder / "cloudtrail.lookup-events.all-key-policies.json").write_text(out.getvalue(), encoding="utf-8")
    result = diagnose(load_evidence(f"cli:{folder}", evidence.instance_id, evidence.region))
    assert result.verdict.change["event_name"] == "DetachUserPolicy"
    others = {(o["event_name"], o["why_not"]) for o in result.other_changes}
    assert ("PutKeyPolicy", "to another principal, key or Region") in others


def test_without_the_look_back_no_change_is_named(findings):
    """The change is named from evidence, never guessed: drop the change look-ups and it is gone."""
    from dataclasses import replace

    evidence = findings["change-policy-narrowed"]["evidence"]
    trimmed = replace(evidence, documents={k: v for k, v in evidence.documents.items()
                                           if not k.startswith("cloudtrail.lookup-events.change-")})
    result = diagnose(trimmed)
    assert result.verdict.cause == "kms-grant-denied" and result.verdict.change is None


def test_hostile_strings_in_recorded_changes_never_reach_html_unescaped(findings, tmp_path):
    """A cli: folder is pasted by anyone: a change record whose author and policy carry markup is named as
    before, and the What changed section shows the markup as text."""
    from kit.views.change import change_section_of

    hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    evidence = findings["change-key-policy-rewritten"]["evidence"]
    folder = run_cli_folder(evidence, tmp_path / "cli")
    changed = 0
    for path in folder.glob("cloudtrail.lookup-events.*.json"):  # the key's own look-up has no window in cli:
        document = json.loads(path.read_text())
        for event in document["Events"]:
            record = json.loads(event["CloudTrailEvent"])
            if record["eventName"] != "PutKeyPolicy":
                continue
            record["userIdentity"]["arn"] = record["userIdentity"]["arn"] + hostile
            policy = json.loads(record["requestParameters"]["policy"])
            policy["Statement"][0]["Sid"] = hostile
            record["requestParameters"]["policy"] = json.dumps(policy)
            event["CloudTrailEvent"] = json.dumps(record)
            changed += 1
        path.write_text(json.dumps(document))
    assert changed >= 2
    result = diagnose(load_evidence(f"cli:{folder}", evidence.instance_id, evidence.region))
    assert result.verdict.change["event_name"] == "PutKeyPolicy" and hostile in result.verdict.change["principal_arn"]
    markup = change_section_of(result)
    assert "<script" not in markup and "<img" not in markup
    assert "&lt;script&gt;" in markup
