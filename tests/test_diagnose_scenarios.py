"""Diagnosis over the real pipeline: simulated account -> collect (live, bundle:, cli: with the real AWS CLI)
-> frames -> diagnose, for every scenario of the catalogue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from kit.causes import cause_ids, causes, causes_of_kind
from kit.collect import load_evidence
from kit.collect.bundle import write_bundle
from kit.collect.cli_commands import checklist
from kit.collect.live import collect_live
from kit.diagnose import diagnose
from kit.evidence import Evidence
from kit.policy import Policy, PolicySet, evaluate
from kit.simulate.catalogue import load_catalogue
from tests.aws_cli_runs import run_cli_folder

KMS_CAUSES = set(causes_of_kind("kms"))
KEY_STATE_CAUSES = {c.id for c in causes().values() if c.key_states}
SCENARIOS = [s.name for s in load_catalogue()]
LOOKALIKE_SCENARIOS = [s.name for s in load_catalogue() if s.cause not in KMS_CAUSES]
# the change that broke the launch was put back after the failure: as collected the request is allowed again
UNDONE_AFTER = {s.name for s in load_catalogue() if (s.spec["expected"].get("change") or {}).get("undone_after")}
POLICY_CAUSES = KMS_CAUSES - KEY_STATE_CAUSES
CONFIDENCE = {"possible": 0, "likely": 1, "confirmed": 2}
AWS_CLI = Path(sys.executable).with_name("aws")
VERDICT_FIELDS = ("cause", "denied_by", "principal_arn", "key_arn")


@lru_cache(maxsize=1)
def schema_validator() -> Draft202012Validator:
    schema = json.loads(resources.files("kit.report").joinpath("findings.schema.json").read_text())
    return Draft202012Validator(schema)


@pytest.fixture(scope="module")
def live(sim, aws_env) -> dict[str, Evidence]:
    """One live collection per scenario, of its first seeded instance (the one `sim.scenario` names; other
    tests in the same process may seed more instances of a scenario, in other Regions and accounts)."""
    return {name: collect_live(sim.scenario(name).instance_id, sim.scenario(name).region) for name in SCENARIOS}


def verdict_of(findings) -> dict:
    return {k: getattr(findings.verdict, k) for k in VERDICT_FIELDS}


def test_the_in_process_cli_is_the_real_cli(sim, live, aws_env, tmp_path):
    """The same command through the `aws` executable prints what the in-process driver printed."""
    evidence = live["seed"]
    folder = run_cli_folder(evidence, tmp_path / "cli")
    command = next(c for c in checklist(evidence.documents, evidence.instance_id, evidence.region)
                   if c.file_name == "ec2.describe-volumes.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(sim.environ(evidence.region))
    result = subprocess.run([str(AWS_CLI), *command.argv[1:]], env=env, capture_output=True, text=True,
                            timeout=300, check=True)
    assert json.loads(result.stdout) == json.loads((folder / command.file_name).read_text())


# ---- every scenario, every source --------------------------------------------------------------------------

@pytest.mark.parametrize("name", SCENARIOS)
def test_live_verdict_is_the_scenarios(sim, live, name):
    seeded = sim.scenario(name)
    findings = diagnose(live[name])
    assert verdict_of(findings) == {k: seeded.expected[k] for k in VERDICT_FIELDS}, findings.verdict.summary
    schema_validator().validate(findings.to_dict())
    kms_unrecorded = any(g.error == "kms-events-excluded" for g in findings.gaps)  # trail-excludes-kms
    if name in UNDONE_AFTER:  # put back after the failure: the state as collected allows, CloudTrail proves it
        assert findings.verdict.change["denied_now"] is False and "allowed again" in findings.verdict.summary
    elif findings.verdict.cause in KMS_CAUSES and findings.verdict.cause != "kms-key-unusable" and not kms_unrecorded:
        assert findings.verdict.confidence == "confirmed"  # every KMS scenario leaves CloudTrail or key-state proof
    if kms_unrecorded:
        assert findings.verdict.confidence == "likely" and "does not record KMS events" in findings.verdict.summary


@pytest.mark.parametrize("name", SCENARIOS)
def test_bundle_verdict_is_the_same(sim, live, name, tmp_path):
    seeded = sim.scenario(name)
    folder = write_bundle(live[name], tmp_path / "bundle")
    evidence = load_evidence(f"bundle:{folder}", seeded.instance_id, seeded.region)
    findings = diagnose(evidence)
    assert verdict_of(findings) == {k: seeded.expected[k] for k in VERDICT_FIELDS}
    assert findings.to_dict() == diagnose(live[name]).to_dict()  # a bundle diagnoses exactly like live
    schema_validator().validate(findings.to_dict())


@pytest.mark.parametrize("name", SCENARIOS)
def test_cli_folder_verdict_is_the_same(sim, live, name, tmp_path):
    seeded = sim.scenario(name)
    folder = run_cli_folder(live[name], tmp_path / "cli")
    evidence = load_evidence(f"cli:{folder}", seeded.instance_id, seeded.region)
    assert evidence.source.startswith("cli:")
    findings = diagnose(evidence)
    assert verdict_of(findings) == {k: seeded.expected[k] for k in VERDICT_FIELDS}, findings.verdict.summary
    schema_validator().validate(findings.to_dict())


NEW_SCENARIOS = ("trail-excludes-kms", "source-vpc-deny", "via-service-typo")


@pytest.mark.parametrize("name", NEW_SCENARIOS)
def test_new_scenarios_get_a_verified_fix_from_every_source(sim, live, name, tmp_path):
    seeded = sim.scenario(name)
    bundle = load_evidence(f"bundle:{write_bundle(live[name], tmp_path / 'bundle')}", seeded.instance_id,
                           seeded.region)
    cli = load_evidence(f"cli:{run_cli_folder(live[name], tmp_path / 'cli')}", seeded.instance_id, seeded.region)
    for evidence in (live[name], bundle, cli):
        findings = diagnose(evidence)
        assert verdict_of(findings) == {k: seeded.expected[k] for k in VERDICT_FIELDS}, evidence.source
        verified = [r for r in findings.remediation if r.verified]
        assert {r.kind for r in verified} >= {"cli"}, evidence.source
        assert all(r.verification == "verified" and r.checked_calls for r in verified)


def test_every_scenario_with_a_verified_fix_is_replayed(live):
    """tests/test_remediation_replay.py's REPLAYED list holds every scenario whose fix is verified (a start
    retries the stopped ones; the terminated ones are launched again by their launcher)."""
    from test_remediation_replay import REPLAYED

    with_fix = {name for name, evidence in live.items() if any(r.verified for r in diagnose(evidence).remediation)}
    assert with_fix == set(REPLAYED)


# ---- honest degradation --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SCENARIOS)
def test_without_cloudtrail_verdicts_degrade_never_change(live, name):
    full = diagnose(live[name])
    evidence = live[name]
    emptied = replace(evidence, documents={k: v for k, v in evidence.documents.items()
                                           if not k.startswith(("cloudtrail.", "cloudtrail-logs/"))})
    assert len(emptied.documents) < len(evidence.documents)
    degraded = diagnose(emptied)
    schema_validator().validate(degraded.to_dict())
    assert degraded.verdict.cause in (full.verdict.cause, "undetermined"), degraded.verdict.summary
    if degraded.verdict.cause == full.verdict.cause:
        assert CONFIDENCE[degraded.verdict.confidence] <= CONFIDENCE[full.verdict.confidence]
        assert degraded.verdict.denied_by in (full.verdict.denied_by, "unknown")
    if degraded.verdict.cause in POLICY_CAUSES:
        assert degraded.verdict.confidence != "confirmed"  # only CloudTrail or key state confirms
    assert any(g.call == "cloudtrail:LookupEvents" and g.error != "ManagementAccountNotRead"  # the diagnosis's own
               for g in degraded.gaps)
    assert degraded.step("kms-events").status == "unknown"  # could not check is unknown, never pass


def test_the_catalogue_has_lookalikes():
    assert set(cause_ids()) - KMS_CAUSES <= {s.cause for s in load_catalogue()}


@pytest.mark.parametrize("name", LOOKALIKE_SCENARIOS)
def test_lookalikes_are_never_blamed_on_kms(sim, live, name):
    assert sim.scenario(name).expected["cause"] not in KMS_CAUSES
    evidence = live[name]
    emptied = replace(evidence, documents={k: v for k, v in evidence.documents.items()
                                           if not k.startswith("cloudtrail")})
    for findings in (diagnose(evidence), diagnose(emptied)):
        assert findings.verdict.cause not in KMS_CAUSES
        assert findings.verdict.denied_by is None and findings.verdict.key_arn is None
        # no policy change for a lookalike: at most its operational remedy (retry, quota, another AMI)
        assert all(r.change_set == "operational" and r.kind == "cli" and not r.verified
                   for r in findings.remediation)


# ---- remediation -------------------------------------------------------------------------------------------

def apply_documents(policies: PolicySet, items: list) -> PolicySet:
    """Put every policy document of `items` into the evidence's policies, as someone applying them would."""
    identity = list(policies.identity)
    key_policy, boundary = policies.resource_policy, policies.boundary
    scps = [list(level) for level in policies.scps]
    for item in items:
        if item.kind not in ("iam-policy", "key-policy"):
            continue
        new = Policy(item.document, item.replaces or f"applied:{item.target}")
        if item.layer == "key-policy":
            key_policy = new
        elif item.layer == "permissions-boundary":
            boundary = new
        elif item.layer == "scp":
            scps = [[new if p.name == item.replaces else p for p in level] for level in scps]
        elif item.replaces:
            identity = [new if p.name == item.replaces else p for p in identity]
        else:
            identity.append(new)
    return PolicySet(identity=identity, resource_policy=key_policy, boundary=boundary, scps=scps,
                     session_policies=list(policies.session_policies))


def aws_ebs_policy(account: str, region: str) -> dict:
    """The AWS managed key aws/ebs's fixed policy, as AWS documents it."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant",
                    "kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": account, "kms:ViaService": f"ec2.{region}.amazonaws.com"}}},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"], "Resource": "*"}]}


@pytest.mark.parametrize("name", SCENARIOS)
def test_verified_remediation_really_allows_the_failing_request(sim, live, name):
    findings = diagnose(live[name])
    verified = [r for r in findings.remediation if r.verified]
    key_policy_unseen = any("key-policy" in r.not_in_evidence for r in findings.remediation)  # another account's
    if (findings.verdict.cause in POLICY_CAUSES - {"kms-cross-account-key"} and findings.verdict.denied_by != "session-policy"
            and not key_policy_unseen and name not in UNDONE_AFTER):  # nothing to fix in a state that allows
        assert verified, "a policy cause whose policies are all in the evidence gets a verified fix"
    if not verified:
        return
    assert findings.request is not None and findings.policies is not None
    assert not evaluate(findings.request, findings.policies).allowed or findings.verdict.cause in (
        KEY_STATE_CAUSES | {"ebs-default-key-unusable"})
    for change_set in {r.change_set for r in verified}:
        items = [r for r in findings.remediation if r.change_set == change_set]
        documents = [r for r in items if r.kind in ("iam-policy", "key-policy")]
        if change_set == "default-key":
            seeded = sim.scenario(name)
            aws_ebs = f"arn:aws:kms:{seeded.region}:{seeded.account_id}:key/00000000-0000-0000-0000-000000000000"
            request = replace(findings.request, resource=aws_ebs)
            after = replace(findings.policies, resource_policy=Policy(aws_ebs_policy(seeded.account_id, seeded.region),
                                                                      "key-policy"))
            assert evaluate(request, after).allowed
            continue
        after = apply_documents(findings.policies, documents) if documents else findings.policies
        assert evaluate(findings.request, after).allowed, change_set
        for item in documents:
            for statement in item.document["Statement"]:
                actions = statement.get("Action")
                actions = actions if isinstance(actions, list) else [actions]
                if statement.get("Effect") == "Allow" and statement not in _old_statements(findings.policies, item):
                    assert "kms:*" not in actions and "*" not in actions
                    if item.layer != "key-policy":
                        assert statement.get("Resource") != "*"


def _old_statements(policies: PolicySet, item) -> list:
    every = list(policies.identity) + [p for level in policies.scps for p in level]
    every += [p for p in (policies.boundary, policies.resource_policy) if p is not None]
    for policy in every:
        if policy.name == item.replaces:
            return list(policy.document["Statement"])
    return []


def test_the_seed_fix_is_the_seed_articles_statement(sim, live):
    seeded = sim.scenario("seed")
    findings = diagnose(live["seed"])
    policy = next(r for r in findings.remediation if r.kind == "iam-policy")
    assert policy.target == seeded.expected["principal_arn"] and policy.verified
    assert policy.document["Statement"] == [{
        "Sid": "AllowCreateGrantForEbsVolumes", "Effect": "Allow", "Action": "kms:CreateGrant",
        "Resource": seeded.expected["key_arn"], "Condition": {"Bool": {"kms:GrantIsForAWSResource": True}}}]
    commands = next(r for r in findings.remediation if r.kind == "cli")
    assert commands.document["commands"][0].startswith("aws iam put-user-policy --user-name ")
    terraform = next(r for r in findings.remediation if r.kind == "terraform")
    assert 'resource "aws_iam_user_policy"' in terraform.document and seeded.expected["key_arn"] in terraform.document


def test_key_state_fixes_are_enable_and_cancel_deletion(live):
    disabled = diagnose(live["key-disabled"])
    commands = [c for r in disabled.remediation if r.kind == "cli" for c in r.document["commands"]]
    assert commands[0].startswith("aws kms enable-key --key-id " + disabled.verdict.key_arn)
    pending = diagnose(live["key-pending-deletion"])
    commands = [c for r in pending.remediation if r.kind == "cli" for c in r.document["commands"]]
    assert commands[0].startswith("aws kms cancel-key-deletion") and commands[1].startswith("aws kms enable-key")


def test_cross_account_fix_is_not_verified_when_the_key_policy_is_unreadable(live):
    findings = diagnose(live["cross-account-key"])
    assert findings.remediation and not any(r.verified for r in findings.remediation)
    key_side = next(r for r in findings.remediation if r.kind == "key-policy")
    assert key_side.target == findings.verdict.key_arn
    assert any(g.call == "diagnosis:key-policy" for g in findings.gaps)


def test_sibling_launches_on_the_same_key_keep_their_own_kms_failures(sim, aws_env):
    """Instances that share a key and a launcher fail seconds apart (a fleet after one policy change): each
    diagnosis keeps only the refused CreateGrant whose grantee names its own instance, not its siblings'."""
    siblings = [sim.seed("seed"), sim.seed("seed")]
    for seeded in siblings:
        findings = diagnose(collect_live(seeded.instance_id, seeded.region))
        rows = findings.step("kms-events").rows
        assert list(rows["instance_ids"]) == [[seeded.instance_id]]
        assert list(rows["volume_ids"]) == [list(seeded.volume_ids)]
        assert findings.verdict.cause == "kms-grant-denied" and findings.verdict.confidence == "confirmed"


def test_seed_steps_show_the_proof(sim, live):
    findings = diagnose(live["seed"])
    status = {s.id: s.status for s in findings.steps}
    assert status["state-reason"] == "fail" and status["kms-events"] == "fail"
    assert status["authorization"] == "fail" and status["cross-check"] == "pass"
    assert status["launching-principal"] == "pass"
    events = findings.step("kms-events").rows
    assert list(events["event_name"]) == ["CreateGrant"] and list(events["error_code"]) == ["AccessDenied"]
    assert findings.decision.decided_by == "identity-policy"
    assert findings.request.context["kms:GrantIsForAWSResource"] == "true"
    assert findings.request.context["kms:ViaService"] == f"ec2.{sim.scenario('seed').region}.amazonaws.com"
    lanes = set(findings.timeline["kind"])
    assert {"launch", "kms"} <= lanes


# ---- unseen incidents (kept as regressions) ----------------------------------------------------------------

def test_principal_tags_decide_tag_conditions(live):
    """An SCP denying CreateGrant unless aws:PrincipalTag/team is platform does not apply to a user tagged
    team=platform: the evaluator reads the user's tags from get-account-authorization-details, so it agrees
    with CloudTrail (no identity policy allows), and the fix is the user's IAM policy alone, verified."""
    evidence = live["unseen-principal-tag-scp"]
    findings = diagnose(evidence)
    assert findings.request is not None and findings.request.context["aws:PrincipalTag/team"] == "platform"
    assert findings.step("cross-check").status != "fail", findings.step("cross-check").detail
    assert findings.verdict.confidence == "confirmed"
    verified = [r for r in findings.remediation if r.verified]
    assert verified and {r.layer for r in findings.remediation} == {"identity-policy"}
    # Without the tags the SCP's StringNotEquals matches (an absent key): the evaluator would blame the SCP.
    gaad = "iam.get-account-authorization-details.json"
    details = json.loads(json.dumps(evidence.documents[gaad]))
    for user in details["UserDetailList"]:
        user.pop("Tags", None)
    untagged = diagnose(replace(evidence, documents={**evidence.documents, gaad: details}))
    assert untagged.decision is not None and untagged.decision.layer == "scp"
    assert untagged.verdict.confidence == "likely"  # CloudTrail and the evaluator disagree


def test_forward_access_keeps_the_launchers_source_ip(live):
    """EC2's CreateGrant on the launcher's behalf keeps the StartInstances caller's aws:SourceIp, so the IAM user
    guide's 'deny outside the office range' does not refuse it from the office: CloudTrail's identity-policy
    refusal is confirmed, and the verified fix adds the allow without loosening the IP restriction."""
    evidence = live["unseen-source-ip-perimeter"]
    findings = diagnose(evidence)
    assert findings.request is not None and findings.request.context["aws:SourceIp"] == "203.0.113.24"
    assert findings.verdict.confidence == "confirmed" and findings.step("cross-check").status != "fail"
    assert findings.decision is not None and not findings.decision.explicit
    targets = {r.target for r in findings.remediation}
    assert targets and not any("OfficeNetworkOnly" in (t or "") for t in targets)
    assert all(r.verified for r in findings.remediation if r.kind == "iam-policy")


def test_a_launch_template_key_named_by_alias_resolves_to_its_arn(sim, live):
    """The template names the key by alias; the volumes are gone. The key is resolved through the aliases to its
    ARN (what IAM policies must name), with and without CloudTrail."""
    seeded = sim.scenario("unseen-template-key-alias")
    evidence = live["unseen-template-key-alias"]
    key_arn = seeded.expected["key_arn"]
    for documents in (evidence.documents, {k: v for k, v in evidence.documents.items()
                                           if not k.startswith(("cloudtrail.", "cloudtrail-logs/"))}):
        findings = diagnose(replace(evidence, documents=documents))
        provenance = findings.to_dict()["key_provenance"]
        assert [(p["key_arn"], p["key_ref"], p["source"]) for p in provenance] == [
            (key_arn, "alias/team-payments", "launch-template")]
        assert findings.verdict.key_arn == key_arn
