"""AWS console links for what a report names: the instance, a KMS key, an IAM principal, an SCP, a CloudTrail event.

The host depends on the partition (`aws`, `aws-us-gov`, `aws-cn`); regional consoles are reached at
`https://<region>.<host>/...`, IAM and Organizations (global) at `https://<host>/...`. A link opens in the account
the reader is signed in to, so a key in another account needs a sign-in there. None when the id is not one.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from kit import aws_ids

HOSTS = {"aws": "console.aws.amazon.com", "aws-us-gov": "console.amazonaws-us-gov.com",
         "aws-cn": "console.amazonaws.cn"}
_SCP_ID = re.compile(r"^p-[0-9a-zA-Z_]{8,128}$")
_IAM_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::\d{12}:(user|role)/(?:.*/)?([\w+=,.@-]+)$")
_SESSION_ARN = re.compile(r"^arn:(aws[a-z-]*):sts::\d{12}:assumed-role/([\w+=,.@-]+)/.+$")
_EVENT_ID = re.compile(r"^[0-9a-fA-F-]{8,64}$")


def partition_of_region(region: str) -> str:
    """The partition a Region belongs to."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def _regional(region: str, path: str) -> str | None:
    if not aws_ids.REGION.match(region or ""):
        return None
    return f"https://{region}.{HOSTS[partition_of_region(region)]}/{path}"


def instance_url(instance_id: str, region: str) -> str | None:
    """The EC2 console's page of an instance."""
    if not aws_ids.INSTANCE_ID.match(instance_id or ""):
        return None
    return _regional(region, f"ec2/home?region={region}#InstanceDetails:instanceId={instance_id}")


def key_url(key_arn: str, *, aws_managed: bool = False) -> str | None:
    """The KMS console's page of a key (AWS managed keys live under `defaultKeys`)."""
    if not aws_ids.KEY_ARN.match(key_arn or ""):
        return None
    region = key_arn.split(":")[3]
    key_id = key_arn.rsplit("/", 1)[-1]
    return _regional(region, f"kms/home?region={region}#/kms/{'defaultKeys' if aws_managed else 'keys'}/{key_id}")


def principal_url(arn: str) -> str | None:
    """The IAM console's page of a user or role (a role session's role)."""
    match = _IAM_ARN.match(arn or "")
    if match:
        partition, kind, name = match.groups()
        return f"https://{HOSTS.get(partition, HOSTS['aws'])}/iam/home#/{kind}s/details/{quote(name)}"
    session = _SESSION_ARN.match(arn or "")
    if session:
        partition, role = session.groups()
        return f"https://{HOSTS.get(partition, HOSTS['aws'])}/iam/home#/roles/details/{quote(role)}"
    return None


def scp_url(policy_id: str, region: str = "us-east-1") -> str | None:
    """The Organizations console's page of a service control policy (from the management account)."""
    if not _SCP_ID.match(policy_id or ""):
        return None
    return f"https://{HOSTS[partition_of_region(region)]}/organizations/v2/home/policies/service-control-policy/{policy_id}"


def event_url(event_id: str, region: str) -> str | None:
    """The CloudTrail console's Event history page of one event (in the Region it was recorded in)."""
    if not _EVENT_ID.match(event_id or ""):
        return None
    return _regional(region, f"cloudtrailv2/home?region={region}#/events/{event_id}")
