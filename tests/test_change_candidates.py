"""Which recorded calls are changes, to which layer, and which touch the failing request
(kit.diagnose.change_candidates), on CloudTrail records shaped as AWS writes them."""

from __future__ import annotations

import json

from kit.diagnose.change_candidates import Subject, candidates, touches
from kit.frames.cloudtrail import events_frame

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = "arn:aws:kms:eu-west-1:123456789012:key/0000abcd-12ab-34cd-56ef-1234567890ab"
POLICY = "arn:aws:iam::123456789012:policy/batch-kms"


def record(name: str, source: str, request: dict, *, region: str = "eu-west-1", error: str | None = None,
           time: str = "2026-11-28T10:00:00Z", response: dict | None = None) -> dict:
    out = {"eventVersion": "1.08", "eventID": f"{name}-{time}-{json.dumps(request, sort_keys=True)}",
           "eventTime": time, "eventSource": f"{source}.amazonaws.com", "eventName": name, "awsRegion": region,
           "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/admin",
                            "accountId": "123456789012", "userName": "admin"},
           "requestParameters": request, "responseElements": response, "recipientAccountId": "123456789012"}
    if error:
        out["errorCode"] = error
    return out


def in_order(*records: dict) -> list[dict]:
    """The records a minute apart, in the order given (candidates come oldest first)."""
    return [dict(r, eventTime=f"2026-11-28T10:{i:02d}:00Z") for i, r in enumerate(records)]


SUBJECT = Subject(key_arn=KEY, principal_arn="arn:aws:iam::123456789012:role/batch", principal_type="role",
                  principal_name="batch", groups=(), policy_arns=(POLICY,), scp_targets=("123456789012", "ou-ab12-cdef3456",
                                                                                            "r-ab12"),
                  scp_ids=("p-abcd1234",), region="eu-west-1", implicit_default_key=False)


def test_change_calls_and_their_layers():
    frame = events_frame(in_order(
        record("PutKeyPolicy", "kms", {"keyId": KEY, "policyName": "default", "policy": "{}"}),
        record("DisableKey", "kms", {"keyId": KEY}),
        record("CreatePolicyVersion", "iam", {"policyArn": POLICY, "policyDocument": "{}", "setAsDefault": True},
               region="us-east-1"),
        record("AttachPolicy", "organizations", {"policyId": "p-abcd1234", "targetId": "ou-ab12-cdef3456"},
               region="us-east-1"),
        record("ModifyEbsDefaultKmsKeyId", "ec2", {"ModifyEbsDefaultKmsKeyIdRequest": {"KmsKeyId": KEY}}),
        record("DescribeKey", "kms", {"keyId": KEY}),  # a read: never a change
        record("DisableKey", "kms", {"keyId": KEY}, error="AccessDenied"),  # refused: changed nothing
        record("PutKeyPolicy", "iam", {"keyId": KEY}),  # wrong source for the name: not KMS's call
    ))
    found = candidates(frame)
    assert [(c.event_name, c.layer) for c in found] == [
        ("PutKeyPolicy", "key-policy"), ("DisableKey", "key-state"), ("CreatePolicyVersion", "identity-policy"),
        ("AttachPolicy", "scp"), ("ModifyEbsDefaultKmsKeyId", "ebs-default")]
    assert found[-1].key_ref() == KEY  # EC2 wraps newer APIs' parameters in <Operation>Request


def test_what_touches_the_failing_request():
    frame = events_frame(in_order(
        record("PutKeyPolicy", "kms", {"keyId": KEY, "policy": "{}"}),
        record("PutKeyPolicy", "kms", {"keyId": OTHER_KEY, "policy": "{}"}),
        record("DetachRolePolicy", "iam", {"roleName": "batch", "policyArn": POLICY}, region="us-east-1"),
        record("DetachRolePolicy", "iam", {"roleName": "other-role", "policyArn": POLICY}, region="us-east-1"),
        record("DetachUserPolicy", "iam", {"userName": "batch", "policyArn": POLICY}, region="us-east-1"),
        record("CreatePolicyVersion", "iam", {"policyArn": POLICY, "policyDocument": "{}"}, region="us-east-1"),
        record("CreatePolicyVersion", "iam", {"policyArn": POLICY + "-other", "policyDocument": "{}"},
               region="us-east-1"),
        record("AttachPolicy", "organizations", {"policyId": "p-new", "targetId": "ou-ab12-cdef3456"},
               region="us-east-1"),
        record("AttachPolicy", "organizations", {"policyId": "p-new", "targetId": "ou-zz99-elsewhere"},
               region="us-east-1"),
        record("ModifyEbsDefaultKmsKeyId", "ec2", {"ModifyEbsDefaultKmsKeyIdRequest": {"KmsKeyId": KEY}}),
    ))
    touched = [(c.event_name, touches(c, SUBJECT)) for c in candidates(frame)]
    assert touched == [("PutKeyPolicy", True), ("PutKeyPolicy", False),
                       ("DetachRolePolicy", True), ("DetachRolePolicy", False),
                       ("DetachUserPolicy", False),  # a user of the same name is another principal
                       ("CreatePolicyVersion", True), ("CreatePolicyVersion", False),
                       ("AttachPolicy", True), ("AttachPolicy", False),
                       ("ModifyEbsDefaultKmsKeyId", False)]  # the launch named its key: defaults do not matter


def test_account_moves_and_policy_types_are_organizations_changes_to_the_chain():
    """MoveAccount (requestParameters accountId, sourceParentId, destinationParentId) touches the request when it
    moves the launcher's account; EnablePolicyType when it names the chain's root. Both only as Organizations
    records them (the management account's us-east-1)."""
    frame = events_frame(in_order(
        record("MoveAccount", "organizations", {"accountId": "123456789012", "sourceParentId": "ou-ab12-aaaa1111",
                                                "destinationParentId": "ou-ab12-cdef3456"}, region="us-east-1"),
        record("MoveAccount", "organizations", {"accountId": "444455556666", "sourceParentId": "ou-ab12-aaaa1111",
                                                "destinationParentId": "ou-ab12-cdef3456"}, region="us-east-1"),
        record("EnablePolicyType", "organizations", {"rootId": "r-ab12", "policyType": "SERVICE_CONTROL_POLICY"},
               region="us-east-1", response={"root": {"id": "r-ab12"}}),
        record("EnablePolicyType", "organizations", {"rootId": "r-zz99", "policyType": "TAG_POLICY"},
               region="us-east-1"),
        record("MoveAccount", "iam", {"accountId": "123456789012"}),  # not Organizations' call: not a change
    ))
    found = candidates(frame)
    assert [(c.event_name, c.layer, touches(c, SUBJECT)) for c in found] == [
        ("MoveAccount", "scp", True), ("MoveAccount", "scp", False),  # another account moved
        ("EnablePolicyType", "scp", True), ("EnablePolicyType", "scp", False)]  # another organization's root
    assert found[0].param("sourceParentId") == "ou-ab12-aaaa1111"
