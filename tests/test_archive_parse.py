"""The archive reader's per-file parsing (kit.collect.log_parse): the byte test and the anchored parse keep exactly
the records the full parse and the filter keep, whatever the layout, and fall back to the full parse when a cut
is not one record."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from kit.batch.trail_failures import NEEDLES, record_may_fail
from kit.collect.log_parse import ParseJob, anchored_records, parse_job


def record(n: int, name: str = "DescribeInstances", source: str = "ec2.amazonaws.com", error: str | None = None,
           invoked_by: str | None = None, request: object = None) -> dict:
    identity = {"type": "AssumedRole", "arn": f"arn:aws:sts::123456789012:assumed-role/app/s{n}",
                "accountId": "123456789012"}
    if invoked_by:
        identity["invokedBy"] = invoked_by
    out = {"eventVersion": "1.09", "userIdentity": identity, "eventTime": f"2026-11-24T10:{n % 60:02d}:00Z",
           "eventSource": source, "eventName": name, "awsRegion": "eu-west-1", "requestParameters": request,
           "eventID": f"e-{n}", "recipientAccountId": "123456789012"}
    if error:
        out["errorCode"] = error
    return out


MIXED = [record(0), record(1, "RunInstances", request={"instancesSet": {"items": [{"imageId": "ami-1"}]}}),
         record(2, "Decrypt", "kms.amazonaws.com", "AccessDenied"),  # a user's refusal: not kept
         record(3, "CreateGrant", "kms.amazonaws.com", "AccessDenied", "ec2.amazonaws.com"),
         record(4, "GenerateDataKey", "kms.amazonaws.com", "ThrottlingException", "ec2.amazonaws.com"),
         record(5, "PutObject", "s3.amazonaws.com", request={"note": "RunInstances \"RunInstances\""}),
         record(6, "StartInstances", request={"instancesSet": {"items": [{"instanceId": "i-0123456789abcdef0"}]}})]
KEPT = ["e-1", "e-3", "e-6"]


def kept(data: bytes, tmp_path: Path, gzipped: bool = True) -> list[str]:
    path = tmp_path / "f.json.gz"
    path.write_bytes(gzip.compress(data) if gzipped else data)
    parsed = parse_job(ParseJob("f.json.gz", path=str(path), needles=NEEDLES, keep=record_may_fail))
    return [r["eventID"] for r in parsed.records or []]


def test_the_anchored_parse_keeps_what_the_full_parse_keeps(tmp_path):
    compact = json.dumps({"Records": MIXED}, separators=(",", ":")).encode()
    assert [r["eventID"] for r in anchored_records(compact, NEEDLES) or [] if record_may_fail(r)] == KEPT
    assert kept(compact, tmp_path) == KEPT
    spaced = json.dumps({"Records": MIXED}).encode()  # ", " separators: the cut still lands on records
    assert kept(spaced, tmp_path) == KEPT
    pretty = json.dumps({"Records": MIXED}, indent=2).encode()  # another layout: parsed whole
    assert anchored_records(pretty, NEEDLES) is None and kept(pretty, tmp_path) == KEPT


def test_a_nested_record_lookalike_falls_back_to_the_full_parse(tmp_path):
    nested = record(7, "RunInstances", request={"tagSpecificationSet": {"items": [
        {"eventVersion": "1.09", "eventName": "CreateGrant", "errorCode": "AccessDenied"}]}})
    data = json.dumps({"Records": [record(0), nested, record(8)]}, separators=(",", ":")).encode()
    assert anchored_records(data, NEEDLES) is None
    assert kept(data, tmp_path) == ["e-7"]


def test_a_file_without_any_needle_is_not_parsed(tmp_path):
    data = json.dumps({"Records": [record(0), record(2, "Decrypt", "kms.amazonaws.com")]}).encode()
    path = tmp_path / "f.json"
    path.write_bytes(data)
    parsed = parse_job(ParseJob("f.json", path=str(path), needles=NEEDLES, keep=record_may_fail))
    assert parsed.passed_test is False and parsed.records is None and parsed.sha256
