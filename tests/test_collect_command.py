"""`kit collect` end to end (a subprocess against the simulated account), and CloudTrail from log archives."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import boto3

from kit.collect.bundle import load_bundle
from kit.collect.live import collect_live
from tests.call_budget import assert_within_budget


def trail_bucket(sim) -> str:
    """The bucket the account's trail delivers to, as an analyst finds it (describe-trails)."""
    env = sim.environ()
    cloudtrail = boto3.client("cloudtrail", region_name="eu-west-1", endpoint_url=env["AWS_ENDPOINT_URL"],
                              aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    [trail] = [t for t in cloudtrail.describe_trails()["trailList"] if t.get("IsMultiRegionTrail")]
    return trail["S3BucketName"]


def kit(sim, *args: str) -> subprocess.CompletedProcess[str]:
    env = sim.process_environ_without_aws() | sim.environ()
    return subprocess.run([sys.executable, "-m", "kit", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_kit_collect_writes_a_bundle_that_loads(sim, sim_client, tmp_path):
    seed = sim.scenario("seed")
    out = tmp_path / "bundle"
    result = kit(sim, "collect", "--instance-id", seed.instance_id, "--region", seed.region, "--out", str(out),
                 "--window-before", "120")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"bundle {out}: ")
    evidence = load_bundle(out)
    assert (evidence.instance_id, evidence.region) == (seed.instance_id, seed.region)
    assert evidence.parameters["window"]["before_minutes"] == 120
    manifest = json.loads((out / "manifest.json").read_text())
    since = (evidence.parameters.get("change_window") or {}).get("start")  # the look-back has its own budget
    incident = [c for c in evidence.calls if not (c["operation"] == "cloudtrail:LookupEvents"
                                                  and c["params"].get("StartTime") == since)]
    assert len(manifest["calls"]) == len(evidence.calls)
    assert_within_budget(incident, sim_client("organizations", region="us-east-1"), seed.account_id)
    assert f"kms.get-key-policy.{seed.expected['key_arn'].rsplit('/', 1)[-1]}.json" in evidence.documents
    assert evidence.parameters["launching_principal"]["arn"] == seed.expected["principal_arn"]


def test_kit_collect_bad_input_exits_2_naming_the_field(sim, tmp_path):
    result = kit(sim, "collect", "--instance-id", "not-an-instance", "--region", "eu-west-1", "--out",
                 str(tmp_path / "b"))
    assert result.returncode == 2 and "instance_id" in result.stderr
    result = kit(sim, "collect", "--instance-id", "i-0123456789abcdef0", "--region", "eu-west-1", "--profile",
                 "no-such-profile", "--out", str(tmp_path / "c"))
    assert result.returncode == 2 and "--profile" in result.stderr
    result = kit(sim, "collect", "--instance-id", "i-0123456789abcdef0", "--region", "eu-west-1", "--window-before",
                 "-5", "--out", str(tmp_path / "d"))
    assert result.returncode == 2 and "before_minutes" in result.stderr


def test_kit_collect_reads_cloudtrail_from_the_trail_bucket(sim, tmp_path):
    seed = sim.scenario("seed")
    out = tmp_path / "bundle"
    source = f"s3://{trail_bucket(sim)}/"
    result = kit(sim, "collect", "--instance-id", seed.instance_id, "--region", seed.region, "--out", str(out),
                 "--cloudtrail-source", source)
    assert result.returncode == 0, result.stderr
    evidence = load_bundle(out)
    operations = [c["operation"] for c in evidence.calls]
    assert "cloudtrail:LookupEvents" not in operations
    assert "s3:ListObjectsV2" in operations and "s3:GetObject" in operations
    logs = evidence.documents_with_prefix("cloudtrail-logs/AWSLogs/123456789012/CloudTrail/eu-west-1/")
    assert logs and all(isinstance(d["Records"], list) for d in logs.values())
    records = [r for d in logs.values() for r in d["Records"]]
    assert any(r["eventName"] == "StartInstances" and seed.instance_id in json.dumps(r) for r in records)
    assert any(r["eventName"] == "CreateGrant" and r.get("errorCode") for r in records)
    assert evidence.parameters["launching_principal"]["arn"] == seed.expected["principal_arn"]
    assert evidence.parameters["cloudtrail_source"] == source


def test_a_local_log_folder_gives_the_same_records_as_the_bucket(sim, sim_env, tmp_path):
    seed = sim.scenario("seed")
    bucket = trail_bucket(sim)
    s3 = boto3.client("s3", region_name="us-east-1")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents") or []:
            path = tmp_path / "logs" / item["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    from_folder = collect_live(seed.instance_id, seed.region, cloudtrail_source=str(tmp_path / "logs"))
    from_bucket = collect_live(seed.instance_id, seed.region, cloudtrail_source=f"s3://{bucket}")
    folder_logs = from_folder.documents_with_prefix("cloudtrail-logs/")
    bucket_logs = from_bucket.documents_with_prefix("cloudtrail-logs/")
    # the look-back for changes (kit.collect.trail_changes) runs up to the time of each collection
    lookback = "cloudtrail-logs/change-lookback.json.gz"
    assert folder_logs.pop(lookback)["Records"] == bucket_logs.pop(lookback)["Records"]
    assert folder_logs == bucket_logs
    some = next(iter(folder_logs))
    assert json.loads(gzip.decompress((tmp_path / "logs" / some[len("cloudtrail-logs/"):]).read_bytes())) == \
        folder_logs[some]
    # the events come from the folder alone (the trail's event selectors are still read: do they record KMS?)
    assert not any(c["operation"] == "cloudtrail:LookupEvents" or c["operation"].startswith("s3:")
                   for c in from_folder.calls)
    all_files = list(Path(tmp_path / "logs").rglob("*.json.gz"))
    assert len(folder_logs) <= len(all_files)
