"""AWS identifiers as the kit reads them: one home for the id patterns and for "the instance's account".

Anchored patterns (`INSTANCE_ID`, `REGION`, ...) check a whole value; the `*_IN_TEXT` ones find ids inside
longer text (ARNs, messages, CloudTrail fields). Base layer: imports nothing from the kit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

PARTITION = r"aws[a-z-]*"
_INSTANCE = r"i-[0-9a-f]{8,17}"
_VOLUME = r"vol-[0-9a-f]{8,17}"
_KEY_ARN = rf"arn:{PARTITION}:kms:[a-z0-9-]+:\d{{12}}:key/[A-Za-z0-9-]+"

INSTANCE_ID = re.compile(rf"^{_INSTANCE}\Z")
INSTANCE_ID_IN_TEXT = re.compile(rf"\b{_INSTANCE}\b")
VOLUME_ID_IN_TEXT = re.compile(rf"\b{_VOLUME}\b")
# The EC2 infrastructure principal a launch's KMS grant and Decrypt name: aws:ec2-infrastructure/i-...
EC2_INFRASTRUCTURE = re.compile(rf"aws:ec2-infrastructure[/:]({_INSTANCE})")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]\Z")
# The Region at the start of an Availability Zone or Local Zone name (eu-west-1a, us-west-2-lax-1a).
REGION_OF_ZONE = re.compile(r"^([a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d+)")
ACCOUNT_ID = re.compile(r"^[0-9]{12}\Z")
# An Organizations root or OU id (Organizations' own patterns): a parent an account is moved from or to.
PARENT_ID = re.compile(r"^(?:r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[0-9a-z]{8,32})\Z")
KEY_ID = re.compile(r"^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\Z")
KEY_ARN = re.compile(rf"^arn:(?P<partition>{PARTITION}):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{{12}}):"
                     r"key/(?P<key_id>[A-Za-z0-9-]+)\Z")
KEY_ARN_IN_TEXT = re.compile(_KEY_ARN)
ALIAS_ARN = re.compile(rf"^arn:(?P<partition>{PARTITION}):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{{12}}):"
                       r"(?P<alias>alias/.+)\Z")
# An IAM role ARN; `path` is the role's path without its leading "/" ("" or "aws-service-role/.../").
ROLE_ARN = re.compile(rf"^arn:(?P<partition>{PARTITION}):iam::(?P<account>\d{{12}}):role/"
                      r"(?P<path>(?:[!-~]*/)?)(?P<name>[\w+=,.@-]+)\Z")
ASSUMED_ROLE_ARN = re.compile(rf"^arn:(?P<partition>{PARTITION}):sts::(?P<account>\d{{12}}):assumed-role/"
                              r"(?P<role>[^/]+)/(?P<session>.+)\Z")
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}\Z")
# An access key id (long-term AKIA, temporary ASIA) standing alone.
ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")

DESCRIBE_INSTANCES = "ec2.describe-instances.json"
CALLER_IDENTITY = "sts.get-caller-identity.json"


def account_of(arn: str | None) -> str | None:
    """The account field of an ARN, or None."""
    parts = (arn or "").split(":")
    return parts[4] or None if len(parts) > 5 else None


def region_of(arn: str | None) -> str | None:
    """The Region field of an ARN, or None."""
    parts = (arn or "").split(":")
    return parts[3] or None if len(parts) > 5 else None


def region_of_zone(zone: str | None) -> str | None:
    """eu-west-1a -> eu-west-1; us-west-2-lax-1a -> us-west-2; None when it is not a zone name."""
    match = REGION_OF_ZONE.match(zone or "")
    return match.group(1) if match else None


def instance_account(documents: Mapping[str, Any], instance_id: str, *, collector_arn: str | None = None,
                     launch_event_accounts: Iterable[str | None] = ()) -> str | None:
    """The account an instance (and so its evidence) belongs to.

    In order: the OwnerId of the reservation holding the instance in `ec2.describe-instances.json`; the
    account of whoever collected (`sts.get-caller-identity.json`, else `collector_arn`); the account that
    received its launch events (CloudTrail `recipientAccountId`); else None.
    """
    for reservation in _list(_dict(documents.get(DESCRIBE_INSTANCES)).get("Reservations")):
        if not isinstance(reservation, dict) or not reservation.get("OwnerId"):
            continue
        if any(isinstance(i, dict) and i.get("InstanceId") == instance_id for i in _list(reservation.get("Instances"))):
            return str(reservation["OwnerId"])
    caller = _dict(documents.get(CALLER_IDENTITY)).get("Account")
    if caller:
        return str(caller)
    collector = account_of(collector_arn)
    if collector and ACCOUNT_ID.match(collector):
        return collector
    return next((str(a) for a in launch_event_accounts if a), None)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
