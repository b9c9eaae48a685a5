"""Issue 16, defects 16 and 17: a policy layer the kit cannot read or parse stays unknown, never allow.

16: one malformed policy (a statement with `"Effect": "allow"`) used to stop the whole investigation; it is now
    a gap naming the policy, what is wrong with it and that its layer is unknown, and CloudTrail still decides.
17: an unreadable key policy (GetKeyPolicy AccessDenied) used to be replaced by a stand-in that let the caller
    through: the evaluator read "allowed", the cross-check against CloudTrail's refusal failed and no fix was
    proposed. The refusal must come from a layer the evidence lacks: the verdict says so, with no more
    confidence than the evidence gives, the gap says how to read that layer, and its fix is proposed unverified.

Evidence is built from AWS CLI output shapes (tests/test_diagnose_units.py).
"""

from __future__ import annotations

import json
from dataclasses import replace

from kit.diagnose import diagnose
from kit.evidence import Evidence, Gap
from tests.test_diagnose_units import (ACCOUNT, INSTANCE, KEY_ARN, KEY_ID, USER, authorization_details, evidence, lookup,
                                       seed_documents, start_and_denied_grant, validate)

GRANT = {"Sid": "CreateGrantOnTheKey", "Effect": "Allow", "Action": "kms:CreateGrant", "Resource": KEY_ARN}
LOWER_CASE_ALLOW = {"Sid": "LowerCase", "Effect": "allow", "Action": "kms:Decrypt", "Resource": "*"}
KEY_POLICY_REFUSES = (f"User: {USER} is not authorized to perform: kms:CreateGrant on resource: {KEY_ARN} because no "
                      "resource-based policy allows the kms:CreateGrant action")
GENERIC_REFUSAL = f"User: {USER} is not authorized to perform: kms:CreateGrant on resource: {KEY_ARN}"
TRAIL = f"cloudtrail.lookup-events.{INSTANCE}.json"
GAAD = "iam.get-account-authorization-details.json"
KEY_POLICY = f"kms.get-key-policy.{KEY_ID}.json"
UNREADABLE_KEY_POLICY = Gap("kms:GetKeyPolicy", "AccessDeniedException",
                            "the key policy could not be read", f"aws kms get-key-policy --key-id {KEY_ID}")


def _gap(findings, fragment):
    return [g for g in findings.gaps if fragment in g.call]


# ---- 16: a malformed policy is a gap, not the end of the investigation ---------------------------------------

def test_a_malformed_identity_policy_is_a_gap_and_cloudtrail_still_decides():
    docs = seed_documents(**{GAAD: authorization_details([LOWER_CASE_ALLOW])})
    findings = diagnose(evidence(docs))  # raised BadInput before the fix
    assert (findings.verdict.cause, findings.verdict.denied_by) == ("kms-grant-denied", "identity-policy")
    assert findings.verdict.confidence == "confirmed"  # CloudTrail's refusal names the layer
    gaps = _gap(findings, "inline:ec2-full-access")
    assert len(gaps) == 1, findings.gaps
    assert "Effect" in gaps[0].impact and "'allow'" in gaps[0].impact
    assert "identity-policy" in gaps[0].impact and "unknown" in gaps[0].impact
    assert gaps[0].next_step and "get-account-authorization-details" in gaps[0].next_step
    assert findings.step("authorization").status == "unknown"  # never pass with a layer unread
    assert findings.step("cross-check").status != "fail"
    assert not any(r.verified for r in findings.remediation)
    validate(findings)


def test_a_malformed_key_policy_is_a_gap_naming_the_key_and_cloudtrail_still_decides():
    bad = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Admins", "Effect": "allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
         "Action": "kms:*", "Resource": "*"}]}
    docs = seed_documents(**{KEY_POLICY: {"Policy": json.dumps(bad), "PolicyName": "default"},
                             GAAD: authorization_details([GRANT]),
                             TRAIL: lookup(start_and_denied_grant(KEY_POLICY_REFUSES))})
    findings = diagnose(evidence(docs))  # raised BadInput before the fix
    assert (findings.verdict.cause, findings.verdict.denied_by) == ("kms-grant-denied", "key-policy")
    gaps = _gap(findings, KEY_ARN)
    assert len(gaps) == 1, findings.gaps
    assert "key policy" in gaps[0].call and "Effect" in gaps[0].impact and "key-policy" in gaps[0].impact
    assert gaps[0].next_step and f"aws kms get-key-policy --key-id {KEY_ARN}" in gaps[0].next_step
    fixes = [r for r in findings.remediation if r.kind == "key-policy"]
    assert fixes and not any(r.verified for r in findings.remediation)
    validate(findings)


# ---- 17: an unreadable layer stays unknown --------------------------------------------------------------------

def test_an_unreadable_key_policy_and_a_generic_refusal_name_the_only_unknown_layer():
    docs = seed_documents(**{KEY_POLICY: None, GAAD: authorization_details([GRANT]),
                             TRAIL: lookup(start_and_denied_grant(GENERIC_REFUSAL))})
    findings = diagnose(evidence(docs, [UNREADABLE_KEY_POLICY]))
    verdict = findings.verdict
    # every layer the evidence shows allows, CloudTrail shows the refusal: the key policy refused
    assert (verdict.cause, verdict.denied_by) == ("kms-grant-denied", "key-policy")
    assert verdict.confidence == "likely"  # by elimination, not named by AWS
    assert findings.step("cross-check").status == "unknown"  # no contradiction: the refusing layer is unseen
    authorization = findings.step("authorization")
    assert authorization.status == "unknown"
    assert list(authorization.rows["decision"]) == ["unknown"]  # never "allow" on a stand-in
    gaps = _gap(findings, "diagnosis:key-policy")
    assert len(gaps) == 1 and gaps[0].next_step
    assert f"aws kms get-key-policy --key-id {KEY_ARN} --policy-name default" in gaps[0].next_step
    assert "assumed it allows" not in gaps[0].impact
    fixes = [r for r in findings.remediation if r.kind == "key-policy"]
    assert len(fixes) == 1 and fixes[0].layer == "key-policy" and fixes[0].target == KEY_ARN
    assert fixes[0].verified is False and "not verified" in fixes[0].note
    statements = fixes[0].document["Statement"]
    assert any(s["Principal"] == {"AWS": USER} and s["Action"] == "kms:CreateGrant" for s in statements)
    assert not any(r.verified for r in findings.remediation)
    validate(findings)


def test_an_unreadable_key_policy_named_by_cloudtrail_is_confirmed_and_gets_an_unverified_fix():
    docs = seed_documents(**{KEY_POLICY: None, GAAD: authorization_details([GRANT]),
                             TRAIL: lookup(start_and_denied_grant(KEY_POLICY_REFUSES))})
    findings = diagnose(evidence(docs, [UNREADABLE_KEY_POLICY]))
    assert (findings.verdict.denied_by, findings.verdict.confidence) == ("key-policy", "confirmed")
    fixes = [r for r in findings.remediation if r.kind == "key-policy"]
    assert len(fixes) == 1 and not fixes[0].verified  # no fix was proposed before
    validate(findings)


def test_two_unknown_layers_and_a_generic_refusal_stay_unknown_with_a_fix_for_each():
    docs = seed_documents(**{KEY_POLICY: None, GAAD: None, TRAIL: lookup(start_and_denied_grant(GENERIC_REFUSAL))})
    findings = diagnose(evidence(docs, [UNREADABLE_KEY_POLICY]))
    assert (findings.verdict.cause, findings.verdict.denied_by) == ("kms-grant-denied", "unknown")
    assert findings.step("cross-check").status == "unknown"
    assert {g.call for g in findings.gaps} >= {"diagnosis:key-policy", "diagnosis:identity-policy"}
    layers = {r.layer for r in findings.remediation if r.kind in ("key-policy", "iam-policy")}
    assert layers == {"key-policy", "identity-policy"}
    assert not any(r.verified for r in findings.remediation)
    validate(findings)


def _organization(account_scp_content: str) -> dict:
    """organizations.* files: the account under the root; FullAWSAccess on the root, one SCP on the account."""
    full = {"Id": "p-FullAWSAccess", "Name": "FullAWSAccess", "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": True,
            "Arn": "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess"}
    guard = {"Id": "p-guard1234", "Name": "guard", "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": False,
             "Arn": "arn:aws:organizations::999988887777:policy/o-abc/service_control_policy/p-guard1234"}
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    return {
        f"organizations.list-parents.{ACCOUNT}.json": {"Parents": [{"Id": "r-ab12", "Type": "ROOT"}]},
        "organizations.list-policies-for-target.r-ab12.json": {"Policies": [full]},
        f"organizations.list-policies-for-target.{ACCOUNT}.json": {"Policies": [guard]},
        "organizations.describe-policy.p-FullAWSAccess.json": {"Policy": {"PolicySummary": full,
                                                                          "Content": json.dumps(allow_all)}},
        "organizations.describe-policy.p-guard1234.json": {"Policy": {"PolicySummary": guard,
                                                                      "Content": account_scp_content}},
    }


def test_a_malformed_scp_is_a_gap_naming_its_id_and_its_level_stays_unknown():
    bad = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]})
    refusal = (f"User: {USER} is not authorized to perform: kms:CreateGrant on resource: {KEY_ARN} because no "
               "service control policy allows the kms:CreateGrant action")
    docs = seed_documents(**{GAAD: authorization_details([GRANT]), TRAIL: lookup(start_and_denied_grant(refusal)),
                             **_organization(bad)})
    findings = diagnose(evidence(docs))  # raised BadInput before the fix
    assert (findings.verdict.cause, findings.verdict.denied_by) == ("kms-grant-denied", "scp")
    gaps = [g for g in findings.gaps if g.call.startswith("policy:scp:") and "p-guard1234" in g.call]
    assert len(gaps) == 1 and "Effect" in gaps[0].impact and "scp" in gaps[0].impact
    assert gaps[0].next_step == "aws organizations describe-policy --policy-id p-guard1234"
    assert list(findings.step("authorization").rows["decision"]) == ["unknown"]
    assert findings.step("cross-check").status == "unknown"
    scp_items = [r for r in findings.remediation if r.layer == "scp"]
    assert scp_items and not any(r.verified for r in findings.remediation)
    validate(findings)


def test_a_known_explicit_deny_still_decides_beside_a_malformed_identity_policy():
    deny = {"Sid": "NoGrants", "Effect": "Deny", "Action": "kms:CreateGrant", "Resource": "*"}
    details = authorization_details([deny])
    details["UserDetailList"][0]["UserPolicyList"].append(
        {"PolicyName": "broken", "PolicyDocument": {"Version": "2012-10-17", "Statement": [LOWER_CASE_ALLOW]}})
    refusal = (f"User: {USER} is not authorized to perform: kms:CreateGrant on resource: {KEY_ARN} with an "
               "explicit deny in an identity-based policy")
    docs = seed_documents(**{GAAD: details, TRAIL: lookup(start_and_denied_grant(refusal))})
    findings = diagnose(evidence(docs))  # raised BadInput before the fix
    assert (findings.verdict.denied_by, findings.verdict.confidence) == ("explicit-deny", "confirmed")
    assert findings.step("authorization").status == "fail"  # the Deny it can read is conclusive
    assert findings.step("cross-check").status == "pass"
    assert [g.call for g in findings.gaps if g.error == "malformed"] == ["policy:inline:broken"]
    assert not any(r.verified for r in findings.remediation)  # the identity layer is not fully known
    validate(findings)


# ---- the same on evidence collected from the simulated account --------------------------------------------------

def _collected(sim, name: str) -> Evidence:
    from kit.collect.live import collect_live

    seeded = sim.scenario(name)
    return collect_live(seeded.instance_id, seeded.region)


def test_simulated_key_policy_unreadable_keeps_the_verdict_and_proposes_the_fix_unverified(sim, sim_env):
    seeded = sim.scenario("key-policy-no-delegation")
    live = _collected(sim, "key-policy-no-delegation")
    key_files = [k for k in live.documents if k.startswith("kms.get-key-policy.")]
    assert key_files  # the collector could read it; the test takes it away as an AccessDenied would
    documents = {k: v for k, v in live.documents.items() if k not in key_files}
    gap = Gap("kms:GetKeyPolicy", "AccessDeniedException", "the key policy could not be read")
    findings = diagnose(replace(live, documents=documents, gaps=[*live.gaps, gap]))
    verdict = findings.verdict
    assert (verdict.cause, verdict.denied_by, verdict.key_arn) == (
        seeded.expected["cause"], "key-policy", seeded.expected["key_arn"])
    assert findings.step("cross-check").status == "unknown"
    assert list(findings.step("authorization").rows["decision"]) == ["unknown"]
    gaps = [g for g in findings.gaps if g.call == "diagnosis:key-policy"]
    assert len(gaps) == 1 and f"aws kms get-key-policy --key-id {verdict.key_arn}" in (gaps[0].next_step or "")
    fixes = [r for r in findings.remediation if r.kind == "key-policy"]
    assert len(fixes) == 1 and fixes[0].target == verdict.key_arn and not fixes[0].verified
    assert not any(r.verified for r in findings.remediation)
    validate(findings)


def test_simulated_malformed_key_policy_is_a_gap_and_the_verdict_stands(sim, sim_env):
    seeded = sim.scenario("key-policy-no-delegation")
    live = _collected(sim, "key-policy-no-delegation")
    documents = dict(live.documents)
    for name in [k for k in documents if k.startswith("kms.get-key-policy.")]:
        answer = dict(documents[name])
        answer["Policy"] = answer["Policy"].replace('"Effect": "Allow"', '"Effect": "allow"', 1)
        assert answer["Policy"] != documents[name]["Policy"]
        documents[name] = answer
    findings = diagnose(replace(live, documents=documents))  # raised BadInput before the fix
    assert (findings.verdict.cause, findings.verdict.denied_by) == (seeded.expected["cause"], "key-policy")
    gaps = [g for g in findings.gaps if g.error == "malformed"]
    assert [g.call for g in gaps] == [f"policy:key policy of key {seeded.expected['key_arn']}"]
    assert "'allow'" in gaps[0].impact
    validate(findings)


def test_the_notebook_names_the_layers_only_a_stand_in_allowed() -> None:
    """The failing-request table says "unknown", not "allow", when a stand-in made the allow (#17)."""
    from kit.diagnose.authorization import stand_in_identity, stand_in_key_policy
    from kit.notebook.investigation import _stand_in_layers
    from kit.policy import Policy, PolicySet

    key = "arn:aws:kms:eu-west-1:123456789012:key/8e3426b8-1111-2222-3333-444455556666"
    known = Policy({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                   "inline:admin")
    key_policy = Policy({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*",
                                                                 "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]},
                        "key-policy")
    assert _stand_in_layers(PolicySet(identity=[known], resource_policy=stand_in_key_policy("arn:aws:iam::123456789012:user/u"))) \
        == ["key-policy"]
    assert _stand_in_layers(PolicySet(identity=[stand_in_identity(key)], resource_policy=key_policy)) \
        == ["identity-policy"]
    assert _stand_in_layers(PolicySet(identity=[known], resource_policy=key_policy)) == []
    assert _stand_in_layers(None) == []
