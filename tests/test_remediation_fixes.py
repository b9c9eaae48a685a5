"""Remediation defects that an independent check found (issues 14 and 15), each with the test that would have
caught it, over the simulated account's real evidence and the real evaluator; plus policy lint, verification
wording and evidence completeness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from kit.collect.live import collect_live
from kit.diagnose import diagnose
from kit.diagnose.remediation.changes import PolicyChange, _policy_ref, fix_policies
from kit.diagnose.remediation.render import policy_cli
from kit.evidence import Evidence
from kit.policy import Policy, PolicySet, Request, evaluate
from kit.policy.lint import lint_policy

AWS_BIN = Path(sys.executable).parent
USE_ACTIONS = {"kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo",
               "kms:DescribeKey"}


@pytest.fixture(scope="module")
def evidence(sim, aws_env):
    cache: dict[str, Evidence] = {}

    def get(name: str) -> Evidence:
        if name not in cache:
            seeded = sim.scenario(name)
            cache[name] = collect_live(seeded.instance_id, seeded.region)
        return cache[name]
    return get


def shell(sim, command: str, region: str = "eu-west-1") -> subprocess.CompletedProcess:
    env = {**sim.process_environ_without_aws(), **sim.environ(region)}
    env["PATH"] = f"{AWS_BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=120)


def actions_of(document: dict) -> set[str]:
    out: set[str] = set()
    for statement in document["Statement"]:
        if statement.get("Effect") == "Allow":
            actions = statement.get("Action")
            out |= set(actions if isinstance(actions, list) else [actions])
    return out


# ---- the session policy allows the call that was refused ------------------------------------------------------

def _renamed_refusal(evidence: Evidence, new_name: str) -> Evidence:
    """The evidence with the refused KMS call renamed (as when EC2's GenerateDataKeyWithoutPlaintext was the
    call the session policy refused)."""
    documents = json.loads(json.dumps(evidence.documents))
    for name, document in documents.items():
        if not name.startswith("cloudtrail.lookup-events."):
            continue
        for event in document.get("Events", []):
            record = json.loads(event["CloudTrailEvent"])
            if record.get("eventSource") == "kms.amazonaws.com" and record.get("errorCode"):
                record["eventName"] = new_name
                record["errorMessage"] = record["errorMessage"].replace("kms:CreateGrant", f"kms:{new_name}")
                event["EventName"] = new_name
                event["CloudTrailEvent"] = json.dumps(record)
    return replace(evidence, documents=documents)


def test_session_policy_fix_allows_the_refused_call_not_only_creategrant(evidence):
    findings = diagnose(_renamed_refusal(evidence("session-policy"), "GenerateDataKeyWithoutPlaintext"))
    assert findings.verdict.denied_by == "session-policy"
    [document] = [r for r in findings.remediation if r.kind == "iam-policy" and r.layer == "session-policy"]
    session = Policy(document.document, "session:proposed")
    assert findings.request is not None and findings.policies is not None
    refused = Request(findings.request.principal_arn, "kms:GenerateDataKeyWithoutPlaintext",
                      findings.request.resource, {"kms:ViaService": "ec2.eu-west-1.amazonaws.com",
                                                  "aws:ViaAWSService": "true"}, findings.request.principal_type)
    # the session policy itself lets the refused call and EC2's CreateGrant through (other layers aside)
    everything = Policy({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*",
                                                                  "Resource": findings.request.resource}]}, "inline:all")
    passes = replace(findings.policies, identity=[everything], session_policies=[session])
    assert evaluate(refused, passes).allowed, "the session policy lets the refused call through"
    assert evaluate(findings.request, passes).allowed, "and EC2's CreateGrant"
    assert "kms:GenerateDataKeyWithoutPlaintext" in document.checked_calls
    # the role's own policies allow CreateGrant only: the kit says the evaluator still denies the refused call
    assert not document.verified and document.verification == "not-verified"
    assert "still denies kms:GenerateDataKeyWithoutPlaintext" in document.note


def test_session_policy_fix_for_the_scenario_is_checked_against_every_layer_but_the_session_policy(evidence):
    findings = diagnose(evidence("session-policy"))
    [document] = [r for r in findings.remediation if r.kind == "iam-policy" and r.layer == "session-policy"]
    assert document.verification == "verified-in-evidence" and not document.verified
    assert "session policy not in the evidence" in document.note
    assert set(document.checked_against) >= {"identity-policy", "key-policy"}
    [cli] = [r for r in findings.remediation if r.kind == "cli" and r.layer == "session-policy"]
    assert "--role-arn arn:aws:iam::123456789012:role/github-actions-deploy" in cli.document["commands"][0]


# ---- key-policy target is the key ---------------------------------------------------------------------------

def test_key_policy_fix_targets_the_key_not_the_word_key_policy(sim, evidence):
    key = sim.scenario("perimeter-decrypt-deny").expected["key_arn"]
    findings = diagnose(evidence("perimeter-decrypt-deny"))
    items = [r for r in findings.remediation if r.layer == "key-policy"]
    assert items and all(r.target == key for r in items)
    [cli] = [r for r in items if r.kind == "cli"]
    assert f"--key-id {key} " in cli.document["commands"][0]
    assert "key-policy" not in cli.document["commands"][0].split("--key-id ")[1].split()[0]
    assert "aws kms get-key-policy --key-id " + key in next(r for r in items if r.kind == "key-policy").explanation
    assert next(r for r in items if r.kind == "key-policy").diff.startswith("--- current key-policy")


# ---- create-policy-version names the policy ARN, with the five-version step ---------------------------------

def test_group_managed_policy_version_names_the_policy_arn_and_the_five_version_limit(sim):
    arn = "arn:aws:iam::123456789012:policy/GroupGuard"
    assert _policy_ref(f"group-managed:Developers/{arn}") == arn
    assert _policy_ref("group-inline:Developers/Guard") == "Guard"
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "kms:Decrypt",
                                                        "Resource": "*"}]}
    change = PolicyChange("identity-policy", arn, document, f"group-managed:Developers/{arn}", "deny-exception")
    [command] = policy_cli(change, "eu-west-1")["commands"]
    assert f"create-policy-version --policy-arn {arn} --set-as-default" in command
    assert "delete-policy-version" in command and "-ge 5" in command
    # run as written against the simulated account: six versions, the oldest non-default goes first
    import boto3

    iam = boto3.client("iam", endpoint_url=sim.endpoint_url, region_name="us-east-1",
                       aws_access_key_id=sim.environ()["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=sim.environ()["AWS_SECRET_ACCESS_KEY"])
    created = iam.create_policy(PolicyName="kit-test-five-versions", PolicyDocument=json.dumps(document))
    real = created["Policy"]["Arn"]
    for _ in range(4):
        iam.create_policy_version(PolicyArn=real, PolicyDocument=json.dumps(document))
    change = replace(change, target=real, replaces=f"managed:{real}")
    result = shell(sim, policy_cli(change, "eu-west-1")["commands"][0])
    assert result.returncode == 0, result.stderr
    versions = iam.list_policy_versions(PolicyArn=real)["Versions"]
    # v1 stays the default until the new one: the oldest non-default (v2) made room
    assert len(versions) == 5 and "v2" not in {v["VersionId"] for v in versions}
    assert next(v for v in versions if v["IsDefaultVersion"])["VersionId"] == "v6"


# ---- put-role-policy names the role --------------------------------------------------------------------------

def test_inline_role_policy_fix_names_the_role_and_runs_as_written(sim):
    role = "arn:aws:iam::123456789012:role/kit-test-inline-guard"
    session = "arn:aws:sts::123456789012:assumed-role/kit-test-inline-guard/ci-run-42"
    key = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    guard = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Ec2", "Effect": "Allow", "Action": ["ec2:*", "kms:CreateGrant"], "Resource": "*"},
        {"Sid": "NoGrants", "Effect": "Deny", "Action": "kms:CreateGrant", "Resource": "*"}]}
    key_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}
    request = Request(session, "kms:CreateGrant", key, {"kms:GrantIsForAWSResource": "true",
                                                        "aws:ViaAWSService": "true"}, "role_session")
    policies = PolicySet(identity=[Policy(guard, "inline:guard")], resource_policy=Policy(key_policy, "key-policy"))
    changes, after = fix_policies(request, policies, principal_kind="role", key_manager="CUSTOMER")
    assert evaluate(request, after).allowed
    [change] = changes
    assert change.principal == role
    [command] = policy_cli(change, "eu-west-1")["commands"]
    assert command.startswith("aws iam put-role-policy --role-name kit-test-inline-guard --policy-name guard ")
    import boto3

    iam = boto3.client("iam", endpoint_url=sim.endpoint_url, region_name="us-east-1",
                       aws_access_key_id=sim.environ()["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=sim.environ()["AWS_SECRET_ACCESS_KEY"])
    iam.create_role(RoleName="kit-test-inline-guard", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    result = shell(sim, command)
    assert result.returncode == 0, result.stderr
    stored = iam.get_role_policy(RoleName="kit-test-inline-guard", PolicyName="guard")["PolicyDocument"]
    assert stored == change.document


# ---- a cross-account key: both sides, every call ---------------------------------------------------------------

def test_cross_account_fix_has_both_sides_with_every_kms_call(sim, evidence):
    seeded = sim.scenario("cross-account-key")
    findings = diagnose(evidence("cross-account-key"))
    key_side = [r for r in findings.remediation if r.kind == "key-policy"]
    identity_side = [r for r in findings.remediation if r.kind == "iam-policy" and r.layer == "identity-policy"]
    assert key_side and identity_side, "both sides of a cross-account key"
    assert key_side[0].target == seeded.expected["key_arn"]
    assert identity_side[0].target == seeded.expected["principal_arn"]
    needed = {"kms:CreateGrant"} | USE_ACTIONS
    assert needed <= actions_of(key_side[0].document)
    assert needed <= actions_of(identity_side[0].document)
    [cli] = [r for r in findings.remediation if r.kind == "cli" and r.layer == "key-policy"]
    assert "get-key-policy" in cli.document["commands"][0] and "put-key-policy" in cli.document["commands"][0]


# ---- SCP Terraform keeps the SCP's name -------------------------------------------------------------------------

def test_scp_terraform_keeps_the_scps_real_name(sim, sim_client, evidence):
    findings = diagnose(evidence("scp-deny"))
    [terraform] = [r for r in findings.remediation if r.kind == "terraform" and r.layer == "scp"]
    policy_id = terraform.target
    org = sim_client("organizations", "us-east-1")
    name = org.describe_policy(PolicyId=policy_id)["Policy"]["PolicySummary"]["Name"]
    assert name != policy_id
    assert f'name    = "{name}"' in terraform.document
    assert f'name    = "{policy_id}"' not in terraform.document
    [cli] = [r for r in findings.remediation if r.kind == "cli" and r.layer == "scp"]
    assert cli.diff and "kms:GrantIsForAWSResource" in cli.diff and "re-read" in cli.explanation.lower()


# ---- operational remedies for lookalikes --------------------------------------------------------------------

@pytest.mark.parametrize("name, words", [("insufficient-capacity", "another instance type"),
                                         ("volume-limit", "quota")])
def test_lookalikes_get_their_operational_remedy(evidence, name, words):
    findings = diagnose(evidence(name))
    [item] = findings.remediation
    assert item.change_set == "operational" and words in (item.title + item.explanation).lower()
    assert item.document["commands"] and not item.verified


# ---- verification wording ---------------------------------------------------------------------------------

def test_a_fix_verified_without_scps_in_the_evidence_says_so(evidence):
    full = evidence("seed")
    from kit.evidence import Gap

    without = replace(full, documents={k: v for k, v in full.documents.items() if not k.startswith("organizations.")},
                      gaps=[*full.gaps, Gap("organizations:ListPoliciesForTarget", "AccessDeniedException",
                                            "the SCPs cannot be read")])
    item = next(r for r in diagnose(without).remediation if r.kind == "iam-policy")
    assert item.verification == "verified-in-evidence" and not item.verified
    assert "scp" in item.not_in_evidence and "scp" not in item.checked_against
    assert item.note.startswith("verified against every layer in the evidence (SCPs not in the evidence)")
    complete = next(r for r in diagnose(full).remediation if r.kind == "iam-policy")
    assert complete.verified and complete.verification == "verified" and "scp" in complete.checked_against


# ---- lint ---------------------------------------------------------------------------------------------------------

def test_lint_finds_conditions_that_can_never_match():
    document = {"Statement": [
        {"Sid": "Account", "Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": "ec2.123456789012.amazonaws.com"}}},
        {"Sid": "OtherRegion", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": ["ec2.us-east-1.amazonaws.com",
                                                             "ec2.eu-west-1.amazonaws.com"]}}},
        {"Sid": "Star", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci-*"}}},
        {"Sid": "Fine", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
         "Condition": {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci-*"},
                       "Bool": {"kms:GrantIsForAWSResource": "true"}}}]}
    found = {(f.statement, f.value) for f in lint_policy(document, region="eu-west-1")}
    assert found == {('Statement[0] "Account"', "ec2.123456789012.amazonaws.com"),
                     ('Statement[1] "OtherRegion"', "ec2.us-east-1.amazonaws.com"),
                     ('Statement[2] "Star"', "arn:aws:iam::*:role/ci-*")}


def test_the_verdict_names_the_via_service_typo_and_the_fix_corrects_it(sim, evidence):
    findings = diagnose(evidence("via-service-typo"))
    assert "ec2.us-east-1.amazonaws.com' can never match" in findings.verdict.summary
    [item] = [r for r in findings.remediation if r.kind == "key-policy"]
    assert item.verified
    text = json.dumps(item.document)
    assert "ec2.eu-west-1.amazonaws.com" in text and "ec2.us-east-1.amazonaws.com" not in text
    assert len(item.document["Statement"]) == 2, "the typo corrected, no statement added"


def test_the_source_vpc_deny_gets_the_via_aws_service_exception_not_an_allow(evidence):
    findings = diagnose(evidence("source-vpc-deny"))
    [item] = [r for r in findings.remediation if r.kind == "iam-policy"]
    assert item.verified and item.replaces and item.replaces.startswith("managed:")
    effects = {s["Effect"] for s in item.document["Statement"]}
    assert effects == {"Deny"}, "the deny keeps its place; no new allow"
    conditions = json.dumps([s.get("Condition") for s in item.document["Statement"]])
    assert '"aws:ViaAWSService": "false"' in conditions and "aws:SourceVpc" in conditions


# ---- evidence completeness ----------------------------------------------------------------------------------

def test_a_trail_leaving_kms_out_lowers_confidence_and_says_so(evidence):
    findings = diagnose(evidence("trail-excludes-kms"))
    assert (findings.verdict.cause, findings.verdict.denied_by) == ("kms-grant-denied", "identity-policy")
    assert findings.verdict.confidence == "likely"
    assert "does not record KMS events" in findings.verdict.summary
    assert any(g.error == "kms-events-excluded" and g.call == "cloudtrail:GetEventSelectors" for g in findings.gaps)
    assert any(r.verified for r in findings.remediation)
    # the same trail read for a scenario whose trail records KMS events: no such gap
    assert not any(g.error == "kms-events-excluded" for g in diagnose(evidence("seed")).gaps)


def test_without_cloudtrail_a_key_policy_nobody_may_grant_from_is_likely_key_policy(evidence):
    full = evidence("key-policy-no-delegation")
    emptied = replace(full, documents={k: v for k, v in full.documents.items()
                                       if not k.startswith(("cloudtrail.lookup-events", "cloudtrail-logs/"))})
    verdict = diagnose(emptied).verdict
    assert (verdict.cause, verdict.denied_by, verdict.confidence) == ("kms-grant-denied", "key-policy", "likely")
    # a key policy that delegates to IAM proves nothing without CloudTrail: still undetermined
    seed = evidence("seed")
    no_trail = replace(seed, documents={k: v for k, v in seed.documents.items()
                                        if not k.startswith(("cloudtrail.lookup-events", "cloudtrail-logs/"))})
    assert diagnose(no_trail).verdict.cause != "kms-grant-denied" or diagnose(no_trail).verdict.denied_by != "key-policy"
