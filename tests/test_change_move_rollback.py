"""A MoveAccount's rollback (kit.diagnose.change) against the simulated organization of change-account-moved,
with the evidence edited as a reviewer would break it: the chain's levels are the targets above the account at
that point of the walk (never the levels the account's targets hold now), the chain it left is taken as it was
at the move (its SCP changes since looked up in the management account and undone), a move that did not put the
account where it is is not rolled back, and an unreadable chain it left says nothing of the SCPs that apply now.

One live collection of the scenario (with the management account's reader role); every other case is that
evidence edited."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

from kit.collect.clients import make_session
from kit.collect.live import collect_live
from kit.diagnose import diagnose
from kit.evidence import Evidence, Gap
from kit.simulate.organization import change_reader_arn
from tests.aws_cli_runs import management_credentials

MOVE_SCENARIO = "change-account-moved"
DENY_GRANTS = {"Version": "2012-10-17", "Statement": [
    {"Sid": "DenyAllGrants", "Effect": "Deny", "Action": "kms:CreateGrant", "Resource": "*"}]}
ALLOW_S3_ONLY = {"Version": "2012-10-17", "Statement": [{"Sid": "OnlyS3", "Effect": "Allow", "Action": "s3:*",
                                                         "Resource": "*"}]}


@pytest.fixture(scope="module")
def moved(sim, aws_env) -> dict[str, Any]:
    """The scenario's live evidence (management account read), its diagnosis, and the OUs by name."""
    import boto3

    from kit.simulate.world import world

    seeded = sim.scenario(MOVE_SCENARIO)
    evidence = collect_live(seeded.instance_id, seeded.region,
                            org_session=make_session(role_arn=change_reader_arn(), region="us-east-1"))
    with management_credentials():
        org = boto3.client("organizations", region_name="us-east-1")
        units = org.list_organizational_units_for_parent(ParentId=world().organization["ou_id"])["OrganizationalUnits"]
    return {"evidence": evidence, "result": diagnose(evidence), "units": {u["Name"]: u["Id"] for u in units},
            "workloads": world().organization["ou_id"]}


def _moves(evidence: Evidence) -> dict[str, tuple[str, dict[str, Any]]]:
    """The account's recorded moves by the parent they left: (document name, LookupEvents event)."""
    out = {}
    for name, document in evidence.documents.items():
        if name.startswith("cloudtrail.lookup-events.change-org-"):
            for event in document.get("Events") or []:
                record = json.loads(event["CloudTrailEvent"])
                if record["eventName"] == "MoveAccount":
                    out[record["requestParameters"]["sourceParentId"]] = (name, event)
    return out


def _as_call(event: dict[str, Any], name: str, request: dict[str, Any], at: pd.Timestamp) -> dict[str, Any]:
    """The management account's MoveAccount event recorded as another Organizations call by the same
    administrator: same shape, other name, parameters, time and id."""
    record = json.loads(event["CloudTrailEvent"])
    record.update(eventName=name, requestParameters=request, responseElements=None,
                  eventTime=at.strftime("%Y-%m-%dT%H:%M:%SZ"), eventID=f"{record['eventID'][:-8]}{name[:8].lower():0>8}")
    return dict(event, EventName=name, EventId=record["eventID"], EventTime=at.timestamp(),
                CloudTrailEvent=json.dumps(record))


def _when(event: dict[str, Any]) -> pd.Timestamp:
    return pd.Timestamp(json.loads(event["CloudTrailEvent"])["eventTime"])


def _with_events(documents: dict[str, Any], name: str, *events: dict[str, Any]) -> None:
    documents[name] = dict(documents.get(name) or {}, Events=list(events) + list((documents.get(name) or {})
                                                                               .get("Events") or []))


def _scp(documents: dict[str, Any], policy_id: str, name: str, content: dict[str, Any]) -> dict[str, Any]:
    """describe-policy of an SCP (as Organizations answers); its summary for list-policies-for-target."""
    summary = {"Id": policy_id, "Name": name, "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": False,
               "Arn": f"arn:aws:organizations::111122223333:policy/o-test/service_control_policy/{policy_id}"}
    documents[f"organizations.describe-policy.{policy_id}.json"] = {"Policy": {"PolicySummary": summary,
                                                                               "Content": json.dumps(content)}}
    return summary


def _named(evidence: Evidence) -> tuple[str, str | None] | None:
    change = diagnose(evidence).verdict.change
    if change is None:
        return None
    record = next(json.loads(e["CloudTrailEvent"]) for d in evidence.documents.values() if isinstance(d, dict)
                  for e in d.get("Events") or [] if e.get("EventId") == change["event_id"])
    return change["event_name"], (record.get("requestParameters") or {}).get("sourceParentId")


def test_the_chain_left_is_looked_up_in_the_management_account(moved):
    """The targets and SCPs of the OU the account left, not above it now, are looked up for their changes
    since the move, in the management account; the scenario's move is still named."""
    evidence, onboarding = moved["evidence"], moved["units"]["Onboarding"]
    assert f"cloudtrail.lookup-events.change-org-{onboarding}.json" in evidence.documents
    guardrail = next(p["Id"] for p in evidence.documents[f"organizations.list-policies-for-target.{onboarding}.json"]
                     ["Policies"] if p["Name"] == "OnboardingGuardrails")
    assert f"cloudtrail.lookup-events.change-scp-{guardrail}.json" in evidence.documents
    looked = [c["params"]["LookupAttributes"][0]["AttributeValue"] for c in evidence.calls
              if c["operation"] == "cloudtrail:LookupEvents"]
    assert onboarding in looked and guardrail in looked
    assert _named(evidence) == ("MoveAccount", onboarding)


def test_without_the_look_up_of_the_chain_left_the_move_is_not_named(moved):
    evidence, onboarding = moved["evidence"], moved["units"]["Onboarding"]
    missing = f"cloudtrail.lookup-events.change-org-{onboarding}.json"
    result = diagnose(replace(evidence, documents={k: v for k, v in evidence.documents.items() if k != missing}))
    assert result.verdict.change is None
    assert "MoveAccount" in {o["event_name"] for o in result.other_changes}


def test_a_detach_on_the_destination_before_the_move_changes_nothing_in_the_chain_left(moved):
    """Onboarding allowing only s3:*, and FullAWSAccess detached from Restricted six hours before the move: under
    Onboarding the request was denied too, so the move is not named; once it is rolled back, Restricted is not
    above the account, so the detach cannot be named either (its level is not Onboarding's). The move into
    Onboarding (from Workloads) is what the evidence then shows."""
    evidence, units, workloads = moved["evidence"], moved["units"], moved["workloads"]
    onboarding, restricted = units["Onboarding"], units["Restricted"]
    documents = dict(evidence.documents)
    documents[f"organizations.list-policies-for-target.{onboarding}.json"] = {
        "Policies": [_scp(documents, "p-onlys3000", "OnlyS3", ALLOW_S3_ONLY)]}
    documents["cloudtrail.lookup-events.change-scp-p-onlys3000.json"] = {"Events": []}  # looked up: never changed
    _, move = _moves(evidence)[onboarding]
    detach = _as_call(move, "DetachPolicy", {"policyId": "p-FullAWSAccess", "targetId": restricted},
                      _when(move) - timedelta(hours=6))
    _with_events(documents, f"cloudtrail.lookup-events.change-org-{restricted}.json", detach)
    assert _named(replace(evidence, documents=documents)) == ("MoveAccount", workloads)


def test_scp_changes_to_the_chain_left_since_the_move_are_undone(moved):
    """A Deny of every grant detached from Onboarding a day after the account left it: at the move Onboarding
    denied the request as Restricted does, so that move changed nothing; the move into Onboarding did."""
    evidence, units, workloads = moved["evidence"], moved["units"], moved["workloads"]
    onboarding = units["Onboarding"]
    documents = dict(evidence.documents)
    _scp(documents, "p-denygrant0", "DenyAllGrants", DENY_GRANTS)
    _, move = _moves(evidence)[onboarding]
    detach = _as_call(move, "DetachPolicy", {"policyId": "p-denygrant0", "targetId": onboarding},
                      _when(move) + timedelta(days=1))
    _with_events(documents, f"cloudtrail.lookup-events.change-org-{onboarding}.json", detach)
    assert _named(replace(evidence, documents=documents)) == ("MoveAccount", workloads)


def test_a_move_to_another_parent_than_the_one_above_is_not_rolled_back(moved):
    """The move's destination is not the OU above the account at that point of the walk: the evidence does not
    say where the account was, so the move is not rolled back and nothing before it is named."""
    evidence, units, workloads = moved["evidence"], moved["units"], moved["workloads"]
    name, move = _moves(evidence)[units["Onboarding"]]
    record = json.loads(move["CloudTrailEvent"])
    record["requestParameters"]["destinationParentId"] = workloads
    documents = dict(evidence.documents)
    documents[name] = dict(documents[name], Events=[dict(e, CloudTrailEvent=json.dumps(record))
                                                    if e["EventId"] == move["EventId"] else e
                                                    for e in documents[name]["Events"]])
    assert _named(replace(evidence, documents=documents)) is None


@pytest.mark.parametrize("gap", [
    Gap("organizations:ListParents", "ChildNotFoundException",
        "SCPs above ou-gone-deleted01, which the account left, are unknown: the move cannot be rolled back",
        "aws organizations list-parents --child-id ou-gone-deleted01 --region us-east-1"),
    Gap("organizations:ListParents", "MoveLimitReached", "the account was moved from 6 parents",
        "aws organizations list-parents --child-id ou-gone-old00001 --region us-east-1")])
def test_an_unreadable_chain_left_keeps_the_scps_that_apply_now_known(moved, gap):
    """A gap about an OU the account left (deleted, or past the moves read) says nothing of the SCPs above it
    now: they stay known, the fixes stay verified; a gap about the chain it is in now still makes them unknown."""
    evidence = moved["evidence"]
    verifications = {r.verification for r in moved["result"].remediation if r.verification}
    assert "verified" in verifications
    result = diagnose(replace(evidence, gaps=[*evidence.gaps, gap]))
    assert {r.verification for r in result.remediation if r.verification} == verifications
    assert result.verdict.change is not None
    now = Gap("organizations:ListParents", "AccessDeniedException", "the account's place in AWS Organizations is "
              "unknown", f"aws organizations list-parents --child-id {moved['units']['Restricted']} --region us-east-1")
    unknown = diagnose(replace(evidence, gaps=[*evidence.gaps, now]))
    assert "verified" not in {r.verification for r in unknown.remediation}


def test_collection_words_an_unreadable_chain_left_as_the_moves_own_gap(aws_env):
    """Collection (kit.collect.live) for a move from an OU that no longer exists, in the management account: the
    gap names that parent and the rollback, not the account's place in the organization; the chain left is
    still looked up there for its changes."""
    from datetime import datetime, timezone

    from kit.collect.change_lookups import LEFT_CHAIN_IMPACT
    from kit.collect.clients import ReadOnlyClients
    from kit.collect.cloudtrail_window import CollectWindow, TimeRange
    from kit.collect.fetcher import Fetcher
    from kit.collect.live import _Collection

    gone, account = "ou-zzzz-deleted01", "123456789012"
    record = {"eventID": "move-gone-1", "eventName": "MoveAccount", "eventTime": "2026-11-20T10:00:00Z",
              "eventSource": "organizations.amazonaws.com", "awsRegion": "us-east-1",
              "requestParameters": {"accountId": account, "sourceParentId": gone,
                                    "destinationParentId": "ou-zzzz-current01"}}
    session = make_session(role_arn=change_reader_arn(), region="us-east-1")
    fetch, org = Fetcher(ReadOnlyClients(session, "us-east-1")), Fetcher(ReadOnlyClients(session, "us-east-1"))
    fetch.store(f"cloudtrail.lookup-events.change-org-{account}.json", {"Events": [
        {"EventId": "move-gone-1", "EventName": "MoveAccount", "CloudTrailEvent": json.dumps(record)}]})
    now = datetime.now(timezone.utc)
    _Collection(fetch, "i-0123456789abcdef0", CollectWindow(), None, org)._moved_from(
        account, TimeRange(now - timedelta(days=30), now))
    gaps = [g for g in fetch.gaps if g.call.startswith("organizations:")]
    assert {g.call for g in gaps} >= {"organizations:ListParents"}
    for gap in gaps:
        assert gap.impact.startswith(LEFT_CHAIN_IMPACT.format(parent=gone)) and gap.error in gap.impact
        assert "place in AWS Organizations" not in gap.impact
    assert f"cloudtrail.lookup-events.change-org-{gone}.json" in fetch.documents
