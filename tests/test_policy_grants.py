"""KMS grants in the evaluator: a grant to the caller allows its operations on its own (same account or across
accounts, no key-policy or IAM statement), within its encryption-context constraint; an explicit Deny and the
SCPs still refuse."""

from __future__ import annotations

import pytest

from kit.errors import BadInput
from kit.policy import Grant, PolicySet, Request, evaluate

KEY = "arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OWNER_ONLY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "kms:*",
     "Resource": "*"}]}
SLR = "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
SLR_SESSION = "arn:aws:sts::123456789012:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling"
EBS = {"kms:EncryptionContext:aws:ebs:id": "vol-0123", "kms:ViaService": "ec2.eu-west-1.amazonaws.com"}


def decide(action: str, grants: list[Grant], key_policy: dict = OWNER_ONLY, principal: str = SLR_SESSION,
           principal_type: str = "service_linked_role_session", **more):
    request = Request(principal, action, KEY, EBS, principal_type)
    return evaluate(request, PolicySet(resource_policy=key_policy, grants=grants, **more))


def test_a_cross_account_grant_to_a_service_linked_role_allows_its_operations_only():
    grant = Grant(SLR, ("Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant"))
    assert decide("kms:Decrypt", []).decided_by == "key-policy"
    allowed = decide("kms:CreateGrant", [grant])
    assert allowed.allowed and allowed.statement == grant.name
    assert not decide("kms:ReEncryptFrom", [grant]).allowed, "an operation the grant does not hold"


def test_a_grant_to_another_principal_allows_nothing():
    other = Grant("arn:aws:iam::123456789012:role/SomeoneElse", ("Decrypt",))
    assert not decide("kms:Decrypt", [other]).allowed


def test_the_encryption_context_constraint_must_be_met():
    subset = Grant(SLR, ("Decrypt",), {"EncryptionContextSubset": {"aws:ebs:id": "vol-0123"}})
    elsewhere = Grant(SLR, ("Decrypt",), {"EncryptionContextSubset": {"aws:ebs:id": "vol-9999"}})
    assert decide("kms:Decrypt", [subset]).allowed
    assert not decide("kms:Decrypt", [elsewhere]).allowed


def test_an_explicit_deny_still_wins_over_a_grant():
    deny = {"Version": "2012-10-17", "Statement": OWNER_ONLY["Statement"] + [
        {"Sid": "NoDecrypt", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}]}
    decision = decide("kms:Decrypt", [Grant(SLR, ("Decrypt",))], key_policy=deny)
    assert decision.decided_by == "explicit-deny"


def test_scps_still_apply_to_a_customer_role_with_a_grant():
    role = "arn:aws:iam::123456789012:role/ci-runner"
    session = "arn:aws:sts::123456789012:assumed-role/ci-runner/build-7"
    scp = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}
    grant = Grant(role, ("Decrypt",))
    assert decide("kms:Decrypt", [grant], principal=session, principal_type="role_session").allowed
    refused = decide("kms:Decrypt", [grant], principal=session, principal_type="role_session", scps=[[scp]])
    assert refused.decided_by == "scp"


def test_a_grant_is_checked_as_input():
    with pytest.raises(BadInput, match="grant.grantee"):
        Grant("AWSServiceRoleForAutoScaling", ("Decrypt",))
    with pytest.raises(BadInput, match="grant.operations"):
        Grant(SLR, ("kms:Decrypt",))
