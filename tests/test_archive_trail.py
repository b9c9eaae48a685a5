"""Issue 13, the archive half: the simulated organisation trail (org layout, chained digest files) read by the
kit's archive path: integrity per file (verified / mismatched / missing), a budget that reports what it skipped,
files chosen by name before they are opened, and `kit scan --cloudtrail-source` finding the seeded failures."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
import yaml

from kit.collect.clients import ReadOnlyClients
from kit.collect.cloudtrail_logs import Budget, LogSelection, read_archive
from kit.collect.cloudtrail_window import TimeRange
from kit.collect.fetcher import Fetcher
from kit.simulate.logs import org_trail_bucket
from kit.simulate.world import OTHER_ACCOUNT, world

UTC = timezone.utc
SCAN_REGION = "eu-south-2"  # the outage's second Region: one no other test or scenario seeds into


@pytest.fixture(scope="module")
def outage(sim):
    """A two-account, two-Region outage on top of the catalogue: a disabled key in each account, another Region."""
    sim.seed("key-disabled", region=SCAN_REGION)
    sim.seed("key-disabled", region=SCAN_REGION, account_id=OTHER_ACCOUNT)
    return sim


def s3(sim):
    env = sim.environ()
    return boto3.client("s3", region_name="us-east-1", endpoint_url=env["AWS_ENDPOINT_URL"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def download(sim, folder: Path) -> Path:
    client = s3(sim)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=org_trail_bucket()):
        for item in page.get("Contents") or []:
            path = folder / item["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(client.get_object(Bucket=org_trail_bucket(), Key=item["Key"])["Body"].read())
    return folder


def offline_fetcher() -> Fetcher:
    """A folder costs no AWS call: these clients are never used."""
    session = boto3.Session(aws_access_key_id="none", aws_secret_access_key="none", region_name="us-east-1")
    return Fetcher(ReadOnlyClients(session, "us-east-1"))


def day_window() -> TimeRange:
    now = datetime.now(UTC)
    return TimeRange(now - timedelta(hours=6), now + timedelta(minutes=5))


def kms_refused_failures() -> set[tuple[str, str, str]]:
    """The simulator's failed launches whose end is a refused KMS call EC2 made (what a trail can show)."""
    unrecorded = world().kms_unrecorded  # (account, Region) whose trail leaves KMS events out: nothing to find
    return {key for key, launch in world().failures.items()
            if any(c.error for c in launch.kms_calls) and tuple(key[:2]) not in unrecorded}


def test_org_trail_layout_and_digests_verify_and_tampering_is_found(outage, tmp_path):
    folder = download(outage, tmp_path / "org")
    org_logs = list(folder.glob("AWSLogs/o-*/*/CloudTrail/*/*/*/*/*.json.gz"))
    assert {p.parts[-7] for p in org_logs} >= {"123456789012", OTHER_ACCOUNT}  # both member accounts
    assert list(folder.glob("AWSLogs/o-*/*/CloudTrail-Digest/*/*/*/*/*_CloudTrail-Digest_*.json.gz"))

    selection = LogSelection(day_window())
    intact = read_archive(offline_fetcher(), str(folder), selection)
    assert intact.integrity is not None
    summary = intact.integrity.to_dict()["summary"]
    assert summary["verified"] == len(intact.opened) > 0 and summary["mismatched"] == summary["missing"] == 0
    chains = {d["chain"] for d in intact.integrity.digests.values()}
    assert "chained" in chains and "broken" not in chains
    assert not [g for g in intact.gaps if g.call == "cloudtrail:log-integrity"]

    # change one event in one log file (re-gzipped, as an attacker would), delete another
    read = sorted(p for p in org_logs  # files of the window (change events of days before lie outside it)
                  if intact.integrity.files.get(p.relative_to(folder).as_posix(), {}).get("status") == "verified")
    tampered, deleted = read[0], read[-1]
    document = json.loads(gzip.decompress(tampered.read_bytes()))
    document["Records"][0]["sourceIPAddress"] = "203.0.113.66"
    tampered.write_bytes(gzip.compress(json.dumps(document, separators=(",", ":")).encode()))
    deleted.unlink()
    after = read_archive(offline_fetcher(), str(folder), selection)
    relative = tampered.relative_to(folder).as_posix()
    assert after.integrity is not None
    assert after.integrity.files[relative]["status"] == "mismatched"
    assert after.integrity.files[deleted.relative_to(folder).as_posix()]["status"] == "missing"
    assert after.integrity.count("verified") == len(intact.opened) - 2
    errors = {g.error: g.impact for g in after.gaps if g.call == "cloudtrail:log-integrity"}
    assert relative in errors["LogFileHashMismatch"] and "changed" in errors["LogFileHashMismatch"]
    assert deleted.name in errors["LogFileMissing"]
    assert any(r.get("sourceIPAddress") == "203.0.113.66" for r in after.records)  # reported, still read


def test_a_changed_digest_breaks_the_chain(outage, tmp_path):
    folder = download(outage, tmp_path / "org")
    digests = sorted(folder.glob("AWSLogs/o-*/123456789012/CloudTrail-Digest/eu-west-1/*/*/*/*.json.gz"))
    assert len(digests) >= 2
    first = digests[0]
    document = json.loads(gzip.decompress(first.read_bytes()))
    document["newestEventTime"] = "2000-01-01T00:00:00Z"
    first.write_bytes(gzip.compress(json.dumps(document).encode()))
    result = read_archive(offline_fetcher(), str(folder), LogSelection(day_window()))
    assert result.integrity is not None
    broken = [d for d in result.integrity.digests.values() if d["chain"] == "broken"]
    assert len(broken) == 1 and broken[0]["previous"] == first.name
    assert any(g.error == "DigestChainBroken" for g in result.gaps)


def test_a_budget_limited_read_reports_what_it_skipped(outage, tmp_path):
    folder = download(outage, tmp_path / "org")
    selection = LogSelection(day_window())
    whole = read_archive(offline_fetcher(), str(folder), selection)
    sizes = [p.stat().st_size for p in sorted(folder.rglob("*.json.gz")) if "Digest" not in p.name]
    budget = Budget(max_bytes=sum(sorted(sizes)[:2]))
    cut = read_archive(offline_fetcher(), str(folder), selection, budget=budget)
    assert 0 < len(cut.opened) < len(whole.opened)
    assert cut.skipped_files == whole.listed - len(cut.opened)
    [gap] = [g for g in cut.gaps if g.error == "BudgetExceeded"]
    assert f"{cut.skipped_files} of the {whole.listed} log files" in gap.impact
    assert f"({cut.skipped_bytes} bytes)" in gap.impact and cut.skipped_bytes > 0
    assert cut.integrity is not None and cut.integrity.count("missing") == 0  # skipped is not missing


def test_org_layout_files_are_chosen_by_name_before_any_is_opened(tmp_path):
    """Files outside the account, Region or window are never opened: here they are unreadable (mode 000)."""
    base = tmp_path / "AWSLogs" / "o-abcdefghij"
    keep = base / "123456789012/CloudTrail/eu-west-1/2024/03/02/123456789012_CloudTrail_eu-west-1_20240302T1015Z_a.json.gz"
    record = {"eventVersion": "1.08", "eventID": "e1", "eventTime": "2024-03-02T10:11:00Z", "eventName": "X",
              "awsRegion": "eu-west-1", "recipientAccountId": "123456789012"}
    others = [
        base / "444455556666/CloudTrail/eu-west-1/2024/03/02/444455556666_CloudTrail_eu-west-1_20240302T1015Z_b.json.gz",
        base / "123456789012/CloudTrail/us-east-1/2024/03/02/123456789012_CloudTrail_us-east-1_20240302T1015Z_c.json.gz",
        base / "123456789012/CloudTrail/eu-west-1/2024/03/01/123456789012_CloudTrail_eu-west-1_20240301T1015Z_d.json.gz",
        base / "123456789012/CloudTrail/eu-west-1/2024/03/02/123456789012_CloudTrail_eu-west-1_20240302T1815Z_e.json.gz",
    ]
    for path in [keep, *others]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(json.dumps({"Records": [record]}).encode()))
    for path in others:
        path.chmod(0)
    window = TimeRange(datetime(2024, 3, 2, 10, tzinfo=UTC), datetime(2024, 3, 2, 11, tzinfo=UTC))
    result = read_archive(offline_fetcher(), str(tmp_path),
                          LogSelection(window, frozenset({"123456789012"}), frozenset({"eu-west-1"})))
    assert result.opened == [keep.relative_to(tmp_path).as_posix()]
    assert [r["eventID"] for r in result.records] == ["e1"] and not result.gaps


def kit_scan(sim, *args: str) -> subprocess.CompletedProcess[str]:
    env = sim.process_environ_without_aws() | sim.environ()
    return subprocess.run([sys.executable, "-m", "kit", "scan", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def scanned(out: Path) -> set[tuple[str, str, str]]:
    summary = json.loads((out / "scan-summary.json").read_text())
    found = {(i["account_id"], i["region"], i["instance_id"]) for i in summary["instances"]}
    for item in summary["instances"]:
        parameters = yaml.safe_load((out / item["params_file"]).read_text())
        assert parameters["instance_id"] == item["instance_id"] and parameters["region"] == item["region"]
        assert parameters["cloudtrail_source"] == summary["cloudtrail_source"]
        assert item["failed_at"]
    return found


@pytest.mark.parametrize("where", ["s3", "folder"])
def test_kit_scan_from_the_trail_finds_exactly_the_seeded_failures(outage, tmp_path, where):
    expected = kms_refused_failures()
    assert {(a, r) for a, r, _ in expected} >= {("123456789012", SCAN_REGION), (OTHER_ACCOUNT, SCAN_REGION),
                                                 ("123456789012", "eu-west-1")}
    source = f"s3://{org_trail_bucket()}" if where == "s3" else str(download(outage, tmp_path / "org"))
    since = (datetime.now(UTC) - timedelta(hours=6)).isoformat()
    result = kit_scan(outage, "--cloudtrail-source", source, "--since", since, "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert scanned(tmp_path / "out") == expected
    # the whole organisation in one pass; Region narrows it
    narrow = kit_scan(outage, "--cloudtrail-source", source, "--since", since, "--region", SCAN_REGION,
                      "--out", str(tmp_path / "narrow"))
    assert narrow.returncode == 0, narrow.stderr
    assert scanned(tmp_path / "narrow") == {f for f in expected if f[1] == SCAN_REGION}


def test_kit_scan_from_the_trail_needs_since(outage, tmp_path):
    result = kit_scan(outage, "--cloudtrail-source", f"s3://{org_trail_bucket()}", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "--since" in result.stderr


@pytest.mark.parametrize("scenario", ["cross-account-key"])
def test_an_investigation_from_the_org_trail_gives_the_lookup_verdict_with_verified_files(
        outage, sim_env, tmp_path, scenario):
    from kit.collect.bundle import load_bundle, write_bundle
    from kit.collect.live import collect_live
    from kit.diagnose import diagnose

    seeded = outage.scenario(scenario)
    verdicts = {}
    for name, source in (("lookup", None), ("s3", f"s3://{org_trail_bucket()}"),
                         ("folder", str(download(outage, tmp_path / "org")))):
        evidence = collect_live(seeded.instance_id, seeded.region, cloudtrail_source=source)
        verdicts[name] = (diagnose(evidence).verdict.cause, diagnose(evidence).verdict.denied_by)
        if source:
            logs = evidence.documents_with_prefix("cloudtrail-logs/AWSLogs/o-")
            assert logs and all(f"/{seeded.account_id}/CloudTrail/{seeded.region}/" in n for n in logs)
            integrity = evidence.documents["cloudtrail.log-integrity.json"]
            assert integrity["summary"]["verified"] == len(logs) and integrity["summary"]["mismatched"] == 0
            again = load_bundle(write_bundle(evidence, tmp_path / f"bundle-{name}"))
            assert again.documents["cloudtrail.log-integrity.json"] == integrity
    assert verdicts["s3"] == verdicts["folder"] == verdicts["lookup"]
    assert verdicts["lookup"][0] == seeded.expected["cause"]


def test_a_broken_log_file_is_reported_by_name_and_the_others_are_read(tmp_path):
    folder = tmp_path / "AWSLogs/123456789012/CloudTrail/eu-west-1/2024/03/02"
    folder.mkdir(parents=True)
    good = {"eventVersion": "1.08", "eventID": "ok", "eventTime": "2024-03-02T10:11:00Z", "eventName": "X"}
    names = [f"123456789012_CloudTrail_eu-west-1_20240302T10{m}Z_x.json.gz" for m in ("15", "20")]
    (folder / names[0]).write_bytes(gzip.compress(json.dumps({"Records": [good]}).encode()))
    (folder / names[1]).write_bytes(gzip.compress(json.dumps({"Records": [good]}).encode())[:-9])  # truncated
    window = TimeRange(datetime(2024, 3, 2, 10, tzinfo=UTC), datetime(2024, 3, 2, 11, tzinfo=UTC))
    result = read_archive(offline_fetcher(), str(tmp_path), LogSelection(window))
    assert [r["eventID"] for r in result.records] == ["ok"]
    [gap] = result.gaps
    assert gap.error == "UnreadableLogFile" and names[1] in gap.impact and "missing" in gap.impact
