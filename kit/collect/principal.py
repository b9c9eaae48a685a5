"""Who launched the instance, from CloudTrail: the principal of the latest RunInstances/StartInstances.

A role session is reported as its role (the role ARN from `sessionContext.sessionIssuer`, path included,
which tells SSO roles `aws-reserved/sso.amazonaws.com/` and service-linked roles `aws-service-role/` apart).
Also what the launch request itself asked for (`requested_keys`) and the keys its KMS events name
(`keys_in_kms_events`). No AWS client here: the cli: checklist shares these rules with live collection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Mapping

from kit.aws_ids import ASSUMED_ROLE_ARN, INSTANCE_ID_IN_TEXT, KEY_ARN_IN_TEXT, account_of
from kit.collect.cloudtrail_window import TimeRange, parse_time
from kit.frames.launch_paths import (MAPPING_PATHS, launch_event_names, launch_paths, launch_template_of, path_of,
                                    record_names_instance, request_mappings)

LAUNCH_EVENT_NAMES = launch_event_names()  # kit/frames/launch_paths.yaml
KMS_EVENT_SOURCE = "kms.amazonaws.com"
DEFAULT_KEY_EVENT = "ModifyEbsDefaultKmsKeyId"  # who made a key the Region's default EBS key
TEMPLATE_TAGS = ("aws:ec2launchtemplate:id", "aws:ec2launchtemplate:version")
SESSION_SLACK = timedelta(minutes=2)  # a role session's creating AssumeRole* lies this close to its creationDate


@dataclass(frozen=True)
class Principal:
    """The launching principal.

    kind: user, role, sso-role, service-linked-role, root, federated-user or service.
    """

    arn: str
    kind: str
    name: str
    account_id: str | None
    session_arn: str | None = None
    event_name: str | None = None
    event_time: str | None = None
    session_created: str | None = None  # a role session's creationDate (when its AssumeRole* happened)
    requested_by: str | None = None  # who made the launch call when a service-linked role launches for it

    def to_dict(self) -> dict[str, Any]:
        out = {"arn": self.arn, "kind": self.kind, "name": self.name, "account_id": self.account_id,
               "session_arn": self.session_arn, "event_name": self.event_name, "event_time": self.event_time,
               "session_created": self.session_created}
        if self.requested_by:
            out["requested_by"] = self.requested_by
        return out


def records_from_lookup(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The CloudTrail records of a lookup-events document (each event's `CloudTrailEvent` decoded)."""
    records = []
    for event in document.get("Events") or []:
        raw = event.get("CloudTrailEvent")
        try:
            record = json.loads(raw) if isinstance(raw, str) else raw
        except (ValueError, RecursionError):  # RecursionError: nested too deep to be a CloudTrail record
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def launching_principal(records: list[dict[str, Any]], instance_id: str,
                        links: Mapping[str, str] | None = None) -> Principal | None:
    """The principal of the latest successful-or-not launch call about `instance_id` (RunInstances,
    StartInstances, CreateFleet, a Spot request; `links` = kit.frames.launch_paths.instance_links), or None."""
    launches = [r for r in records if r.get("eventName") in LAUNCH_EVENT_NAMES
                and record_names_instance(r, instance_id, links or {})]
    if not launches:
        return None
    latest = max(launches, key=lambda r: str(r.get("eventTime") or ""))
    principal = principal_of(latest.get("userIdentity") or {})
    if principal is None:
        return None
    path = path_of(latest.get("eventName"))
    role = path.launching_role(latest) if path else None
    account = principal.account_id or latest.get("recipientAccountId")
    if role and account:  # a Spot request (or a request/maintain fleet): its service-linked role launches
        return Principal(role.arn(str(account)), "service-linked-role", role.role, str(account), None,
                         latest.get("eventName"), latest.get("eventTime"), None, principal.arn)
    return Principal(principal.arn, principal.kind, principal.name, principal.account_id, principal.session_arn,
                     latest.get("eventName"), latest.get("eventTime"), principal.session_created)


def session_window(principal: Principal | None) -> TimeRange | None:
    """For a launching role session: the minutes around its creationDate in which to look up the AssumeRole*
    event that created it (where a session policy would be); None for any other principal."""
    created = parse_time(principal.session_created) if principal and principal.session_arn else None
    if created is None:
        return None
    return TimeRange(created - SESSION_SLACK, created + SESSION_SLACK)


def names_instance(record: dict[str, Any], instance_id: str) -> bool:
    """True when a CloudTrail record's resources, request or response name the instance."""
    for resource in record.get("resources") or []:
        if resource.get("ARN", "").endswith(instance_id) or resource.get("resourceName") == instance_id:
            return True
    text = json.dumps([record.get("requestParameters"), record.get("responseElements")])
    return instance_id in text


def requested_keys(records: list[dict[str, Any]], instance_id: str,
                   links: Mapping[str, str] | None = None) -> tuple[list[str], bool]:
    """Keys the RunInstances request that made the instance named, and whether it asked for encryption
    without naming a key (then EC2 picked the Region's default EBS key). Live collection and the cli:
    checklist both choose keys with this."""
    refs: list[str] = []
    implicit = False
    for record in records:
        if record.get("eventName") not in MAPPING_PATHS or not record_names_instance(
                record, instance_id, links or {}):
            continue
        for mapping in request_mappings(record):
            ebs = (mapping or {}).get("ebs") or {}
            if ebs.get("kmsKeyId"):
                refs.append(ebs["kmsKeyId"])
            elif ebs.get("encrypted") in (True, "true"):
                implicit = True
    return refs, implicit


def keys_in_kms_events(records: list[dict[str, Any]], instance_id: str, principal: Principal | None) -> list[str]:
    """Key ARNs of the KMS events about the launch, first seen first: events that name the instance (the grant
    for its EC2 infrastructure role, that role's Decrypt, any request, response, resource or caller naming it)
    and calls EC2 made for the launching principal (its GenerateDataKeyWithoutPlaintext, CreateGrant). The keys
    are the event's key ARNs (resources, request, response, error message). Live collection and the cli:
    checklist both choose keys from KMS events with this, when nothing else names a key."""
    arns: list[str] = []
    for record in records:
        if record.get("eventSource") != KMS_EVENT_SOURCE:
            continue
        if _kms_event_names_instance(record, instance_id) or _kms_call_for_launcher(record, principal):
            text = json.dumps([record.get(k) for k in ("resources", "requestParameters", "responseElements",
                                                        "errorMessage")], default=str)
            arns += KEY_ARN_IN_TEXT.findall(text)
    return list(dict.fromkeys(arns))


def _kms_event_names_instance(record: dict[str, Any], instance_id: str) -> bool:
    text = json.dumps([record.get(k) for k in ("requestParameters", "responseElements", "additionalEventData",
                                                "userIdentity", "resources")], default=str)
    return instance_id in INSTANCE_ID_IN_TEXT.findall(text)


def _kms_call_for_launcher(record: dict[str, Any], principal: Principal | None) -> bool:
    identity = record.get("userIdentity") or {}
    via_ec2 = "ec2" in str(identity.get("invokedBy") or record.get("sourceIPAddress"))
    caller = principal_of(identity)
    return bool(principal and caller and caller.arn == principal.arn and via_ec2)


def principal_of(identity: dict[str, Any]) -> Principal | None:
    """The principal (a role session as its role) of a CloudTrail `userIdentity`."""
    kind = identity.get("type")
    arn = identity.get("arn") or ""
    account = identity.get("accountId")
    if kind == "IAMUser":
        return Principal(arn, "user", identity.get("userName") or arn.rsplit("/", 1)[-1], account)
    if kind == "Root":
        return Principal(arn or f"arn:aws:iam::{account}:root", "root", "root", account)
    if kind == "AssumedRole":
        issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
        role_arn = issuer.get("arn")
        match = ASSUMED_ROLE_ARN.match(arn)
        if not role_arn and match:
            role_arn = f"arn:{match['partition']}:iam::{match['account']}:role/{match['role']}"
        if not role_arn:
            return None
        name = issuer.get("userName") or role_arn.rsplit("/", 1)[-1]
        created = ((identity.get("sessionContext") or {}).get("attributes") or {}).get("creationDate")
        return Principal(role_arn, role_kind(role_arn), name, account or account_of(role_arn), arn or None,
                         session_created=created)
    if kind == "FederatedUser":
        issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
        return Principal(issuer.get("arn") or arn, "federated-user", issuer.get("userName") or arn, account, arn)
    if kind == "AWSService":
        service = identity.get("invokedBy") or "unknown"
        return Principal(service, "service", service, account)
    if arn:
        return Principal(arn, (kind or "unknown").lower(), arn.rsplit("/", 1)[-1], account)
    return None


def role_kind(role_arn: str) -> str:
    """`sso-role`, `service-linked-role` or `role`, from the role's path."""
    if "/aws-reserved/sso.amazonaws.com/" in role_arn:
        return "sso-role"
    if "/aws-service-role/" in role_arn:
        return "service-linked-role"
    return "role"


def template_reference(records: list[dict[str, Any]], instance_id: str, instance: dict[str, Any] | None,
                       links: dict[str, str]) -> tuple[str | None, str | None]:
    """(launch template id or name, version) of the instance's launch: the latest launch request naming one,
    else the instance's aws:ec2launchtemplate:id / :version tags. Live and the cli: checklist share it."""
    for record in sorted(records, key=lambda r: str(r.get("eventTime") or ""), reverse=True):
        if record.get("eventName") in launch_paths() and record_names_instance(record, instance_id, links):
            ref, version = launch_template_of(record)
            if ref:
                return ref, version
    tags = {t.get("Key"): t.get("Value") for t in (instance or {}).get("Tags") or [] if isinstance(t, dict)}
    return tags.get(TEMPLATE_TAGS[0]), tags.get(TEMPLATE_TAGS[1])


def template_keys(documents: Mapping[str, Any]) -> list[str]:
    """Keys the launch template versions at hand name in their block device mappings."""
    refs: list[str] = []
    for name, document in documents.items():
        if not name.startswith("ec2.describe-launch-template-versions."):
            continue
        for version in (document or {}).get("LaunchTemplateVersions") or []:
            for mapping in ((version or {}).get("LaunchTemplateData") or {}).get("BlockDeviceMappings") or []:
                key = ((mapping or {}).get("Ebs") or {}).get("KmsKeyId")
                if key:
                    refs.append(key)
    return refs
