"""CloudTrail records from any source (lookup-events, log files, gzipped log files) as one events frame."""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

import pandas as pd

from kit.aws_ids import (ASSUMED_ROLE_ARN, EC2_INFRASTRUCTURE, INSTANCE_ID_IN_TEXT, KEY_ARN_IN_TEXT, VOLUME_ID_IN_TEXT,
                         account_of)
from kit.evidence import Evidence
from kit.frames.schemas import frame_from_rows

LOOKUP_PREFIX = "cloudtrail.lookup-events"
LOGS_PREFIX = "cloudtrail-logs/"
ATHENA_PREFIX = "cloudtrail-athena/"  # rows of an Athena query as records (kit.collect.cloudtrail_athena)

# The instance's hidden role (kit.aws_ids.EC2_INFRASTRUCTURE):
# arn:aws:sts::<acct>:assumed-role/aws:ec2-infrastructure/<instance-id>, in older records
# <acct>:aws:ec2-infrastructure:<instance-id>.

_INSTANCE_KEYS = {"instanceId", "InstanceId"}
_VOLUME_KEYS = {"volumeId", "VolumeId", "aws:ebs:id"}
_KEY_KEYS = {"keyId", "KeyId", "kmsKeyId", "KmsKeyId", "targetKeyId", "destinationKeyId", "sourceKeyId"}
_PRINCIPAL_KEYS = {"granteePrincipal", "retiringPrincipal"}


def records_from_documents(evidence: Evidence) -> list[dict[str, Any]]:
    """The raw CloudTrail records of the evidence: lookup-events decoded, log files flattened,
    duplicates (same eventID) dropped, the first occurrence kept."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for record in _all_records(evidence):
        event_id = record.get("eventID")
        if isinstance(event_id, str):
            if event_id in seen:
                continue
            seen.add(event_id)
        out.append(record)
    return out


def events_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Normalise raw CloudTrail records (any eventVersion) into the `events` frame of schemas.json."""
    return frame_from_rows("events", (event_row(r) for r in records))


def event_row(record: dict[str, Any]) -> dict[str, Any]:
    """One record as an events-frame row (the record itself is kept whole in `record`)."""
    identity = record.get("userIdentity") or {}
    issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer")) or {}
    request = record.get("requestParameters")
    response = record.get("responseElements")
    instances, volumes, keys = touched_resources(record)
    return {
        "event_id": record.get("eventID"),
        "event_time": record.get("eventTime"),
        "event_source": record.get("eventSource"),
        "event_name": record.get("eventName"),
        "region": record.get("awsRegion"),
        "error_code": record.get("errorCode"),
        "error_message": record.get("errorMessage"),
        "identity_type": identity.get("type"),
        "identity_arn": identity.get("arn"),
        "principal_arn": principal_arn(identity),
        "account_id": identity.get("accountId"),
        "recipient_account_id": record.get("recipientAccountId"),
        "invoked_by": identity.get("invokedBy"),
        "session_issuer_arn": issuer.get("arn"),
        "session_issuer_type": issuer.get("type"),
        "source_ip": record.get("sourceIPAddress"),
        "user_agent": record.get("userAgent"),
        "request": request if isinstance(request, dict) else None,
        "response": response if isinstance(response, dict) else None,
        "read_only": record.get("readOnly"),
        "event_type": record.get("eventType"),
        "event_version": record.get("eventVersion"),
        "instance_ids": instances,
        "volume_ids": volumes,
        "key_arns": keys,
        "record": record,
    }


def principal_arn(identity: dict[str, Any]) -> str | None:
    """The IAM principal behind a CloudTrail userIdentity.

    IAM user -> its ARN; assumed role (incl. SSO and service-linked roles) -> the role ARN with its path,
    from the session issuer when present; federated user -> the issuing IAM user; root -> the account root
    ARN; AWS services and other accounts -> None.
    """
    kind = identity.get("type")
    arn = identity.get("arn")
    issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer")) or {}
    if kind == "IAMUser":
        return arn
    if kind == "Root":
        account = identity.get("accountId") or account_of(arn)
        return f"arn:aws:iam::{account}:root" if account else arn
    if kind in ("AssumedRole", "FederatedUser"):
        if issuer.get("arn"):
            return issuer["arn"]
        return role_arn_from_session(arn) if kind == "AssumedRole" else None
    return None


def role_arn_from_session(arn: str | None) -> str | None:
    """arn:aws:sts::A:assumed-role/Name/session -> arn:aws:iam::A:role/Name (path unknown without an issuer)."""
    if not arn:
        return None
    match = ASSUMED_ROLE_ARN.match(arn)
    if not match:
        return None
    return f"arn:{match['partition']}:iam::{match['account']}:role/{match['role']}"


def touched_resources(record: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Sorted (instance ids, volume ids, key ARNs) an event touches."""
    instances: set[str] = set()
    volumes: set[str] = set()
    keys: set[str] = set()
    for section in ("requestParameters", "responseElements", "additionalEventData"):
        for key, value in _walk(record.get(section)):
            if not isinstance(value, str):
                continue
            if key in _INSTANCE_KEYS and INSTANCE_ID_IN_TEXT.fullmatch(value):
                instances.add(value)
            elif key in _VOLUME_KEYS and VOLUME_ID_IN_TEXT.fullmatch(value):
                volumes.add(value)
            elif key in _KEY_KEYS and KEY_ARN_IN_TEXT.fullmatch(value):
                keys.add(value)
            elif key in _PRINCIPAL_KEYS:
                instances.update(EC2_INFRASTRUCTURE.findall(value))
    for resource in record.get("resources") or []:
        if not isinstance(resource, dict):
            continue
        arn = resource.get("ARN") or resource.get("arn") or ""
        kind = resource.get("type") or ""
        if KEY_ARN_IN_TEXT.fullmatch(arn):
            keys.add(arn)
        elif kind == "AWS::EC2::Instance" or ":instance/" in arn:
            instances.update(INSTANCE_ID_IN_TEXT.findall(arn))
        elif kind == "AWS::EC2::Volume" or ":volume/" in arn:
            volumes.update(VOLUME_ID_IN_TEXT.findall(arn))
    identity_arn = (record.get("userIdentity") or {}).get("arn") or ""
    instances.update(EC2_INFRASTRUCTURE.findall(identity_arn))
    message = record.get("errorMessage")
    if isinstance(message, str):
        keys.update(KEY_ARN_IN_TEXT.findall(message))
    return sorted(instances), sorted(volumes), sorted(keys)


def _walk(value: Any, key: str | None = None) -> Iterator[tuple[str | None, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, key)
    else:
        yield key, value


def _all_records(evidence: Evidence) -> Iterator[dict[str, Any]]:
    for document in evidence.documents_with_prefix(LOOKUP_PREFIX).values():
        for event in (document or {}).get("Events") or []:
            record = lookup_event_record(event)
            if record is not None:
                yield record
    for prefix in (LOGS_PREFIX, ATHENA_PREFIX):
        for document in evidence.documents_with_prefix(prefix).values():
            for record in (document or {}).get("Records") or []:
                if isinstance(record, dict):
                    yield record


def lookup_event_record(event: dict[str, Any]) -> dict[str, Any] | None:
    """The full CloudTrail record of one lookup-events entry (its CloudTrailEvent JSON string, decoded).

    An entry without CloudTrailEvent keeps what lookup-events itself says (id, name, time, source, user).
    """
    if not isinstance(event, dict):
        return None
    raw = event.get("CloudTrailEvent")
    if isinstance(raw, str):
        try:
            record = json.loads(raw)
        except json.JSONDecodeError:
            record = None
        if isinstance(record, dict):
            return record
    elif isinstance(raw, dict):
        return raw
    record = {
        "eventID": event.get("EventId"),
        "eventName": event.get("EventName"),
        "eventTime": event.get("EventTime"),
        "eventSource": event.get("EventSource"),
        "readOnly": event.get("ReadOnly"),
        "userIdentity": {"userName": event.get("Username")} if event.get("Username") else {},
        "resources": [
            {"type": r.get("ResourceType"), "ARN": r.get("ResourceName")} for r in event.get("Resources") or []
        ],
    }
    return record

