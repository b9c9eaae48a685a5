"""What changed (contracts.md section 3a) over the real pipeline: simulated account -> collect (live, bundle:,
cli: with the real AWS CLI) -> diagnose, for every change scenario of the catalogue (those with
`expected.change`): the change the evaluator names, its time and author, before/after, and the last success.

The investigator holds a read-only role in the organization's management account (`org_role_arn`), where AWS
records SCP changes; without it (tested below) no SCP change can be named and the gap says where to look."""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import replace as with_fields
from datetime import timedelta
from importlib import resources

import pandas as pd
import pytest
from jsonschema import Draft202012Validator

from kit.collect import load_evidence
from kit.collect.bundle import write_bundle
from kit.collect.cli_commands import checklist
from kit.collect.clients import make_session
from kit.collect.live import collect_live
from kit.diagnose import diagnose
from kit.evidence import Evidence, Gap
from kit.simulate.catalogue import load_catalogue
from kit.simulate.organization import change_reader_arn
from kit.simulate.world import MANAGEMENT_ACCOUNT
from tests.aws_cli_runs import management_credentials, run_cli_folder

CHANGE_SCENARIOS = [s.name for s in load_catalogue() if "change" in s.spec["expected"]]
SOURCES = ("live", "bundle", "cli")


def org_session():
    """A session as the management account's read-only role (what `org_role_arn` gives)."""
    return make_session(role_arn=change_reader_arn(), region="us-east-1")


@pytest.fixture(scope="module")
def findings(sim, aws_env, tmp_path_factory) -> dict[str, dict[str, object]]:
    """Findings per scenario and source."""
    out: dict[str, dict[str, object]] = {}
    for name in CHANGE_SCENARIOS:
        seeded = sim.scenario(name)
        live = collect_live(seeded.instance_id, seeded.region, org_session=org_session())
        base = tmp_path_factory.mktemp(name)
        bundle = write_bundle(live, base / "bundle")
        cli = run_cli_folder(live, base / "cli")
        out[name] = {
            "live": diagnose(live),
            "bundle": diagnose(load_evidence(f"bundle:{bundle}", seeded.instance_id, seeded.region)),
            "cli": diagnose(load_evidence(f"cli:{cli}", seeded.instance_id, seeded.region)),
            "evidence": live,
        }
    return out


def schema() -> Draft202012Validator:
    return Draft202012Validator(json.loads(resources.files("kit.report").joinpath("findings.schema.json").read_text()))


def test_the_catalogue_has_every_change_kind():
    kinds = {s.spec["expected"]["change"]["event_name"] for s in load_catalogue()
             if s.spec["expected"].get("change")}
    assert {"PutKeyPolicy", "CreatePolicyVersion", "DetachRolePolicy", "DisableKey", "ModifyEbsDefaultKmsKeyId",
            "PutRolePermissionsBoundary", "AttachPolicy"} <= kinds
    assert any(s.spec["expected"].get("change", "absent") is None for s in load_catalogue())  # a first launch


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", CHANGE_SCENARIOS)
def test_the_change_and_last_success_are_the_scenarios(sim, findings, name, source):
    seeded = sim.scenario(name)
    expected = seeded.expected
    result = findings[name][source]
    document = result.to_dict()
    schema().validate(document)
    verdict = document["verdict"]
    assert verdict["cause"] == expected["cause"]
    change = verdict["change"]
    if expected["change"] is None:
        assert change is None, change
    else:
        assert change is not None, verdict["summary"]
        assert (change["event_name"], change["layer"]) == (expected["change"]["event_name"], expected["change"]["layer"])
        when = pd.Timestamp(change["event_time"])
        assert abs(when - (pd.Timestamp(seeded.launched_at) - timedelta(days=expected["change"]["days_ago"]))) \
            < timedelta(minutes=1)
        made_in = MANAGEMENT_ACCOUNT if change["layer"] == "scp" else seeded.account_id  # SCPs: the management account
        assert change["principal_arn"].startswith(f"arn:aws:iam::{made_in}:user/")
        assert change["principal_arn"] != seeded.principal_arn  # who changed it, not who launched
        assert (change["before"] is not None) == expected["change"]["before"]
        assert change["before"] != change["after"]
        assert change["before"] is not None or change["after"] is not None
        assert change["event_id"] and change["summary"]
    last = verdict["last_success"]
    if expected["last_success"]:
        assert last is not None
        assert pd.Timestamp(last["event_time"]) < pd.Timestamp(seeded.launched_at) - timedelta(days=1)
        assert last["instance_id"] == seeded.instance_id
        if change is not None:
            assert pd.Timestamp(last["event_time"]) < pd.Timestamp(change["event_time"])
    else:
        assert last is None


@pytest.mark.parametrize("name", CHANGE_SCENARIOS)
def test_every_source_names_the_same_change(findings, name):
    live = findings[name]["live"].to_dict()["verdict"]
    for source in ("bundle", "cli"):
        other = findings[name][source].to_dict()["verdict"]
        assert (other["change"], other["last_success"]) == (live["change"], live["last_success"]), source


def test_the_key_policy_diff_is_the_dropped_delegation(sim, findings):
    result = findings["change-key-policy-rewritten"]["live"]
    change = result.verdict.change
    sids_before = {s["Sid"] for s in change["before"]["Statement"]}
    sids_after = {s["Sid"] for s in change["after"]["Statement"]}
    assert "Enable IAM User Permissions" in sids_before - sids_after
    assert result.change_mattered["side"] == "before"  # the statement whose loss made the difference
    assert {"policy": "key-policy", "index": 0, "sid": "Enable IAM User Permissions"} in \
        result.change_mattered["statements"]
    # the harmless earlier rewrite (it kept the delegation) is listed, not named
    earlier = [o for o in result.other_changes if o["event_name"] == "PutKeyPolicy"]
    assert earlier and pd.Timestamp(earlier[0]["event_time"]) < pd.Timestamp(change["event_time"])


def test_a_change_after_the_failure_is_never_named(findings):
    result = findings["change-trap-later-changes"]["live"]
    assert result.verdict.change["event_name"] == "DetachUserPolicy"
    later = [o for o in result.other_changes if o["event_name"] == "AttachUserPolicy"]
    assert later and later[0]["why_not"] == "after the failure"


def test_changes_to_other_keys_are_listed_not_named(findings, tmp_path):
    """With every write event of the Region in the evidence (a broad look-up someone pasted), the other key's
    policy rewrite two days before the failure is an 'other change', never the change."""
    from awscli.clidriver import create_clidriver

    evidence = findings["change-trap-later-changes"]["evidence"]
    folder = run_cli_folder(evidence, tmp_path / "cli")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert create_clidriver().main(["cloudtrail", "lookup-events", "--lookup-attributes",
                                        "AttributeKey=EventName,AttributeValue=PutKeyPolicy",
                                        "--region", evidence.region, "--output", "json"]) == 0
    (folder / "cloudtrail.lookup-events.all-key-policies.json").write_text(out.getvalue(), encoding="utf-8")
    result = diagnose(load_evidence(f"cli:{folder}", evidence.instance_id, evidence.region))
    assert result.verdict.change["event_name"] == "DetachUserPolicy"
    others = {(o["event_name"], o["why_not"]) for o in result.other_changes}
    assert ("PutKeyPolicy", "to another principal, key or Region") in others


def test_without_the_look_back_no_change_is_named(findings):
    """The change is named from evidence, never guessed: drop the change look-ups and it is gone."""
    from dataclasses import replace

    evidence = findings["change-policy-narrowed"]["evidence"]
    trimmed = replace(evidence, documents={k: v for k, v in evidence.documents.items()
                                           if not k.startswith("cloudtrail.lookup-events.change-")})
    result = diagnose(trimmed)
    assert result.verdict.cause == "kms-grant-denied" and result.verdict.change is None


def test_hostile_strings_in_recorded_changes_never_reach_html_unescaped(findings, tmp_path):
    """A cli: folder is pasted by anyone: a change record whose author and policy carry markup is named as
    before, and the What changed section shows the markup as text."""
    from kit.views.change import change_section_of

    hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    evidence = findings["change-key-policy-rewritten"]["evidence"]
    folder = run_cli_folder(evidence, tmp_path / "cli")
    changed = 0
    for path in folder.glob("cloudtrail.lookup-events.*.json"):  # the key's own look-up has no window in cli:
        document = json.loads(path.read_text())
        for event in document["Events"]:
            record = json.loads(event["CloudTrailEvent"])
            if record["eventName"] != "PutKeyPolicy":
                continue
            record["userIdentity"]["arn"] = record["userIdentity"]["arn"] + hostile
            policy = json.loads(record["requestParameters"]["policy"])
            policy["Statement"][0]["Sid"] = hostile
            record["requestParameters"]["policy"] = json.dumps(policy)
            event["CloudTrailEvent"] = json.dumps(record)
            changed += 1
        path.write_text(json.dumps(document))
    assert changed >= 2
    result = diagnose(load_evidence(f"cli:{folder}", evidence.instance_id, evidence.region))
    assert result.verdict.change["event_name"] == "PutKeyPolicy" and hostile in result.verdict.change["principal_arn"]
    markup = change_section_of(result)
    assert "<script" not in markup and "<img" not in markup
    assert "&lt;script&gt;" in markup


# ---- SCP changes: recorded in the organization's management account -------------------------------------------

SCP_SCENARIO = "change-scp-attached"


def _scp_id(evidence: Evidence, name: str) -> str:
    for document_name, document in evidence.documents.items():
        if document_name.startswith("organizations.describe-policy."):
            summary = document["Policy"]["PolicySummary"]
            if summary["Name"] == name:
                return summary["Id"]
    raise AssertionError(f"SCP {name} not collected")


def test_the_scp_attached_is_named_from_the_management_accounts_history(sim, findings):
    seeded = sim.scenario(SCP_SCENARIO)
    evidence = findings[SCP_SCENARIO]["evidence"]
    result = findings[SCP_SCENARIO]["live"]
    change = result.verdict.change
    assert change["event_name"] == "AttachPolicy" and change["layer"] == "scp"
    assert change["principal_arn"] == f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:user/org-admin"
    culprit = _scp_id(evidence, "DenyKmsGrantsToIngestJobs")
    sids = lambda chain: {s.get("Sid") for level in chain for doc in level for s in doc["Statement"]}  # noqa: E731
    assert "DenyIngestGrants" in sids(change["after"]) and "DenyIngestGrants" not in sids(change["before"])
    assert result.change_mattered["side"] == "after" and result.change_mattered["layer"] == "scp"
    # the look-ups ran in the management account, narrowly: by the SCP ids and the chain's targets
    looked = {k: [e["EventName"] for e in v["Events"]] for k, v in evidence.documents.items()
              if k.startswith(("cloudtrail.lookup-events.change-scp-", "cloudtrail.lookup-events.change-org-"))}
    assert looked[f"cloudtrail.lookup-events.change-scp-{culprit}.json"] == ["AttachPolicy"]
    # (the account's own look-up also finds change-account-moved's moves of it: the organization is shared)
    assert [n for n in looked[f"cloudtrail.lookup-events.change-org-{seeded.account_id}.json"]
            if n != "MoveAccount"] == ["AttachPolicy"]
    assert any(k.startswith("cloudtrail.lookup-events.change-org-r-") for k in looked)
    lookups = [c["params"]["LookupAttributes"][0]["AttributeValue"] for c in evidence.calls
               if c["operation"] == "cloudtrail:LookupEvents"]
    assert culprit in lookups and not any(g.error == "ManagementAccountNotRead" for g in evidence.gaps)
    # the harmless SCP update on another OU is not even read (nothing in the chain names it)
    assert all("UpdatePolicy" not in names for names in looked.values())


def test_without_management_access_no_scp_change_is_named_and_the_gap_says_where(sim, aws_env, tmp_path):
    seeded = sim.scenario(SCP_SCENARIO)
    evidence = collect_live(seeded.instance_id, seeded.region)
    assert not any(k.startswith("cloudtrail.lookup-events.change-scp-") for k in evidence.documents)
    [gap] = [g for g in evidence.gaps if g.error == "ManagementAccountNotRead"]
    culprit = _scp_id(evidence, "DenyKmsGrantsToIngestJobs")
    assert "management account" in gap.impact and "--org-role-arn" in gap.impact
    assert f"AttributeKey=ResourceName,AttributeValue={culprit} " in gap.impact
    assert f"> cloudtrail.lookup-events.change-scp-{culprit}.json" in gap.impact
    result = diagnose(evidence)
    assert (result.verdict.cause, result.verdict.denied_by) == ("kms-grant-denied", "scp")
    assert result.verdict.change is None
    # the cli: checklist asks for the same look-ups, marked for the management account
    commands = checklist(evidence.documents, evidence.instance_id, evidence.region)
    management = {c.file_name: c for c in commands if c.account == "management"}
    assert f"cloudtrail.lookup-events.change-scp-{culprit}.json" in management
    assert f"cloudtrail.lookup-events.change-org-{seeded.account_id}.json" in management
    assert all("--region" in c.argv and "us-east-1" in c.argv for c in management.values())
    assert all("management account" in c.impact for c in management.values())
    # run without them (no management credentials): no change; with them, in the files they name: the change
    without = diagnose(load_evidence(f"cli:{run_cli_folder(evidence, tmp_path / 'member-only', management=False)}",
                                     evidence.instance_id, evidence.region))
    assert without.verdict.change is None
    both = run_cli_folder(evidence, tmp_path / "both")
    # the folder now holds the management account's history; the checklist asks for what it names (the OUs the
    # account was moved from, change-account-moved shares the organization: their parents and SCP listings, then
    # the SCPs listed): run what it lists next, twice
    for _ in range(2):
        run_cli_folder(load_evidence(f"cli:{both}", evidence.instance_id, evidence.region), both)
    with_management = diagnose(load_evidence(f"cli:{both}", evidence.instance_id, evidence.region))
    assert with_management.verdict.change["event_name"] == "AttachPolicy"


def test_a_harmless_scp_update_elsewhere_is_listed_not_named(findings, tmp_path):
    """With every Organizations event of the management account in the folder (a broad look-up someone ran
    there), the SandboxGuardrails update on the Sandbox OU is an 'other change', never the change."""
    from awscli.clidriver import create_clidriver

    evidence = findings[SCP_SCENARIO]["evidence"]
    folder = run_cli_folder(evidence, tmp_path / "cli")
    out = io.StringIO()
    with management_credentials(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert create_clidriver().main(["cloudtrail", "lookup-events", "--lookup-attributes",
                                        "AttributeKey=EventSource,AttributeValue=organizations.amazonaws.com",
                                        "--region", "us-east-1", "--output", "json"]) == 0
    (folder / "cloudtrail.lookup-events.all-organizations.json").write_text(out.getvalue(), encoding="utf-8")
    result = diagnose(load_evidence(f"cli:{folder}", evidence.instance_id, evidence.region))
    assert result.verdict.change["event_name"] == "AttachPolicy"
    assert result.verdict.change["event_id"] == findings[SCP_SCENARIO]["live"].verdict.change["event_id"]
    others = {(o["event_name"], o["why_not"]) for o in result.other_changes}
    assert ("UpdatePolicy", "to another principal, key or Region") in others


def test_the_timeline_draws_the_change_in_its_own_lane(findings):
    """The change, five days before the failure, is drawn (not left out as far from the burst) in the
    'what changed' lane with its own marker; the list gives its date."""
    from kit.views.timeline import incident_burst, points_from_timeline, timeline_svg

    result = findings[SCP_SCENARIO]["live"]
    points = points_from_timeline(result.timeline)
    [change] = points[points["lane"] == "change"].to_dict("records")
    assert "AttachPolicy" in change["label"]
    kept, _ = incident_burst(points)
    assert (kept["lane"] == "change").sum() == 1 and kept["time"].min() == change["time"]
    svg = timeline_svg(points, "test")
    assert ">what changed</text>" in svg and svg.count('class="kit-tl-change"') == 2  # the marker and its list entry
    assert change["time"].strftime("%Y-%m-%d ") in svg
    assert re.search(r"\+[45] d \d+ h<", svg)  # the broken axis: about five days left out


def _recorded_as(event: dict, name: str, request: dict, response: dict | None, at: pd.Timestamp) -> dict:
    """The management account's AttachPolicy event (as LookupEvents answered it) recorded as another
    Organizations call by the same administrator: same shape, other name, parameters, time and id."""
    record = json.loads(event["CloudTrailEvent"])
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    record.update(eventName=name, requestParameters=request, responseElements=response, eventTime=stamp,
                  eventID=f"{record['eventID'][:-8]}{name[:8].lower():0>8}")
    return dict(event, EventName=name, EventId=record["eventID"], EventTime=at.timestamp(),
                CloudTrailEvent=json.dumps(record))


def _with_organizations_events(evidence: Evidence, events: list[dict], documents: dict | None = None) -> Evidence:
    """The evidence with its management-account look-ups holding `events` instead (and `documents` replaced)."""
    from dataclasses import replace

    kept = {k: v for k, v in evidence.documents.items()
            if not k.startswith(("cloudtrail.lookup-events.change-scp-", "cloudtrail.lookup-events.change-org-"))}
    kept["cloudtrail.lookup-events.change-scp-rewritten.json"] = {"Events": events}
    return replace(evidence, documents={**kept, **(documents or {})})


def _scp_fixture(findings):
    evidence = findings[SCP_SCENARIO]["evidence"]
    culprit = _scp_id(evidence, "DenyKmsGrantsToIngestJobs")
    [attach] = evidence.documents[f"cloudtrail.lookup-events.change-scp-{culprit}.json"]["Events"]
    described = evidence.documents[f"organizations.describe-policy.{culprit}.json"]
    return evidence, culprit, attach, json.loads(described["Policy"]["Content"])


def test_an_scp_update_is_rolled_back_to_the_content_an_earlier_event_holds(sim, findings):
    """UpdatePolicy: before = the content the earlier CreatePolicy recorded; without that event the state
    before is unknown, and the update is named only because the same CreateGrant succeeded before it (the last
    success) with no other change in between (`before` null, the summary says so; without a last success
    nothing is named: change-first-launch)."""
    evidence, culprit, attach, deny = _scp_fixture(findings)
    failed = pd.Timestamp(sim.scenario(SCP_SCENARIO).launched_at)
    harmless = {"Version": "2012-10-17", "Statement": [{"Sid": "DenyLeaveOrg", "Effect": "Deny",
                                                        "Action": "organizations:LeaveOrganization", "Resource": "*"}]}
    created = _recorded_as(attach, "CreatePolicy", {"name": "DenyKmsGrantsToIngestJobs", "type": "SERVICE_CONTROL_POLICY",
                                                     "content": json.dumps(harmless)},
                           {"policy": {"policySummary": {"id": culprit, "name": "DenyKmsGrantsToIngestJobs"},
                                       "content": json.dumps(harmless)}}, failed - timedelta(days=9))
    updated = _recorded_as(attach, "UpdatePolicy", {"policyId": culprit, "content": json.dumps(deny)}, None,
                           failed - timedelta(days=4))
    result = diagnose(_with_organizations_events(evidence, [created, updated]))
    change = result.verdict.change
    assert (change["event_name"], change["layer"]) == ("UpdatePolicy", "scp")
    docs = lambda chain: [doc for level in chain for doc in level]  # noqa: E731
    assert harmless in docs(change["before"]) and deny not in docs(change["before"]) and deny in docs(change["after"])
    unknown = diagnose(_with_organizations_events(evidence, [updated]))
    inferred = unknown.verdict.change
    assert (inferred["event_name"], inferred["before"]) == ("UpdatePolicy", None)
    assert inferred["after"] == change["after"] and unknown.verdict.last_success is not None
    success = unknown.verdict.last_success
    assert pd.Timestamp(success["event_time"]) <= pd.Timestamp(success["grant_time"])  # the launch, then its grant
    assert f"succeeded at {success['grant_time']} (the last success)" in inferred["summary"]
    # a look-back cut short (an archive's budget spent on the newest files) cannot say "nothing in between"
    cut = Gap("cloudtrail:log-files", "BudgetExceeded", "The look-back for changes (contracts.md 3a): the earliest "
              "log files were not read")
    assert diagnose(with_fields(_with_organizations_events(evidence, [updated]),
                                gaps=[*evidence.gaps, cut])).verdict.change is None


def test_a_harmless_change_just_after_the_last_success_is_not_named(sim, findings):
    """An UpdatePolicy of another SCP above the account, its earlier content never recorded, lies between the
    last success and the failure with no other change recorded: the request is still refused with that SCP
    opened to everything (the unrecorded attach of the denying SCP refuses it), so nothing is named."""
    evidence, culprit, attach, _ = _scp_fixture(findings)
    failed = pd.Timestamp(sim.scenario(SCP_SCENARIO).launched_at)
    others = [name.split(".")[2] for name in evidence.documents if name.startswith("organizations.describe-policy.")
              and name.split(".")[2] not in (culprit, "p-FullAWSAccess")]
    assert others, "the account's chain holds another customer SCP"
    other = others[0]
    content = json.loads(evidence.documents[f"organizations.describe-policy.{other}.json"]["Policy"]["Content"])
    updated = _recorded_as(attach, "UpdatePolicy", {"policyId": other, "content": json.dumps(content)}, None,
                           failed - timedelta(days=4))
    result = diagnose(_with_organizations_events(evidence, [updated]))
    assert result.verdict.last_success is not None and result.verdict.denied_by == "scp"
    assert result.verdict.change is None


def test_detaching_the_allowing_scp_is_named(sim, findings):
    """DetachPolicy of FullAWSAccess from the account, whose only other SCP allows EC2 but not KMS: before it
    the chain allows CreateGrant, after it the account's level allows nothing KMS."""
    evidence, culprit, attach, _ = _scp_fixture(findings)
    seeded = sim.scenario(SCP_SCENARIO)
    failed = pd.Timestamp(seeded.launched_at)
    ec2_only = {"Version": "2012-10-17", "Statement": [{"Sid": "OnlyEc2", "Effect": "Allow", "Action": "ec2:*",
                                                       "Resource": "*"}]}
    listed_name = f"organizations.list-policies-for-target.{seeded.account_id}.json"
    listed = evidence.documents[listed_name]
    assert "p-FullAWSAccess" in {p["Id"] for p in listed["Policies"]}
    described = json.loads(json.dumps(evidence.documents[f"organizations.describe-policy.{culprit}.json"]))
    described["Policy"]["Content"] = json.dumps(ec2_only)
    documents = {listed_name: dict(listed, Policies=[p for p in listed["Policies"] if p["Id"] != "p-FullAWSAccess"]),
                 f"organizations.describe-policy.{culprit}.json": described}
    detached = _recorded_as(attach, "DetachPolicy", {"policyId": "p-FullAWSAccess", "targetId": seeded.account_id},
                            None, failed - timedelta(days=3))
    result = diagnose(_with_organizations_events(evidence, [detached], documents))
    assert result.verdict.denied_by == "scp"
    change = result.verdict.change
    assert (change["event_name"], change["layer"]) == ("DetachPolicy", "scp")
    full = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    account_level = lambda chain: chain[-1]  # noqa: E731  (levels: root first, the account last)
    assert full in account_level(change["before"]) and full not in account_level(change["after"])
    # detaching it from another OU is not this account's chain: listed, never named
    elsewhere = _recorded_as(attach, "DetachPolicy", {"policyId": "p-FullAWSAccess", "targetId": "ou-zzzz-elsewhere"},
                             None, failed - timedelta(days=3))
    other = diagnose(_with_organizations_events(evidence, [elsewhere], documents))
    assert other.verdict.change is None


def test_the_scp_diff_shows_the_statement_the_attach_added(findings):
    """The What changed section diffs the SCP chain by statement: the attached SCP's Deny is the one added
    statement, marked as the one that decided; the chain's other statements are unchanged."""
    from kit.views.change import change_section_of

    markup = change_section_of(findings[SCP_SCENARIO]["live"])
    assert markup.count('class="kit-change-added kit-change-mattered"') == 1
    assert "kit-change-removed" not in markup
    account_level = len(findings[SCP_SCENARIO]["live"].verdict.change["after"]) - 1  # levels: root first, account last
    assert "DenyIngestGrants" in markup and f"&quot;SCPLevel&quot;: {account_level}" in markup


MOVE_SCENARIO = "change-account-moved"


def _ou_ids() -> dict[str, str]:
    """The OUs under Workloads, by name, as the management account's reader lists them (not from the evidence)."""
    import boto3

    from kit.simulate.world import world

    with management_credentials():
        org = boto3.client("organizations", region_name="us-east-1")
        units = org.list_organizational_units_for_parent(ParentId=world().organization["ou_id"])["OrganizationalUnits"]
    return {u["Name"]: u["Id"] for u in units}


def test_the_account_move_is_named_and_rolled_back_to_the_ou_it_left(sim, findings):
    """MoveAccount into Workloads/Restricted (its SCP denies the launcher's CreateGrant): before it, the account
    under Workloads/Onboarding (that OU's SCPs, read in the management account) is allowed; the change names the
    move back as its rollback. The earlier move into Onboarding is listed, not named."""
    seeded = sim.scenario(MOVE_SCENARIO)
    evidence = findings[MOVE_SCENARIO]["evidence"]
    result = findings[MOVE_SCENARIO]["live"]
    change = result.verdict.change
    assert (change["event_name"], change["layer"]) == ("MoveAccount", "scp")
    assert change["principal_arn"] == f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:user/org-admin"
    units = _ou_ids()
    onboarding, restricted = units["Onboarding"], units["Restricted"]
    assert (f"aws organizations move-account --account-id {seeded.account_id} --source-parent-id {restricted} "
            f"--destination-parent-id {onboarding}") in change["summary"]
    sids = lambda level: {s.get("Sid") for doc in level for s in doc["Statement"]}  # noqa: E731
    before, after = change["before"], change["after"]
    assert len(before) == len(after) == 4  # root, Workloads, the OU, the account
    assert "StayInOrganization" in sids(before[2]) and "DenyMediaGrants" not in set().union(*map(sids, before))
    assert "DenyMediaGrants" in sids(after[2]) and "StayInOrganization" not in set().union(*map(sids, after))
    assert before[3] == after[3]  # the account's own SCPs moved with it
    assert result.change_mattered["side"] == "after" and result.change_mattered["layer"] == "scp"
    others = {(o["event_name"], o["why_not"]) for o in result.other_changes}
    assert ("MoveAccount", "before the change named, which decided") in others
    # the OU it left is not above the account any more: its chain was read for the rollback, in the
    # management account (its reader role), and kept under the usual names
    assert f"organizations.list-parents.{onboarding}.json" in evidence.documents
    assert f"organizations.list-policies-for-target.{onboarding}.json" in evidence.documents
    assert any(c["operation"] == "organizations:ListPoliciesForTarget" and c["params"].get("TargetId") == onboarding
               for c in evidence.calls)
    assert _scp_id(evidence, "OnboardingGuardrails")


def test_the_move_section_shows_the_ou_swap_and_the_way_back(findings):
    """What changed: the statements of the OU left (removed) and of the OU entered (added, the deny that decided),
    and the move back as the rollback."""
    from kit.views.change import change_section_of

    markup = change_section_of(findings[MOVE_SCENARIO]["live"])
    assert markup.count('class="kit-change-added kit-change-mattered"') == 1 and "DenyMediaGrants" in markup
    assert 'class="kit-change-removed"' in markup and "StayInOrganization" in markup
    assert "aws organizations move-account --account-id" in markup


def test_the_cli_checklist_names_the_chain_the_account_left(sim, findings):
    evidence = findings[MOVE_SCENARIO]["evidence"]
    onboarding = _ou_ids()["Onboarding"]
    files = {c.file_name for c in checklist(evidence.documents, evidence.instance_id, evidence.region)}
    assert {f"organizations.list-parents.{onboarding}.json", f"organizations.list-policies-for-target.{onboarding}.json",
            f"organizations.describe-policy.{_scp_id(evidence, 'OnboardingGuardrails')}.json"} <= files
    # without the move in the folder, nothing of the OU it left is asked for
    records = {k: v for k, v in evidence.documents.items() if not k.startswith("cloudtrail.lookup-events.change-")}
    assert not any(onboarding in f for f in (c.file_name for c in checklist(records, evidence.instance_id,
                                                                            evidence.region)))


def test_without_the_chain_it_left_the_move_is_not_named(findings):
    """The SCPs of the OU the account left are evidence, never a guess: without them nothing is named."""
    from dataclasses import replace

    evidence = findings[MOVE_SCENARIO]["evidence"]
    onboarding = _ou_ids()["Onboarding"]
    for missing in (f"organizations.list-policies-for-target.{onboarding}.json",
                    f"organizations.list-parents.{onboarding}.json"):
        trimmed = replace(evidence, documents={k: v for k, v in evidence.documents.items() if k != missing})
        result = diagnose(trimmed)
        assert (result.verdict.cause, result.verdict.denied_by) == ("kms-grant-denied", "scp")
        assert result.verdict.change is None, missing
        assert ("MoveAccount", "no effect on the failing request shown") in {
            (o["event_name"], o["why_not"]) for o in result.other_changes}


def test_enabling_a_policy_type_is_walked_past(sim, findings):
    """EnablePolicyType attaches FullAWSAccess everywhere: it cannot turn an allowed request into a denied one,
    so the walk goes past it (recorded after the move, on the root of the chain) and still names the move."""
    from kit.simulate.world import world

    evidence = findings[MOVE_SCENARIO]["evidence"]
    move = findings[MOVE_SCENARIO]["live"].verdict.change
    name = next(k for k, v in evidence.documents.items() if k.startswith("cloudtrail.lookup-events.change-org-")
                and any(e["EventId"] == move["event_id"] for e in v.get("Events") or []))
    [event] = [e for e in evidence.documents[name]["Events"] if e["EventId"] == move["event_id"]]
    root = world().organization["root_id"]
    enabled = _recorded_as(event, "EnablePolicyType", {"rootId": root, "policyType": "SERVICE_CONTROL_POLICY"},
                           {"root": {"id": root, "policyTypes": [{"type": "SERVICE_CONTROL_POLICY",
                                                                   "status": "ENABLED"}]}},
                           pd.Timestamp(move["event_time"]) + timedelta(days=1))
    documents = dict(evidence.documents)
    documents[name] = dict(documents[name], Events=[enabled] + documents[name]["Events"])
    from dataclasses import replace

    result = diagnose(replace(evidence, documents=documents))
    assert result.verdict.change["event_id"] == move["event_id"]
    assert ("EnablePolicyType", "no effect on the failing request shown") in {
        (o["event_name"], o["why_not"]) for o in result.other_changes}


def test_an_unreadable_parent_is_a_gap_never_a_chain(aws_env):
    """Reading the chain above a parent the account left, in the management account: what cannot be read (here
    an OU that no longer exists) leaves a gap and no document, so the move cannot be rolled back (nothing is
    named from it); what can be read lands under the usual names."""
    from kit.collect.clients import ReadOnlyClients
    from kit.collect.fetcher import Fetcher
    from kit.collect.identity import parent_chain_policies
    from kit.simulate.world import world

    fetch = Fetcher(ReadOnlyClients(org_session(), "us-east-1"))
    gone = "ou-zzzz-deleted01"
    parent_chain_policies(fetch, gone)
    assert not any(gone in name for name in fetch.documents)
    assert any(g.call == "organizations:ListParents" and g.error for g in fetch.gaps)
    workloads, root = world().organization["ou_id"], world().organization["root_id"]
    read = Fetcher(ReadOnlyClients(org_session(), "us-east-1"))
    parent_chain_policies(read, workloads)
    assert not read.gaps
    assert {f"organizations.list-parents.{workloads}.json", f"organizations.list-policies-for-target.{workloads}.json",
            f"organizations.list-policies-for-target.{root}.json",
            "organizations.describe-policy.p-FullAWSAccess.json"} <= set(read.documents)
