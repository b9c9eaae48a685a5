"""kit.aws_ids: the one home of AWS id patterns and of "the instance's account"."""

from __future__ import annotations

from pathlib import Path

import pytest

import kit
from kit.aws_ids import (ASSUMED_ROLE_ARN, INSTANCE_ID, INSTANCE_ID_IN_TEXT, KEY_ARN, REGION, ROLE_ARN,
                         instance_account, region_of_zone)

OWNER, OTHER, CALLER = "123456789012", "444455556666", "111122223333"
ID, NEIGHBOUR = "i-0123456789abcdef0", "i-0fedcba9876543210"
# describe-instances as the AWS CLI prints it: two reservations, the instance in the second
DESCRIBE = {"Reservations": [
    {"OwnerId": OTHER, "ReservationId": "r-1", "Instances": [{"InstanceId": NEIGHBOUR}]},
    {"OwnerId": OWNER, "ReservationId": "r-2", "Instances": [{"InstanceId": ID, "State": {"Name": "stopped"}}]},
]}
CALLER_IDENTITY = {"UserId": "AIDAEXAMPLE", "Account": CALLER, "Arn": f"arn:aws:iam::{CALLER}:user/reader"}


@pytest.mark.parametrize("value, ok", [
    (ID, True), ("i-12345678", True), ("i-0123456789ABCDEF0", False), ("i-123", False), (f" {ID}", False),
    (f"{ID}x", False), ("vol-0123456789abcdef0", False)])
def test_instance_id(value: str, ok: bool) -> None:
    assert bool(INSTANCE_ID.match(value)) is ok


def test_instance_ids_in_text_are_whole_ids() -> None:
    text = f"arn:aws:ec2:eu-west-1:{OWNER}:instance/{ID} and {NEIGHBOUR}x"
    assert INSTANCE_ID_IN_TEXT.findall(text) == [ID]


@pytest.mark.parametrize("value, ok", [
    ("eu-west-1", True), ("us-gov-west-1", True), ("ap-southeast-2", True), ("eu-west", False),
    ("EU-west-1", False), ("eu-west-1a", False), ("", False)])
def test_region(value: str, ok: bool) -> None:
    assert bool(REGION.match(value)) is ok


@pytest.mark.parametrize("zone, region", [
    ("eu-west-1a", "eu-west-1"), ("us-west-2-lax-1a", "us-west-2"), ("us-gov-east-1b", "us-gov-east-1"),
    ("nowhere", None), (None, None)])
def test_region_of_zone(zone: str | None, region: str | None) -> None:
    assert region_of_zone(zone) == region


@pytest.mark.parametrize("arn, account, path, name", [
    (f"arn:aws:iam::{OWNER}:role/Deployer", OWNER, "", "Deployer"),
    (f"arn:aws:iam::{OWNER}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
     OWNER, "aws-service-role/autoscaling.amazonaws.com/", "AWSServiceRoleForAutoScaling"),
    (f"arn:aws-us-gov:iam::{OWNER}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0a1b",
     OWNER, "aws-reserved/sso.amazonaws.com/eu-west-1/", "AWSReservedSSO_Admin_0a1b")])
def test_role_arn_parts(arn: str, account: str, path: str, name: str) -> None:
    match = ROLE_ARN.match(arn)
    assert match and (match["account"], match["path"], match["name"]) == (account, path, name)


def test_role_arn_rejects_other_arns() -> None:
    for arn in (f"arn:aws:iam::{OWNER}:user/Deployer", f"arn:aws:sts::{OWNER}:assumed-role/Deployer/s",
                "arn:aws:iam::12345:role/Deployer", f"arn:aws:iam::{OWNER}:role/"):
        assert not ROLE_ARN.match(arn), arn


def test_key_and_session_arns() -> None:
    key = KEY_ARN.match(f"arn:aws:kms:eu-west-1:{OWNER}:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert key and (key["region"], key["account"], key["key_id"]) == ("eu-west-1", OWNER,
                                                                        "1234abcd-12ab-34cd-56ef-1234567890ab")
    session = ASSUMED_ROLE_ARN.match(f"arn:aws:sts::{OWNER}:assumed-role/Deployer/jane@example.com")
    assert session and (session["role"], session["session"]) == ("Deployer", "jane@example.com")


def test_the_account_is_the_reservation_owner_of_this_instance() -> None:
    documents = {"ec2.describe-instances.json": DESCRIBE, "sts.get-caller-identity.json": CALLER_IDENTITY}
    assert instance_account(documents, ID) == OWNER
    assert instance_account(documents, NEIGHBOUR) == OTHER


def test_without_the_instance_the_account_is_the_collectors_then_the_launch_events() -> None:
    assert instance_account({"sts.get-caller-identity.json": CALLER_IDENTITY}, ID) == CALLER
    assert instance_account({}, ID, collector_arn=f"arn:aws:sts::{OTHER}:assumed-role/Reader/kit") == OTHER
    assert instance_account({}, ID, launch_event_accounts=[None, OWNER]) == OWNER
    assert instance_account({"ec2.describe-instances.json": {"Reservations": []}}, ID) is None


def test_the_kit_reads_ids_with_these_patterns() -> None:
    from kit import params
    from kit.collect import live
    from kit.frames import keyrefs

    assert params.INSTANCE_ID is INSTANCE_ID and params.REGION is REGION and params.ROLE_ARN is ROLE_ARN
    assert live.INSTANCE_ID is INSTANCE_ID and live.REGION is REGION
    assert keyrefs.KEY_ARN is KEY_ARN


# Fragments of the id patterns: outside kit/aws_ids.py a module that spells one has made a second copy.
# (kit.simulate builds the simulated world; kit.redact masks ids in text with looser patterns of its own.)
COPY_MARKS = (r"i-[0-9a-f]{8", r"[a-z]{2}(-[a-z]+)", r"\d{12}):key", r"[0-9]{12}):key", r":role/(?",
              r"assumed-role/([^/]+)", r"(?:AKIA|ASIA)", r"(AKIA|ASIA)", r"[a-z]{2}(?:-gov")
OWN_PATTERNS = ("aws_ids.py", "simulate", "redact.py")


def test_no_module_keeps_its_own_copy_of_an_id_pattern() -> None:
    root = Path(kit.__file__).parent
    copies = [f"{path.relative_to(root)}: {mark}" for path in sorted(root.rglob("*.py"))
              if not any(part in OWN_PATTERNS for part in path.relative_to(root).parts)
              for mark in COPY_MARKS if mark in path.read_text(encoding="utf-8")]
    assert copies == []
