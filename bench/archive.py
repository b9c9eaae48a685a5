"""Bench: an organisation trail's day (1,000,000 records) read the naive way and the kit's way, side by side.

    .venv/bin/python bench/archive.py [--cache DIR] [--records N] [--files N]

Generates once (reused from --cache, default /tmp/kit-bench-archive-<records>-<files>) an organisation-trail
archive: AWSLogs/o-xxxx/<account>/CloudTrail/<region>/YYYY/MM/DD/ for 4 accounts and 2 Regions, about 500
gzipped log files in CloudTrail's compact JSON, a mix of event sources (S3, STS, EC2 Describe*, KMS by services,
IAM, Lambda, CloudWatch Logs, SSM, ...), the launch failures of a few dozen instances (EC2's CreateGrant /
GenerateDataKeyWithoutPlaintext / Decrypt refused) among successful launches and decoys (users' own KMS
refusals, EC2's throttled KMS calls), and the trail's chained digest files (kit.simulate.trail.DigestChain).

Then runs, each in its own process (wall time, and peak memory of its process tree: the process and its worker
processes, sampled with psutil every 20 ms and summed):
  naive incident   json.load of every file, pandas.json_normalize, filter the incident's account/Region/window
  kit incident     kit.collect.cloudtrail_logs.collect_log_archive (files chosen by name)
  naive day        json.load of every file, pandas.json_normalize, filter launches and EC2's KMS refusals,
                   then kit.batch.trail_failures.launch_failures
  kit day          kit scan's path: read_archive with the byte test, the anchored parse and the record filter
                   in worker processes, then launch_failures
and checks that both ways find the same events (event ids) and the same failures (the seeded ones). Prints
`archive-kit-peak-mib: <N>` (the kit's whole-day scan) and, last, `archive-speedup: <naive/kit>` (whole day).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ORG_ID = "o-bench12345a"
ACCOUNTS = ("210987654321", "321098765432", "432109876543", "543210987654")
REGIONS = ("us-east-1", "eu-west-1")
DAY = datetime(2026, 11, 24, tzinfo=timezone.utc)
FAILURES = 36
INCIDENT_BEFORE, INCIDENT_AFTER = timedelta(minutes=60), timedelta(minutes=30)


# ---- the archive ---------------------------------------------------------------------------------------------

def _identity(account: str, role: str, session: str, rng: random.Random) -> dict[str, Any]:
    role_id = "AROA" + hashlib.sha256(f"{account}{role}".encode()).hexdigest()[:17].upper()
    return {"type": "AssumedRole", "principalId": f"{role_id}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}", "accountId": account,
            "accessKeyId": "ASIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": role_id,
                                                 "arn": f"arn:aws:iam::{account}:role/{role}", "accountId": account,
                                                 "userName": role},
                               "webIdFederationData": {},
                               "attributes": {"creationDate": "2026-11-24T00:00:00Z", "mfaAuthenticated": "false"}}}


_NOISE = (  # (source, name, readOnly, weight)
    ("s3.amazonaws.com", "GetBucketAcl", True, 8), ("s3.amazonaws.com", "ListBuckets", True, 3),
    ("sts.amazonaws.com", "AssumeRole", True, 12), ("ec2.amazonaws.com", "DescribeInstances", True, 10),
    ("ec2.amazonaws.com", "DescribeVolumes", True, 5), ("ec2.amazonaws.com", "DescribeSecurityGroups", True, 4),
    ("kms.amazonaws.com", "Decrypt", True, 14), ("kms.amazonaws.com", "GenerateDataKey", True, 8),
    ("iam.amazonaws.com", "GetRole", True, 4), ("lambda.amazonaws.com", "ListFunctions20150331", True, 3),
    ("logs.amazonaws.com", "CreateLogStream", False, 6), ("ssm.amazonaws.com", "GetParameters", True, 6),
    ("monitoring.amazonaws.com", "PutMetricData", False, 5), ("secretsmanager.amazonaws.com", "GetSecretValue",
                                                                True, 3),
    ("ec2.amazonaws.com", "CreateTags", False, 2), ("autoscaling.amazonaws.com", "DescribeAutoScalingGroups", True, 2),
)


def _base(account: str, region: str, at: datetime, source: str, name: str, identity: dict[str, Any],
          read_only: bool, rng: random.Random) -> dict[str, Any]:
    return {"eventVersion": "1.09", "userIdentity": identity, "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": source, "eventName": name, "awsRegion": region,
            "sourceIPAddress": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            "userAgent": "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/kms#1.35.3",
            "requestParameters": None, "responseElements": None, "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
            "eventID": str(uuid.UUID(int=rng.getrandbits(128))), "readOnly": read_only, "eventType": "AwsApiCall",
            "managementEvent": True, "recipientAccountId": account, "eventCategory": "Management",
            "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                           "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com"}}


def _noise(account: str, region: str, at: datetime, rng: random.Random, identities: list[dict[str, Any]],
           weights: list[int]) -> dict[str, Any]:
    source, name, read_only, _ = rng.choices(_NOISE, weights)[0]
    record = _base(account, region, at, source, name, rng.choice(identities), read_only, rng)
    if source == "kms.amazonaws.com":
        key = f"arn:aws:kms:{region}:{account}:key/{uuid.UUID(int=rng.getrandbits(128))}"
        record["requestParameters"] = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "keyId": key,
                                       "encryptionContext": {"aws:lambda:FunctionArn":
                                                             f"arn:aws:lambda:{region}:{account}:function:app"}}
        record["resources"] = [{"accountId": account, "type": "AWS::KMS::Key", "ARN": key}]
        if rng.random() < 0.01:  # a user's own refusal: not EC2's, not a launch failure
            record["errorCode"], record["errorMessage"] = "AccessDenied", "User is not authorized to decrypt"
    elif name == "DescribeInstances":
        record["requestParameters"] = {"instancesSet": {}, "filterSet": {"items": [
            {"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}]}}]}}
    elif source == "sts.amazonaws.com":
        record["requestParameters"] = {"roleArn": f"arn:aws:iam::{account}:role/app", "roleSessionName": "app"}
        record["responseElements"] = {"credentials": {"accessKeyId": "ASIAEXAMPLE", "sessionToken": "<redacted>",
                                                      "expiration": "Nov 24, 2026, 12:00:00 AM"}}
    elif rng.random() < 0.03:
        record["errorCode"], record["errorMessage"] = "AccessDenied", "not authorized"
    return record


def _launch(account: str, region: str, at: datetime, rng: random.Random, launcher: dict[str, Any],
            instance: str, volume: str, key: str, refusal: str | None) -> list[dict[str, Any]]:
    """A launch and EC2's KMS calls for it; refusal: None (it works), or which call is refused."""
    run = _base(account, region, at, "ec2.amazonaws.com", "RunInstances", launcher, False, rng)
    run["requestParameters"] = {"instancesSet": {"items": [{"imageId": "ami-0abcdef1234567890", "minCount": 1,
                                                            "maxCount": 1}]}, "instanceType": "m6i.large",
                                "blockDeviceMapping": {"items": [{"deviceName": "/dev/xvda",
                                                                  "ebs": {"encrypted": True, "kmsKeyId": key}}]}}
    run["responseElements"] = {"instancesSet": {"items": [{"instanceId": instance, "instanceState":
                                                           {"code": 0, "name": "pending"},
                                                           "blockDeviceMapping": {"items": [{"deviceName": "/dev/xvda",
                                                                                             "ebs": {"volumeId": volume}}]}}]}}
    out = [run]
    by_ec2 = dict(launcher, invokedBy="ec2.amazonaws.com")
    grant = _base(account, region, at + timedelta(seconds=1), "kms.amazonaws.com", "CreateGrant", by_ec2, False, rng)
    grant["requestParameters"] = {"keyId": key, "granteePrincipal":
                                  f"arn:aws:sts::{account}:assumed-role/aws:ec2-infrastructure/{instance}",
                                  "retiringPrincipal": f"ec2.{region}.amazonaws.com", "operations": ["Decrypt"],
                                  "constraints": {"encryptionContextSubset": {"aws:ebs:id": volume}}}
    grant["resources"] = [{"accountId": account, "type": "AWS::KMS::Key", "ARN": key}]
    generate = _base(account, region, at + timedelta(seconds=1), "kms.amazonaws.com",
                     "GenerateDataKeyWithoutPlaintext", by_ec2, True, rng)
    generate["requestParameters"] = {"keyId": key, "encryptionContext": {"aws:ebs:id": volume}, "numberOfBytes": 64}
    generate["resources"] = grant["resources"]
    if refusal == "CreateGrant":
        grant["errorCode"], grant["errorMessage"] = "AccessDenied", f"not authorized to perform kms:CreateGrant on {key}"
        out.append(grant)
    elif refusal == "GenerateDataKeyWithoutPlaintext":
        generate["errorCode"], generate["errorMessage"] = "DisabledException", f"{key} is disabled."
        out.append(generate)
    else:
        out += [grant, generate]
        if rng.random() < 0.2:  # EC2 throttled, then retried: not a failure
            throttled = dict(generate, eventID=str(uuid.UUID(int=rng.getrandbits(128))),
                             errorCode="ThrottlingException", errorMessage="Rate exceeded")
            out.append(throttled)
    return out


def generate(folder: Path, records: int, files: int, seed: int = 13) -> dict[str, Any]:
    """Write the archive (log files and chained digests) into `folder`/trail; returns the ground truth (also
    written to `folder`/truth.json, beside the archive)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import orjson

    from kit.simulate.trail import DigestChain, LogFile

    rng = random.Random(seed)
    pairs = [(a, r) for a in ACCOUNTS for r in REGIONS]
    per_pair_files = max(1, files // len(pairs))
    per_file = max(1, records // (per_pair_files * len(pairs)))
    span = timedelta(days=1) / per_pair_files
    if span > timedelta(minutes=25):  # CloudTrail delivers within ~15 minutes; the kit allows 30
        raise SystemExit(f"{files} files for {len(pairs)} account/Region pairs is one file per {span}: use more files")
    weights = [w for *_, w in _NOISE]
    failures: list[dict[str, Any]] = []
    special: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for index in range(FAILURES + 150):  # the failures, and successful launches around them
        account, region = pairs[index % len(pairs)]
        at = DAY + timedelta(seconds=rng.randrange(3600, 86400 - 3600))
        instance = "i-" + "".join(rng.choice("0123456789abcdef") for _ in range(17))
        volume = "vol-" + "".join(rng.choice("0123456789abcdef") for _ in range(17))
        key = f"arn:aws:kms:{region}:{account}:key/{uuid.UUID(int=rng.getrandbits(128))}"
        launcher = _identity(account, "ci-deployer", f"run-{index}", rng)
        refusal = None
        if index < FAILURES:
            refusal = "CreateGrant" if index % 3 else "GenerateDataKeyWithoutPlaintext"
            failures.append({"account_id": account, "region": region, "instance_id": instance,
                             "launched_at": at.isoformat()})
        slot = int((at - DAY) / span)
        special.setdefault((account, region, slot), []).extend(
            _launch(account, region, at, rng, launcher, instance, volume, key, refusal))
    chain = DigestChain(org_id=ORG_ID, bucket="org-trail-logs")
    delivered: dict[tuple[str, str, int], list[LogFile]] = {}
    for account, region in pairs:
        identities = [_identity(account, role, f"s{n}", rng) for n, role in enumerate(
            ("app", "batch", "etl", "monitoring", "ci-deployer", "AWSServiceRoleForECS"))]
        for slot in range(per_pair_files):
            start = DAY + span * slot
            batch = [_noise(account, region, start + timedelta(seconds=rng.random() * span.total_seconds()), rng,
                            identities, weights) for _ in range(per_file)]
            batch += special.get((account, region, slot), [])
            batch.sort(key=lambda r: r["eventTime"])
            deliver = start + span + timedelta(minutes=5)
            stamp = deliver.strftime("%Y%m%dT%H%MZ")
            name = f"{account}_CloudTrail_{region}_{stamp}_{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}.json.gz"
            key = f"AWSLogs/{ORG_ID}/{account}/CloudTrail/{region}/{deliver:%Y/%m/%d}/{name}"
            body = orjson.dumps({"Records": batch})
            path = folder / "trail" / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(gzip.compress(body, compresslevel=6, mtime=0))
            hour = int((deliver - DAY).total_seconds() // 3600)
            delivered.setdefault((account, region, hour), []).append(
                LogFile(key, b"", account, region, hashlib.sha256(body).hexdigest(), batch[0]["eventTime"],
                        batch[-1]["eventTime"]))
    for (_account, _region, hour), group in sorted(delivered.items(), key=lambda item: item[0][2]):
        for key, body, _signature in chain.digests(group, DAY + timedelta(hours=hour + 1, minutes=1)):
            (folder / "trail" / key).parent.mkdir(parents=True, exist_ok=True)
            (folder / "trail" / key).write_bytes(body)
    truth = {"records": per_file * per_pair_files * len(pairs) + sum(len(v) for v in special.values()),
             "files": per_pair_files * len(pairs), "failures": failures}
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))
    return truth


# ---- the four runs (each in its own process) ----------------------------------------------------------------

def _incident(truth: dict[str, Any]) -> tuple[str, str, datetime, datetime]:
    first = truth["failures"][0]
    at = datetime.fromisoformat(first["launched_at"])
    return first["account_id"], first["region"], at - INCIDENT_BEFORE, at + INCIDENT_AFTER


def _log_files(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "trail").rglob("*.json.gz") if "CloudTrail-Digest" not in p.parts)


def run_naive(folder: Path, mode: str, truth: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd

    from kit.batch.trail_failures import LAUNCH_EVENTS, NOT_REFUSALS, launch_failures
    from kit.frames.cloudtrail import events_frame

    account, region, start, end = _incident(truth)
    kept: list[dict[str, Any]] = []
    for path in _log_files(folder):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            records = json.load(handle)["Records"]
        frame = pd.json_normalize(records)
        times = pd.to_datetime(frame["eventTime"], utc=True)
        if mode == "incident":
            mask = (frame["recipientAccountId"] == account) & (frame["awsRegion"] == region) & \
                (times >= start) & (times <= end)
        else:
            invoked = frame["userIdentity.invokedBy"] if "userIdentity.invokedBy" in frame else pd.Series(
                [None] * len(frame))
            errors = frame["errorCode"] if "errorCode" in frame else pd.Series([None] * len(frame))
            mask = (frame["eventName"].isin(LAUNCH_EVENTS) & (frame["eventSource"] == "ec2.amazonaws.com")) | (
                (frame["eventSource"] == "kms.amazonaws.com") & errors.notna() & ~errors.isin(NOT_REFUSALS)
                & (invoked == "ec2.amazonaws.com"))
        kept.extend(records[i] for i in mask[mask].index)
    out: dict[str, Any] = {"event_ids": sorted(r["eventID"] for r in kept)}
    if mode == "day":
        out["failures"] = _failures(launch_failures(events_frame(kept), DAY, DAY + timedelta(days=1)))
    return out


def run_kit(folder: Path, mode: str, truth: dict[str, Any]) -> dict[str, Any]:
    import boto3

    from kit.batch.trail_failures import NEEDLES, launch_failures, record_may_fail
    from kit.collect.clients import ReadOnlyClients
    from kit.collect.cloudtrail_logs import LogSelection, collect_log_archive, read_archive
    from kit.collect.cloudtrail_window import TimeRange
    from kit.collect.fetcher import Fetcher
    from kit.frames.cloudtrail import events_frame

    session = boto3.Session(aws_access_key_id="none", aws_secret_access_key="none", region_name="us-east-1")
    fetch = Fetcher(ReadOnlyClients(session, "us-east-1"))
    account, region, start, end = _incident(truth)
    if mode == "incident":
        records = collect_log_archive(fetch, str(folder / "trail"), account, region, TimeRange(start, end))
        in_window = [r for r in records if r.get("recipientAccountId") == account and r.get("awsRegion") == region
                     and start <= datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")) <= end]
        integrity = fetch.documents.get("cloudtrail.log-integrity.json", {}).get("summary")
        return {"event_ids": sorted(r["eventID"] for r in in_window), "integrity": integrity,
                "files_read": len(fetch.documents) - (1 if integrity else 0)}
    archive = read_archive(fetch, str(folder / "trail"), LogSelection(TimeRange(DAY, DAY + timedelta(days=1))),
                           needles=NEEDLES, keep=record_may_fail)
    failures = launch_failures(events_frame(archive.records), DAY, DAY + timedelta(days=1))
    return {"event_ids": sorted(r["eventID"] for r in archive.records), "failures": _failures(failures),
            "files_read": len(archive.opened), "integrity": archive.integrity.to_dict()["summary"]
            if archive.integrity else None, "gaps": [g.to_dict() for g in archive.gaps]}


def _failures(found: list[Any]) -> list[list[str]]:
    return sorted([f.account_id, f.region, f.instance_id, f.launched_at.isoformat()] for f in found)


# ---- the Athena path's cost (the other half of issue 13) ----------------------------------------------------

def athena_cost(truth: dict[str, Any]) -> str:
    """THE ATHENA HOOK: the Athena path's query count and bytes scanned (from its partition predicates) for the
    same day, from kit.collect.cloudtrail_athena when that module is in the tree (issue 13's Athena half; the
    function's name is wired at merge: `scan_cost(start, end)` here)."""
    import importlib

    try:
        athena = importlib.import_module("kit.collect.cloudtrail_athena")
    except ImportError:
        return "athena: kit.collect.cloudtrail_athena is not in this tree; no figure"
    estimate = getattr(athena, "scan_cost", None)
    if estimate is None:
        return "athena: kit.collect.cloudtrail_athena has no scan_cost(); no figure"
    return f"athena: {estimate(DAY, DAY + timedelta(days=1))}"


# ---- measuring ------------------------------------------------------------------------------------------------

def measure(folder: Path, who: str, mode: str) -> dict[str, Any]:
    """Run one way in a child process; wall seconds, and sampled every 20 ms over its process tree (the child,
    the multiprocessing forkserver and its workers): the peak of the summed RSS, and CPU seconds (user + system,
    each process's last sample, summed; at most ~20 ms per process unseen)."""
    import psutil

    out = folder.parent / f"{folder.name}-{who}-{mode}.json"
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--cache", str(folder), "--run", who, "--mode", mode,
                              "--result", str(out)])
    peak = 0
    cpu_seen: dict[int, float] = {}
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            root = psutil.Process(child.pid)
        except psutil.NoSuchProcess:
            return
        while not stop.is_set():
            total = 0
            try:
                for process in [root, *root.children(recursive=True)]:
                    try:
                        with process.oneshot():
                            total += process.memory_info().rss
                            times = process.cpu_times()
                        cpu_seen[process.pid] = times.user + times.system
                    except psutil.NoSuchProcess:
                        pass
            except psutil.NoSuchProcess:
                break
            peak = max(peak, total)
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = child.wait()
    wall = time.perf_counter() - started
    cpu = sum(cpu_seen.values())
    stop.set()
    sampler.join()
    if code != 0:
        raise SystemExit(f"{who} {mode} failed with exit code {code}")
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return {"wall": wall, "cpu": cpu, "peak_mib": peak / 2**20, **result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--cache", help="archive folder (generated once, then reused)")
    parser.add_argument("--run", choices=["naive", "kit"], help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["incident", "day"], help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = Path(args.cache or f"/tmp/kit-bench-archive-{args.records}-{args.files}")
    if args.run:
        truth = json.loads((folder / "truth.json").read_text())
        run = run_naive if args.run == "naive" else run_kit
        Path(args.result).write_text(json.dumps(run(folder, args.mode, truth)))
        return 0
    if not (folder / "truth.json").is_file():
        print(f"generating {args.records} records in about {args.files} files into {folder} ...", flush=True)
        started = time.perf_counter()
        generate(folder, args.records, args.files)
        print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    truth = json.loads((folder / "truth.json").read_text())
    size = sum(p.stat().st_size for p in _log_files(folder))
    print(f"archive: {folder}: {truth['records']} records in {truth['files']} files, {size / 2**20:.0f} MiB "
          f"gzipped, {len(truth['failures'])} seeded launch failures; {os.cpu_count()} CPUs", flush=True)
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for mode in ("day", "incident"):
        for who in ("kit", "naive"):
            results[(who, mode)] = r = measure(folder, who, mode)
            print(f"{who:5} {mode:8}  wall {r['wall']:7.2f} s   cpu {r['cpu']:7.2f} s   peak {r['peak_mib']:6.0f} MiB   "
                  f"events {len(r['event_ids'])}" + (f"   files read {r['files_read']}" if "files_read" in r else "")
                  + (f"   integrity {r['integrity']}" if r.get("integrity") else ""), flush=True)
    for mode in ("incident", "day"):
        same = results[("naive", mode)]["event_ids"] == results[("kit", mode)]["event_ids"]
        print(f"same events ({mode}): {same}")
        if not same:
            return 1
    seeded = sorted([f["account_id"], f["region"], f["instance_id"], f["launched_at"]] for f in truth["failures"])
    naive_found, kit_found = results[("naive", "day")]["failures"], results[("kit", "day")]["failures"]
    print(f"failures: seeded {len(seeded)}, naive {len(naive_found)}, kit {len(kit_found)}; "
          f"all equal: {naive_found == kit_found == seeded}")
    if not naive_found == kit_found == seeded:
        return 1
    print(athena_cost(truth))
    incident = results[("naive", "incident")]["wall"] / results[("kit", "incident")]["wall"]
    print(f"archive-incident-speedup: {incident:.1f}")
    print(f"archive-cpu-ratio: {results[('naive', 'day')]['cpu'] / results[('kit', 'day')]['cpu']:.1f} "
          "(whole day, CPU seconds of each process tree: the machine is shared)")
    print(f"archive-kit-peak-mib: {results[('kit', 'day')]['peak_mib']:.0f}")
    print(f"archive-speedup: {results[('naive', 'day')]['wall'] / results[('kit', 'day')]['wall']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
