"""what_if: does a change allow the failing request, and what else does it allow (`broadened`)?

The remediations are the ones the domain notes list (the seed's scoped IAM statement, key-policy
statements); the rules are from https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html
and https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
"""

from __future__ import annotations

from kit.policy import Policy, PolicySet, Request, what_if

ACCT = "123456789012"
KEY = f"arn:aws:kms:eu-west-1:{ACCT}:key/8e3426b8-1111-2222-3333-444455556666"
USER = f"arn:aws:iam::{ACCT}:user/test"
CONTEXT = {"kms:GrantIsForAWSResource": "true", "kms:ViaService": "ec2.eu-west-1.amazonaws.com",
           "kms:GrantOperations": ["Decrypt"], "kms:EncryptionContext:aws:ebs:id": "vol-0123456789abcdef0"}
REQUEST = Request(USER, "kms:CreateGrant", KEY, CONTEXT)
ROOT = {"Sid": "Enable IAM policies", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
        "Action": "kms:*", "Resource": "*"}
EC2_ONLY = Policy({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]},
                  "managed:arn:aws:iam::aws:policy/AmazonEC2FullAccess")


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def key_policy(*statements: dict) -> Policy:
    return Policy(doc(*statements), "key-policy")


BEFORE = PolicySet(identity=[EC2_ONLY], resource_policy=key_policy(ROOT))


def with_identity(statement: dict) -> PolicySet:
    return PolicySet(identity=[EC2_ONLY, Policy(doc(statement), "inline:kit-fix")], resource_policy=key_policy(ROOT))


SEED_FIX = {"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": KEY,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": True}}}


def test_the_request_is_denied_before() -> None:
    result = what_if(REQUEST, BEFORE, BEFORE)
    assert not result.allowed and result.decision.decided_by == "identity-policy"
    assert result.broadened == []


def test_seed_fix_allows_and_broadens_nothing() -> None:
    result = what_if(REQUEST, BEFORE, with_identity(SEED_FIX))
    assert result.allowed and result.decision.decided_by == "allowed"
    assert result.broadened == []


def test_fix_without_grant_condition_broadens_to_direct_grants() -> None:
    result = what_if(REQUEST, BEFORE, with_identity({"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": KEY}))
    assert result.allowed
    assert any("called directly" in line for line in result.broadened)
    assert any("kms:GrantIsForAWSResource false" in line for line in result.broadened)
    assert all("inline:kit-fix" in line for line in result.broadened)


def test_kms_star_on_star_broadens_widely() -> None:
    result = what_if(REQUEST, BEFORE, with_identity({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}))
    assert result.allowed
    text = "\n".join(result.broadened)
    for expected in ("kms:ScheduleKeyDeletion on " + KEY, "kms:PutKeyPolicy on " + KEY, "kms:Decrypt on " + KEY,
                     "another key in the same account", "a key in another Region", 'Resource "*"'):
        assert expected in text, expected
    assert "iam:CreateUser" not in text


def test_admin_policy_broadens_beyond_kms() -> None:
    result = what_if(REQUEST, BEFORE, with_identity({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    assert any("iam:CreateUser on any resource" in line for line in result.broadened)


def test_key_policy_naming_the_user_for_aws_resources_broadens_nothing() -> None:
    statement = {"Sid": "Allow test to attach volumes", "Effect": "Allow", "Principal": {"AWS": USER},
                 "Action": "kms:CreateGrant", "Resource": "*", "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}
    result = what_if(REQUEST, BEFORE, PolicySet(identity=[EC2_ONLY], resource_policy=key_policy(ROOT, statement)))
    assert result.allowed and result.broadened == []
    assert result.decision.statement == 'key-policy Statement[1] "Allow test to attach volumes"'


def test_key_policy_opened_to_everyone_broadens_to_other_principals() -> None:
    statement = {"Sid": "everyone", "Effect": "Allow", "Principal": "*", "Action": "kms:CreateGrant", "Resource": "*"}
    result = what_if(REQUEST, BEFORE, PolicySet(identity=[EC2_ONLY], resource_policy=key_policy(ROOT, statement)))
    assert result.allowed
    text = "\n".join(result.broadened)
    assert "another IAM user of the account with no IAM policies may kms:CreateGrant" in text
    assert "a role of another account" in text


def test_restoring_root_delegation_is_reported_as_broadening() -> None:
    # the key policy named nobody but an admin role; restoring the root statement lets IAM decide for everyone
    admin = {"Sid": "admins", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:role/KeyAdmin"},
             "Action": "kms:*", "Resource": "*"}
    before = PolicySet(identity=[EC2_ONLY, Policy(doc(SEED_FIX), "inline:grant")], resource_policy=key_policy(admin))
    after = PolicySet(identity=[EC2_ONLY, Policy(doc(SEED_FIX), "inline:grant")], resource_policy=key_policy(admin, ROOT))
    result = what_if(REQUEST, before, after)
    assert result.allowed
    assert any(line.startswith("another role of the account whose IAM policies allow everything") for line in result.broadened)


def test_a_change_that_does_not_help() -> None:
    wrong_key = {"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": f"arn:aws:kms:eu-west-1:{ACCT}:alias/ebs"}
    result = what_if(REQUEST, BEFORE, with_identity(wrong_key))
    assert not result.allowed and result.decision.decided_by == "identity-policy"
    assert result.broadened == []
    assert "alias/ebs" in "\n".join(result.decision.explanation)


def test_scp_fix_is_checked_on_the_same_probes() -> None:
    full = Policy(doc({"Effect": "Allow", "Action": "*", "Resource": "*"}), "scp:r-root/p-FullAWSAccess")
    ec2 = Policy(doc({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}), "scp:ou/p-ec2")
    grant = Policy(doc(SEED_FIX), "inline:grant")
    before = PolicySet(identity=[EC2_ONLY, grant], resource_policy=key_policy(ROOT), scps=[[full], [ec2]])
    scoped = Policy(doc({"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*"}), "scp:ou/p-grant")
    after = PolicySet(identity=[EC2_ONLY, grant], resource_policy=key_policy(ROOT), scps=[[full], [ec2, scoped]])
    result = what_if(REQUEST, before, after)
    # an SCP covers every principal of the account: the change lets others with IAM permissions create grants too
    assert result.allowed
    assert [line.split(" may ")[0] for line in result.broadened] == [
        "another role of the account whose IAM policies allow everything"]
    assert "kms:CreateGrant on " + KEY in result.broadened[0]
    wide = Policy(doc({"Effect": "Allow", "Action": "*", "Resource": "*"}), "scp:ou/p-all")
    result = what_if(REQUEST, before, PolicySet(identity=[EC2_ONLY, grant], resource_policy=key_policy(ROOT),
                                                scps=[[full], [wide]]))
    assert result.allowed
    text = "\n".join(result.broadened)
    assert "kms:ScheduleKeyDeletion" in text and "another role of the account" in text
    # the caller's own IAM policies allow nothing else in KMS, so nothing new for the caller itself
    assert not any(line.startswith(USER + " may kms:") for line in result.broadened)
