"""Issue 16 defect 23: a cli: file holding the AWS CLI's AccessDenied error is the missing permission, with
the command to run again, not an invalid JSON file."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from kit.collect.cli_folder import load_cli_folder

ACCOUNT = "123456789012"
INSTANCE = "i-0abc12345678def01"
VOLUME = "vol-0123456789abcdef0"
KEY_ID = "8e3426b8-1111-2222-3333-444455556666"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"
DENIED = (f"An error occurred (AccessDeniedException) when calling the GetKeyPolicy operation: User: "
          f"arn:aws:iam::{ACCOUNT}:user/support is not authorized to perform: kms:GetKeyPolicy on resource: "
          f"{KEY_ARN} because no identity-based policy allows the kms:GetKeyPolicy action")


def _folder(tmp_path: Path, key_policy: str) -> Path:
    folder = tmp_path / "cli"
    folder.mkdir()
    instances = {"Reservations": [{"ReservationId": "r-1", "OwnerId": ACCOUNT, "Instances": [{
        "InstanceId": INSTANCE, "ImageId": "ami-0123456789abcdef0", "InstanceType": "t3.micro",
        "LaunchTime": "2024-05-01T10:00:00.000Z", "Placement": {"AvailabilityZone": "eu-west-1a"},
        "State": {"Code": 80, "Name": "stopped"},
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeId": VOLUME, "Status": "attached"}}]}]}]}
    volumes = {"Volumes": [{"VolumeId": VOLUME, "Encrypted": True, "KmsKeyId": KEY_ARN, "Size": 8, "State": "in-use",
                            "Attachments": [{"VolumeId": VOLUME, "InstanceId": INSTANCE, "State": "attached"}]}]}
    (folder / "ec2.describe-instances.json").write_text(json.dumps(instances), encoding="utf-8")
    (folder / "ec2.describe-volumes.json").write_text(json.dumps(volumes), encoding="utf-8")
    (folder / f"kms.get-key-policy.{KEY_ID}.json").write_text(key_policy, encoding="utf-8")
    return folder


@pytest.mark.parametrize("content", [DENIED + "\n", "\n" + DENIED + "\n", "aws: [ERROR]: " + DENIED + "\n"])
def test_an_access_denied_message_is_reported_as_the_missing_permission(tmp_path: Path, content: str) -> None:
    """Before: an invalid-file gap saying `not valid JSON`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evidence = load_cli_folder(_folder(tmp_path, content))
    gap = next(g for g in evidence.gaps if g.call == "kms:GetKeyPolicy")
    assert gap.error == "AccessDeniedException", gap
    assert "not valid JSON" not in gap.impact
    assert "not authorized to perform: kms:GetKeyPolicy" in gap.impact
    assert f"kms.get-key-policy.{KEY_ID}.json" in gap.impact
    assert gap.next_step and gap.next_step.startswith("aws kms get-key-policy ") and KEY_ID in gap.next_step
    assert f"kms.get-key-policy.{KEY_ID}.json" not in evidence.documents


def test_other_text_is_still_an_invalid_file(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evidence = load_cli_folder(_folder(tmp_path, "customer says: An error occurred, try again\n"))
    gap = next(g for g in evidence.gaps if g.call == "kms:GetKeyPolicy")
    assert gap.error == "invalid-file" and "not valid JSON" in gap.impact


def test_every_skipped_file_gets_a_next_command_even_when_the_checklist_does_not_ask_for_it(tmp_path) -> None:
    """Issue 16 #23, second half: an invalid file the checklist does not list still says how to print it again."""
    import warnings

    from kit.collect.cli_folder import load_cli_folder
    from tests.test_cli_folder import sample_documents, write_folder

    documents = sample_documents()
    other_key = "kms.describe-key.11111111-2222-3333-4444-555555555555.json"
    documents[other_key] = {"KeyMetadata": "not an object"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evidence = load_cli_folder(write_folder(tmp_path / "cli", documents))
    gap = next(g for g in evidence.gaps if other_key in g.impact)
    assert gap.error == "invalid-file"
    assert gap.next_step and gap.next_step.startswith("aws kms describe-key ")
    assert gap.next_step.endswith(f"--output json > {other_key}")
    assert all(g.next_step for g in evidence.gaps if g.error == "invalid-file")
