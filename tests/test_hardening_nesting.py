"""Issue 16 defect 14: deeply nested JSON is bad input naming the file (or a gap), never a RecursionError."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from kit.collect.bundle import load_bundle, write_bundle
from kit.collect.cli_folder import load_cli_folder
from kit.errors import BadInput

KIT = Path(sys.prefix) / "bin" / "kit"
ACCOUNT = "123456789012"
INSTANCE = "i-0abc12345678def01"
KEY_ID = "8e3426b8-1111-2222-3333-444455556666"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"
DEPTHS = (100_000, 2_000, 900, 150)  # past the parser's limit, and under it (deep enough to break recursive code later)


def _nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def _describe_instances() -> dict:
    return {"Reservations": [{"ReservationId": "r-1", "OwnerId": ACCOUNT, "Instances": [{
        "InstanceId": INSTANCE, "ImageId": "ami-0123456789abcdef0", "InstanceType": "t3.micro",
        "LaunchTime": "2024-05-01T10:00:00.000Z", "Placement": {"AvailabilityZone": "eu-west-1a"},
        "State": {"Code": 80, "Name": "stopped"}, "BlockDeviceMappings": []}]}]}


@pytest.mark.parametrize("depth", DEPTHS)
def test_policy_check_of_a_deeply_nested_case_exits_2_naming_the_file(tmp_path: Path, depth: int) -> None:
    """Before: RecursionError, a raw traceback and exit 1."""
    path = tmp_path / "case.json"
    path.write_text(_nested(depth), encoding="utf-8")
    done = subprocess.run([str(KIT), "policy", "check", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-1500:]
    assert done.stdout == ""
    if depth > 1000:  # beyond what can be read: the file is named (shallower ones fail on their first field)
        assert str(path) in done.stderr and "nested too deeply" in done.stderr


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_deeply_nested_file_in_a_cli_folder_is_an_invalid_file_gap(tmp_path: Path, depth: int) -> None:
    """Before: RecursionError out of load_cli_folder."""
    folder = tmp_path / "cli"
    folder.mkdir()
    (folder / "ec2.describe-instances.json").write_text(json.dumps(_describe_instances()), encoding="utf-8")
    (folder / f"kms.describe-key.{KEY_ID}.json").write_text(_nested(depth), encoding="utf-8")
    (folder / "cloudtrail.lookup-events.instance.json").write_text(
        '{"Events": [' + _nested(depth) + "]}", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evidence = load_cli_folder(folder)
    invalid = {g.call: g for g in evidence.gaps if g.error == "invalid-file"}
    assert "kms:DescribeKey" in invalid and "cloudtrail:LookupEvents" in invalid, evidence.gaps
    assert f"kms.describe-key.{KEY_ID}.json" in invalid["kms:DescribeKey"].impact
    assert f"kms.describe-key.{KEY_ID}.json" not in evidence.documents


def test_a_deeply_nested_describe_instances_is_bad_input_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "cli"
    folder.mkdir()
    (folder / "ec2.describe-instances.json").write_text(_nested(100_000), encoding="utf-8")
    with pytest.raises(BadInput, match="ec2.describe-instances.json"):
        load_cli_folder(folder)


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_deeply_nested_bundle_file_is_bad_input_naming_it(tmp_path: Path, depth: int) -> None:
    """A bundle whose file was replaced by deep JSON (manifest rehashed): BadInput naming the file."""
    folder = tmp_path / "cli"
    folder.mkdir()
    (folder / "ec2.describe-instances.json").write_text(json.dumps(_describe_instances()), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle = write_bundle(load_cli_folder(folder), tmp_path / "bundle")
    target = bundle / "ec2.describe-instances.json"
    target.write_text(_nested(depth), encoding="utf-8")
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        if entry["path"] == target.name:
            entry["sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BadInput, match="ec2.describe-instances.json"):
        load_bundle(bundle)
    (bundle / "manifest.json").write_text(_nested(depth), encoding="utf-8")
    with pytest.raises(BadInput, match="manifest.json"):
        load_bundle(bundle)


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_deeply_nested_cloudtrail_event_string_is_an_invalid_file_gap(tmp_path: Path, depth: int) -> None:
    """Before: no gap; past the parser's limit, decoding the event later raised RecursionError."""
    from kit.frames.cloudtrail import records_from_documents

    folder = tmp_path / "cli"
    folder.mkdir()
    (folder / "ec2.describe-instances.json").write_text(json.dumps(_describe_instances()), encoding="utf-8")
    events = {"Events": [{"EventId": "e-1", "EventName": "CreateGrant", "CloudTrailEvent": _nested(depth)}]}
    (folder / "cloudtrail.lookup-events.instance.json").write_text(json.dumps(events), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evidence = load_cli_folder(folder)
    gap = next(g for g in evidence.gaps if g.call == "cloudtrail:LookupEvents" and g.error == "invalid-file")
    assert "cloudtrail.lookup-events.instance.json" in gap.impact and "CloudTrailEvent" in gap.impact
    assert records_from_documents(evidence) == []
