"""The change look-back (contracts.md 3a) through the investigation's own CloudTrail source: the simulated
organisation trail read from Athena (the simulated Athena, DuckDB, the table made by `kit athena ddl`), from
its S3 bucket and from a downloaded folder, against LookupEvents, over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from kit.collect.bundle import load_bundle, write_bundle
from kit.collect.change_filter import ChangeFilter, ChangeMatch, change_filter, keep_change
from kit.collect.change_lookups import ChangeLookup
from kit.collect.cloudtrail_athena import TableLayout, changes_query, parse_athena_source
from kit.collect.cloudtrail_logs import CHANGES_DOCUMENT, Budget, collect_archive_changes
from kit.collect.clients import ReadOnlyClients
from kit.collect.fetcher import Fetcher
from kit.collect.live import collect_live
from kit.collect.readonly import check_select
from kit.diagnose import diagnose
from kit.frames.build import build_frames
from kit.simulate.logs import org_trail_bucket
from kit.simulate.world import MANAGEMENT_ACCOUNT, OTHER_ACCOUNT, world
from tests.test_archive_trail import download  # the organisation trail bucket, copied to a folder

UTC = timezone.utc
ATHENA_REGION = "eu-west-1"
RESULTS = "s3://kit-athena-results/trail-changes/"
CHANGE = "change-key-policy-rewritten"
OUTAGE = "outage-scp-two-accounts"


def client(sim, service: str, region: str = ATHENA_REGION):
    env = sim.environ()
    return boto3.client(service, region_name=region, endpoint_url=env["AWS_ENDPOINT_URL"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture(scope="module")
def org_table(sim) -> str:
    """The organisation trail's table, made from `kit athena ddl --org-id` and run through Athena."""
    accounts = sorted({s.account_id for s in sim.seeded} | {MANAGEMENT_ACCOUNT, OTHER_ACCOUNT})
    env = sim.process_environ_without_aws() | sim.environ(ATHENA_REGION)
    ddl = subprocess.run([sys.executable, "-m", "kit", "athena", "ddl", "--bucket", org_trail_bucket(), "--org-id",
                          world().organization["org_id"], "--accounts", *accounts, "--table", "org_changes"],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert ddl.returncode == 0, ddl.stderr
    athena = client(sim, "athena")
    started = athena.start_query_execution(QueryString=ddl.stdout, ResultConfiguration={"OutputLocation": RESULTS})
    state = athena.get_query_execution(QueryExecutionId=started["QueryExecutionId"])["QueryExecution"]["Status"]
    assert state["State"] == "SUCCEEDED", state
    return f"athena:default.org_changes?output={RESULTS}&region={ATHENA_REGION}"


@pytest.fixture(scope="module")
def sources(sim, aws_env, org_table, tmp_path_factory) -> dict[str, str | None]:
    return {"lookup": None, "athena": org_table, "s3": f"s3://{org_trail_bucket()}",
            "folder": str(download(sim, tmp_path_factory.mktemp("org")))}


@pytest.fixture(scope="module")
def collected(sim, sources) -> dict[tuple[str, str], object]:
    out = {}
    for scenario in (CHANGE, OUTAGE):
        seeded = sim.scenario(scenario)
        for name, source in sources.items():
            out[scenario, name] = collect_live(seeded.instance_id, seeded.region, cloudtrail_source=source)
    return out


@pytest.mark.parametrize("source", ["athena", "s3", "folder"])
def test_a_trail_source_names_the_change_lookup_events_names(sim, collected, source):
    seeded = sim.scenario(CHANGE)
    live = diagnose(collected[CHANGE, "lookup"]).to_dict()["verdict"]
    evidence = collected[CHANGE, source]
    other = diagnose(evidence).to_dict()["verdict"]
    assert live["change"] is not None and live["change"]["event_name"] == seeded.expected["change"]["event_name"]
    assert (other["change"], other["last_success"]) == (live["change"], live["last_success"])
    assert other["cause"] == live["cause"] == seeded.expected["cause"]
    # the look-back went through the trail, never through LookupEvents
    assert not any(c["operation"] == "cloudtrail:LookupEvents" for c in evidence.calls)
    assert not any("look-back" in g.impact for g in evidence.gaps), evidence.gaps


def test_the_athena_look_back_is_one_pinned_select_with_every_value_a_parameter(sim, collected):
    seeded = sim.scenario(CHANGE)
    evidence = collected[CHANGE, "athena"]
    starts = [c for c in evidence.calls if c["operation"] == "athena:StartQueryExecution"]
    assert len(starts) == 2  # the incident window, the look-back
    documents = [d for n, d in evidence.documents.items() if n.startswith("cloudtrail-athena/")]
    lookback = next(d for d in documents if d["Purpose"].startswith("the look-back"))
    assert lookback["Query"] in [s["params"]["QueryString"] for s in starts]
    check_select(lookback["Query"], lookback["ExecutionParameters"])
    key_id = seeded.expected["key_arn"].rsplit("/", 1)[-1]
    assert key_id not in lookback["Query"] and seeded.instance_id not in lookback["Query"]
    assert f"'{key_id}'" in lookback["ExecutionParameters"]
    assert '"timestamp" BETWEEN ? AND ?' in lookback["Query"] and '"account" IN (' in lookback["Query"]
    first, last = lookback["ExecutionParameters"][:2]
    assert (datetime.strptime(last, "'%Y/%m/%d'") - datetime.strptime(first, "'%Y/%m/%d'")).days >= 30
    assert isinstance(lookback["DataScannedInBytes"], int) and lookback["DataScannedInBytes"] > 0
    names = {r["eventName"] for r in lookback["Records"]}
    assert "PutKeyPolicy" in names and not any(r.get("readOnly") is True for r in lookback["Records"])


def test_a_bundle_keeps_the_look_back_and_gives_the_same_change(sim, collected, tmp_path):
    for source in ("athena", "folder"):
        evidence = collected[CHANGE, source]
        loaded = load_bundle(write_bundle(evidence, tmp_path / source))
        assert diagnose(loaded).to_dict()["verdict"]["change"] == diagnose(evidence).to_dict()["verdict"]["change"]
    archive = collected[CHANGE, "folder"].documents[CHANGES_DOCUMENT]
    assert archive["FilesRead"] >= 1 and archive["FilesWithChanges"] and archive["Filter"]["matches"]
    # Organizations events are looked for in the management account only (from an SCP's ARN or
    # DescribeOrganization), in us-east-1
    for scenario in (CHANGE, OUTAGE):
        matches = collected[scenario, "folder"].documents[CHANGES_DOCUMENT]["Filter"]["matches"]
        organizations = [m for m in matches if m.get("event_source") == "organizations.amazonaws.com"]
        assert organizations and all(m["accounts"] == [MANAGEMENT_ACCOUNT] and m["regions"] == ["us-east-1"]
                                     for m in organizations)


@pytest.mark.parametrize("source", ["athena", "s3", "folder"])
def test_the_org_trail_shows_the_scp_attachment_from_the_management_account(sim, collected, source):
    seeded = sim.scenario(OUTAGE)
    evidence = collected[OUTAGE, source]
    events = build_frames(evidence).events
    attach = events[(events.event_name == "AttachPolicy") & (events.event_source == "organizations.amazonaws.com")]
    assert len(attach) and set(attach.recipient_account_id) == {MANAGEMENT_ACCOUNT} and set(attach.region) == {
        "us-east-1"}
    scps = [d["Policy"]["PolicySummary"] for n, d in evidence.documents.items()
            if n.startswith("organizations.describe-policy.")]
    deny = next(s for s in scps if s["Name"] == "DenyKmsGrantsToRenderFarm")
    mine = attach[attach.request.map(lambda r: r["policyId"] == deny["Id"])]
    assert len(mine) >= 1  # (the simulator records the scenario's change once per account and Region it seeds)
    assert all(r["targetId"] == world().organization["ou_id"] for r in mine.request)
    # every Organizations event kept names an SCP in force or a target above the account
    ids = {s["Id"] for s in scps} | {world().organization["ou_id"], world().organization["root_id"], seeded.account_id}
    assert all(set(r.values()) & ids for r in attach.request)
    assert any(timedelta(hours=23) < pd_time(seeded.launched_at) - pd_time(t) < timedelta(hours=25)
               for t in mine.event_time)
    # LookupEvents in the member account cannot show it: only the management account's trail records it
    lookup = build_frames(collected[OUTAGE, "lookup"]).events
    assert not (lookup.event_name == "AttachPolicy").any() or source == "lookup"


def pd_time(value: object) -> datetime:
    import pandas as pd

    return pd.Timestamp(value).to_pydatetime().astimezone(UTC)


def test_athena_and_the_archive_keep_the_same_events_for_one_filter(sim, sources):
    """The SQL and the archive's record filter are one definition: the same filter over the same trail keeps
    the same events (ids), from the table and from the folder."""
    seeded = sim.scenario(OUTAGE)
    now = datetime.now(UTC)
    key_arn = seeded.expected["key_arn"]
    lookups = [ChangeLookup("change-key", "ResourceName", key_arn, seeded.region),
               ChangeLookup("change-iam", "ResourceName", "render-farm-worker", "us-east-1"),
               ChangeLookup("change-ebs", "EventName", "ModifyEbsDefaultKmsKeyId", seeded.region)]
    change = change_filter(lookups, account_id=seeded.account_id, start=fmt(now - timedelta(days=10)),
                           end=fmt(now + timedelta(minutes=5)), scp_ids=(), organization_targets=(
                               seeded.account_id, world().organization["ou_id"]), management_account=MANAGEMENT_ACCOUNT)
    fetch = Fetcher(ReadOnlyClients(boto3.Session(region_name=ATHENA_REGION), ATHENA_REGION))  # aws_env: simulated
    from kit.collect.cloudtrail_athena import collect_athena_changes

    collect_athena_changes(fetch, sources["athena"], change)
    via_athena = {r["eventID"] for n, d in fetch.documents.items() if n.startswith("cloudtrail-athena/")
                  for r in d["Records"]}
    offline = offline_fetcher()
    collect_archive_changes(offline, str(sources["folder"]), change)
    via_folder = {r["eventID"] for r in offline.documents[CHANGES_DOCUMENT]["Records"]}
    assert via_athena == via_folder and via_athena
    names = {r["eventName"] for r in offline.documents[CHANGES_DOCUMENT]["Records"]}
    assert "AttachPolicy" in names and "CreateGrant" in names  # the SCP change, EC2's earlier grants


def offline_fetcher() -> Fetcher:
    """A folder costs no AWS call: these clients are never used."""
    return Fetcher(ReadOnlyClients(boto3.Session(aws_access_key_id="none", aws_secret_access_key="none",
                                                 region_name="us-east-1"), "us-east-1"))


def fmt(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_archive_look_back_has_its_own_budget_and_reads_the_newest_files_first(sim, sources):
    seeded = sim.scenario(CHANGE)
    now = datetime.now(UTC)
    change = change_filter([ChangeLookup("k", "ResourceName", seeded.expected["key_arn"], seeded.region)],
                           account_id=seeded.account_id, start=fmt(now - timedelta(days=30)),
                           end=fmt(now + timedelta(minutes=5)))
    offline = offline_fetcher()
    whole = collect_archive_changes(offline, str(sources["folder"]), change)
    every = offline.documents[CHANGES_DOCUMENT]
    assert whole >= 2 and every["FilesSkipped"] == 0 and not offline.gaps
    newest = max(Path(sources["folder"]).rglob(f"{seeded.account_id}_CloudTrail_{seeded.region}_*.json.gz"))
    small = offline_fetcher()
    kept = collect_archive_changes(small, str(sources["folder"]), change,
                                   budget=Budget(max_bytes=newest.stat().st_size))
    document = small.documents[CHANGES_DOCUMENT]
    assert document["FilesRead"] == 1 and document["FilesSkipped"] == every["FilesChosen"] - 1 > 0
    gap = next(g for g in small.gaps if g.error == "BudgetExceeded")
    assert "look-back for changes" in gap.impact and "earliest deliveries" in gap.impact
    assert kept < whole and all(r["eventTime"] >= max(x["eventTime"] for x in every["Records"])[:10]
                                for r in document["Records"])


def test_the_filter_keeps_write_events_of_its_accounts_regions_and_values():
    change = ChangeFilter((ChangeMatch(("111111111111",), ("eu-west-1",), needle="abcd-1234"),
                           ChangeMatch(("111111111111",), ("eu-west-1",), event_name="ModifyEbsDefaultKmsKeyId"),
                           ChangeMatch((), ("us-east-1",), needle="p-abc", event_source="organizations.amazonaws.com")),
                          "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")
    base = {"eventTime": "2024-01-10T10:00:00Z", "recipientAccountId": "111111111111", "awsRegion": "eu-west-1",
            "readOnly": False, "eventName": "PutKeyPolicy", "eventSource": "kms.amazonaws.com",
            "requestParameters": {"keyId": "arn:aws:kms:eu-west-1:111111111111:key/abcd-1234"}}
    assert keep_change(change, base)
    assert not keep_change(change, base | {"readOnly": True})
    assert not keep_change(change, base | {"awsRegion": "us-east-1"})
    assert not keep_change(change, base | {"recipientAccountId": "222222222222"})
    assert not keep_change(change, base | {"eventTime": "2024-03-01T00:00:00Z"})
    assert not keep_change(change, base | {"requestParameters": {"keyId": "other"}})
    assert keep_change(change, base | {"requestParameters": None, "eventName": "ModifyEbsDefaultKmsKeyId"})
    scp = {"eventTime": "2024-01-10T10:00:00Z", "recipientAccountId": "999999999999", "awsRegion": "us-east-1",
           "eventName": "AttachPolicy", "eventSource": "organizations.amazonaws.com",
           "requestParameters": json.dumps({"policyId": "p-abc", "targetId": "ou-x"})}
    assert keep_change(change, scp) and not keep_change(change, scp | {"eventSource": "iam.amazonaws.com"})
    assert (b"abcd-1234",) in change.needles() and (b'"ModifyEbsDefaultKmsKeyId"',) in change.needles()
    assert (b'"organizations.amazonaws.com"', b"p-abc") in change.needles()  # anchored on the event source
    launcher = change_filter([ChangeLookup("change-iam-ops", "ResourceName", "ops", "us-east-1")],
                             account_id="111111111111", start=change.start, end=change.end)
    assert launcher.matches[0].event_source == "iam.amazonaws.com"  # not every call the launcher made
    # the SQL names every value as a parameter and passes the read-only guard
    query = changes_query(parse_athena_source("athena:db.trail"), TableLayout(account_column="account",
                                                                                region_column="region"), change)
    check_select(query.sql, list(query.parameters))
    assert "abcd-1234" not in query.sql and "'abcd-1234'" in query.parameters and "'p-abc'" in query.parameters
