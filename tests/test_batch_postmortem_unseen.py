"""An outage the kit's authors did not shape its logic on, end to end over HTTP (`kit scan`, `kit batch`, the
index and `kit postmortem`): two recorded changes at different times in me-central-1 and il-central-1.

- outage-unseen-policy-version: a CreatePolicyVersion (setAsDefault) of the report-builder role's managed
  policy, once in 123456789012 (IAM is global: it breaks the starts in both Regions) and once in 444455556666;
- outage-unseen-key-policy-fixed: a PutKeyPolicy that dropped the payments key's IAM delegation three days
  earlier (the policy it replaced is not in the look-back), put back by the on-call six minutes after the failure.

The truth is the seeded trail: each group names its own change (who, when, event id), its blast radius is the
instances that change broke and no other, the rollback is the call that reverses it, and a change already
undone says so (no rollback needed).
"""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser

import pandas as pd
import pytest

from kit.postmortem.batch import read_batch

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("batch-postmortem-unseen")]

VERSION, FIXED = "outage-unseen-policy-version", "outage-unseen-key-policy-fixed"
REGIONS = ("me-central-1", "il-central-1")  # no other scenario or test seeds into them
ACCOUNTS = ("123456789012", "444455556666")
ROLE = "OrganizationAccountAccessRole"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def _text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.chunks).split())


def _kit(sim, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**sim.process_environ_without_aws(), **sim.environ()}
    return subprocess.run([sys.executable, "-m", "kit", *args], env=env, capture_output=True, text=True, timeout=600)


def _trail(sim, account: str, region: str, event_name: str, mentioning: str) -> list[dict]:
    """The seeded CloudTrail records of an account (the truth) with that name that mention a value, oldest
    first, read as any client reads them (444455556666 through its OrganizationAccountAccessRole)."""
    import boto3

    env = sim.environ()
    keys = {"aws_access_key_id": env["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"]}
    if account != "123456789012":
        sts = boto3.client("sts", region_name="us-east-1", endpoint_url=env["AWS_ENDPOINT_URL"], **keys)
        credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="truth")
        keys = {"aws_access_key_id": credentials["Credentials"]["AccessKeyId"],
                "aws_secret_access_key": credentials["Credentials"]["SecretAccessKey"],
                "aws_session_token": credentials["Credentials"]["SessionToken"]}
    client = boto3.client("cloudtrail", region_name=region, endpoint_url=env["AWS_ENDPOINT_URL"], **keys)
    events = client.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}])
    records = [json.loads(e["CloudTrailEvent"]) for e in events["Events"]]
    return sorted((r for r in records if mentioning in json.dumps(r)), key=lambda r: r["eventTime"])


@pytest.fixture(scope="module")
def outage(sim, tmp_path_factory):
    params = tmp_path_factory.mktemp("unseen-params")
    scan = _kit(sim, "scan", *[a for r in REGIONS for a in ("--region", r)],
                *[a for acc in ACCOUNTS for a in ("--account", acc)], "--role-name", ROLE, "--out", str(params))
    assert scan.returncode == 0, scan.stderr[-3000:]
    out = tmp_path_factory.mktemp("unseen-batch")
    batch = _kit(sim, "batch", *map(str, sorted(params.glob("*.yaml"))), "--out", str(out), "--jobs", "2")
    assert batch.returncode == 0, batch.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    by_instance = {e["instance_id"]: e for e in summary["incidents"]}
    seeded = {name: [s for s in sim.seeded if s.name == name] for name in (VERSION, FIXED)}
    return {"out": out, "summary": summary, "seeded": seeded, "by_instance": by_instance}


def _group_of(summary: dict, instance_id: str) -> dict:
    [group] = [g for g in summary["groups"] if instance_id in g["blast_radius"]["instances"]]
    return group


def test_each_change_is_its_own_group_with_its_own_instances(sim, outage) -> None:
    summary, seeded = outage["summary"], outage["seeded"]
    assert summary["counts"] == {"incidents": 4, "ok": 4, "failed": 0}
    assert len(seeded[VERSION]) == 3 and len(seeded[FIXED]) == 1
    [home] = [s for s in seeded[VERSION] if (s.account_id, s.region) == ("123456789012", "me-central-1")]
    [abroad] = [s for s in seeded[VERSION] if s.region == "il-central-1"]
    [other] = [s for s in seeded[VERSION] if s.account_id == "444455556666"]
    # 123456789012: ONE CreatePolicyVersion (IAM is global) broke its starts in both Regions
    group = _group_of(summary, home.instance_id)
    radius = group["blast_radius"]
    assert radius["instances"] == sorted([home.instance_id, abroad.instance_id])
    assert radius["regions"] == sorted(REGIONS) and radius["accounts"] == ["123456789012"]
    [truth] = _trail(sim, "123456789012", "us-east-1", "CreatePolicyVersion", "arn:aws:iam::123456789012:policy/report-builder-kms")
    change = group["change"]
    assert (change["event_id"], change["event_name"]) == (truth["eventID"], "CreatePolicyVersion")
    assert change["principal_arn"] == "arn:aws:iam::123456789012:user/security-reviewer"
    assert pd.Timestamp(change["event_time"]) == pd.Timestamp(truth["eventTime"])
    assert change["rollback"] == ("aws iam set-default-policy-version --policy-arn "
                                  "arn:aws:iam::123456789012:policy/report-builder-kms --version-id v1")
    assert change["denied_now"] is True and change["undone_by"] is None
    times = sorted(outage["by_instance"][i]["incident_time"] for i in radius["instances"])
    assert (group["first_failure"], group["last_failure"]) == (times[0], times[-1])
    # 444455556666's own call: another event, another group, never merged with the first
    second = _group_of(summary, other.instance_id)
    assert second["id"] != group["id"] and second["blast_radius"]["instances"] == [other.instance_id]
    assert second["change"]["event_id"] != change["event_id"]
    assert second["change"]["principal_arn"] == "arn:aws:iam::444455556666:user/security-reviewer"


def test_a_key_policy_rewritten_then_put_back_is_named_and_needs_no_rollback(sim, outage) -> None:
    """The policy the PutKeyPolicy replaced is not in the look-back; the same CreateGrant worked nine days
    earlier with no change in between, so that PutKeyPolicy is named. The on-call's later PutKeyPolicy allows
    the request again: the group says the rollback is not needed and which change undid it."""
    [seeded] = outage["seeded"][FIXED]
    group = _group_of(outage["summary"], seeded.instance_id)
    assert group["blast_radius"]["instances"] == [seeded.instance_id]  # nothing of the IAM change in it
    change = group["change"]
    puts = _trail(sim, seeded.account_id, "me-central-1", "PutKeyPolicy", seeded.expected["key_arn"])
    assert [p["userIdentity"]["userName"] for p in puts] == ["platform-terraform", "key-admin-oncall"]
    assert (change["event_name"], change["event_id"]) == ("PutKeyPolicy", puts[0]["eventID"])
    assert change["principal_arn"].endswith(":user/platform-terraform") and "last success" in change["summary"]
    assert change["denied_now"] is False
    assert change["undone_by"]["event_id"] == puts[1]["eventID"]
    assert change["undone_by"]["principal_arn"].endswith(":user/key-admin-oncall")
    findings = json.loads((outage["out"] / outage["by_instance"][seeded.instance_id]["findings"]).read_text())
    assert findings["verdict"]["change"]["before"] is None and findings["verdict"]["last_success"]


def test_the_index_and_postmortem_answer_what_to_roll_back(sim, outage) -> None:
    out = outage["out"]
    index = _text((out / "index.html").read_text())
    assert index.count("Roll back Still needed") == 2 and index.count("Roll back Not needed now") == 1
    assert "--version-id v1" in index and "key-admin-oncall" in index
    assert index.index("Roll back") < index.index("Incident time")  # the answer before the table
    result = _kit(sim, "postmortem", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    page = _text((out / "postmortem.html").read_text())
    fix = page[page.index("Fix "):page.index("Groups")]
    assert fix.count("roll back CreatePolicyVersion (aws iam set-default-policy-version") == 2
    assert "PutKeyPolicy is already undone by PutKeyPolicy of user/key-admin-oncall" in fix
    assert "4 instances failed to launch" in page and "2 Regions (il-central-1, me-central-1)" in page
    changes = read_batch(out).changes_frame().set_index("event_name")
    assert sorted(changes.loc["CreatePolicyVersion", "still_denied"]) == [1, 2]
    assert changes.loc["PutKeyPolicy", "still_denied"] == 0 and changes["incidents"].sum() == 4
