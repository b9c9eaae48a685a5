"""The simulated account's CloudTrail: the event store, LookupEvents as AWS answers it, and log-file delivery.

Events live per (account, Region). LookupEvents (`lookup_events`) follows the real API: at most one lookup
attribute, StartTime/EndTime inclusive, MaxResults 1-50, an opaque NextToken bound to the request's
parameters, newest first, and the record itself as a JSON string in `CloudTrailEvent`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import secrets
import string
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

LOOKUP_ATTRIBUTE_KEYS = ("EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName",
                         "EventSource", "AccessKeyId")
MAX_RESULTS = 50
RETENTION_DAYS = 90       # LookupEvents sees the last 90 days of management events


class LookupRefused(Exception):
    """A LookupEvents request AWS would refuse; `code` is the AWS error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StoredEvent:
    """One CloudTrail record plus the fields LookupEvents derives from it."""

    record: dict[str, Any]
    time: datetime
    resources: tuple[tuple[str, str], ...]  # (ResourceType, ResourceName)

    @property
    def event_id(self) -> str:
        """The record's eventID (LookupEvents' EventId)."""
        return str(self.record["eventID"])

    def lookup_event(self) -> dict[str, Any]:
        """The `Event` shape of a LookupEvents response (EventTime as epoch seconds, JSON protocol)."""
        event: dict[str, Any] = {
            "EventId": self.event_id,
            "EventName": self.record["eventName"],
            "ReadOnly": "true" if self.record.get("readOnly") else "false",
            "EventTime": self.time.timestamp(),
            "EventSource": self.record["eventSource"],
            "Resources": [{"ResourceType": t, "ResourceName": n} for t, n in self.resources],
            "CloudTrailEvent": json.dumps(self.record, separators=(",", ":")),
        }
        access_key = self.record.get("userIdentity", {}).get("accessKeyId")
        if access_key:
            event["AccessKeyId"] = access_key
        username = lookup_username(self.record)
        if username:
            event["Username"] = username
        return event

    def matches(self, key: str, value: str) -> bool:
        """Whether this event matches one lookup attribute (exact, case-sensitive, as AWS matches)."""
        if key == "EventId":
            return self.event_id == value
        if key == "EventName":
            return self.record["eventName"] == value
        if key == "ReadOnly":
            return ("true" if self.record.get("readOnly") else "false") == value
        if key == "Username":
            return lookup_username(self.record) == value
        if key == "ResourceType":
            return any(t == value for t, _ in self.resources)
        if key == "ResourceName":
            return any(n == value for _, n in self.resources)
        if key == "EventSource":
            return self.record["eventSource"] == value
        if key == "AccessKeyId":
            return self.record.get("userIdentity", {}).get("accessKeyId") == value
        return False


def lookup_username(record: dict[str, Any]) -> str | None:
    """LookupEvents' `Username`: the IAM user name, or the role session name for assumed roles."""
    identity = record.get("userIdentity", {})
    if identity.get("userName"):
        return str(identity["userName"])
    if identity.get("type") == "AssumedRole":
        return str(identity.get("arn", "")).rsplit("/", 1)[-1] or None
    if identity.get("type") == "Root":
        return "root"
    return None


@dataclass
class Trail:
    """Every management event of the simulated world, per (account, Region), thread-safe."""

    _events: dict[tuple[str, str], list[StoredEvent]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: dict[str, Any], resources: list[tuple[str, str]]) -> StoredEvent:
        """Store one record (its account is recipientAccountId, its Region awsRegion)."""
        stored = StoredEvent(record=record, time=parse_time(record["eventTime"]), resources=tuple(resources))
        key = (str(record["recipientAccountId"]), str(record["awsRegion"]))
        with self._lock:
            self._events.setdefault(key, []).append(stored)
        return stored

    def events(self, account_id: str, region: str) -> list[StoredEvent]:
        """The stored events of one account and Region, newest first."""
        with self._lock:
            events = list(self._events.get((account_id, region), []))
        return sorted(events, key=_order_key, reverse=True)

    def lookup(self, account_id: str, region: str, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one LookupEvents request body (already JSON-decoded) as AWS would, or raise LookupRefused."""
        attribute = _lookup_attribute(request.get("LookupAttributes"))
        start = _time_param(request, "StartTime")
        end = _time_param(request, "EndTime")
        if start is not None and end is not None and start > end:
            raise LookupRefused("InvalidTimeRangeException",
                               "Start time must not be after end time.")
        max_results = _max_results(request.get("MaxResults"))
        category = request.get("EventCategory")
        if category is not None and category != "insight":
            raise LookupRefused("InvalidEventCategoryException",
                               f"Event category {category!r} is not valid. Valid value: insight.")
        fingerprint = _fingerprint(account_id, region, request)
        cursor = _decode_token(request.get("NextToken"), fingerprint)

        if category == "insight":
            candidates: list[StoredEvent] = []  # no Insights events are simulated
        else:
            candidates = self.events(account_id, region)
        oldest = datetime.now(timezone.utc) - timedelta(days=RETENTION_DAYS)
        selected = [
            e for e in candidates
            if e.time >= oldest
            and (attribute is None or e.matches(*attribute))
            and (start is None or e.time >= start)
            and (end is None or e.time <= end)
            and (cursor is None or _order_key(e) < cursor)
        ]
        page = selected[:max_results]
        response: dict[str, Any] = {"Events": [e.lookup_event() for e in page]}
        if len(selected) > max_results:
            response["NextToken"] = _encode_token(_order_key(page[-1]), fingerprint)
        return response


# ---- log files delivered to S3 ----------------------------------------------------------------------------

ORG_TRAIL_NAME = "organization-trail"
ORG_TRAIL_HOME = "us-east-1"


def log_file_key(account_id: str, region: str, delivered: datetime, org_id: str | None = None) -> str:
    """The S3 key CloudTrail uses: AWSLogs/[<org-id>/]<acct>/CloudTrail/<region>/YYYY/MM/DD/
    <acct>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>.json.gz (the org id for an organisation trail)."""
    alphabet = string.ascii_letters + string.digits
    unique = "".join(secrets.choice(alphabet) for _ in range(16))
    stamp = delivered.strftime("%Y%m%dT%H%MZ")
    base = f"AWSLogs/{org_id}/{account_id}" if org_id else f"AWSLogs/{account_id}"
    return (f"{base}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
            f"{account_id}_CloudTrail_{region}_{stamp}_{unique}.json.gz")


@dataclass(frozen=True)
class LogFile:
    """One delivered log file: its key, gzipped body, and what a digest file lists about it."""

    key: str
    body: bytes
    account_id: str
    region: str
    sha256: str          # of the uncompressed content
    oldest: str
    newest: str


def log_files(records: list[dict[str, Any]], org_id: str | None = None) -> list[tuple[str, bytes]]:
    """Group records the way CloudTrail delivers them (per account, Region and 5-minute window) into gzipped files."""
    return [(f.key, f.body) for f in delivered_files(records, org_id)]


def delivered_files(records: list[dict[str, Any]], org_id: str | None = None) -> list[LogFile]:
    """The log files of `records` (compact JSON, as CloudTrail writes it), with their digest entries' facts."""
    groups: dict[tuple[str, str, datetime], list[dict[str, Any]]] = {}
    for record in records:
        t = parse_time(record["eventTime"])
        window = t.replace(minute=t.minute - t.minute % 5, second=0, microsecond=0)
        groups.setdefault((str(record["recipientAccountId"]), str(record["awsRegion"]), window), []).append(record)
    files = []
    for (account_id, region, window), group in sorted(groups.items()):
        delivered = window + timedelta(minutes=5)
        ordered = sorted(group, key=lambda r: r["eventTime"])
        body = json.dumps({"Records": ordered}, separators=(",", ":")).encode()
        files.append(LogFile(log_file_key(account_id, region, delivered, org_id), gzip.compress(body, mtime=0),
                             account_id, region, hashlib.sha256(body).hexdigest(), ordered[0]["eventTime"],
                             ordered[-1]["eventTime"]))
    return files


@dataclass
class DigestChain:
    """The organisation trail's digest files, chained per (account, Region) as CloudTrail chains them."""

    org_id: str
    bucket: str
    _last: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def digests(self, files: list[LogFile], now: datetime) -> list[tuple[str, bytes, str]]:
        """One digest (key, gzipped body, signature metadata) per (account, Region) of `files`, chained to the
        previous digest of that pair. The signature (S3 metadata `signature`) is simulated, a SHA-256 of the
        content: the real one is SHA256withRSA with a key only AWS holds, which the kit does not verify offline."""
        by_pair: dict[tuple[str, str], list[LogFile]] = {}
        for f in files:
            by_pair.setdefault((f.account_id, f.region), []).append(f)
        out = []
        with self._lock:
            for (account_id, region), group in sorted(by_pair.items()):
                previous = self._last.get((account_id, region))
                end = max(now, max(parse_time(f.newest) for f in group) + timedelta(minutes=5)).replace(microsecond=0)
                if previous and end <= previous["end"]:
                    end = previous["end"] + timedelta(seconds=1)
                key = (f"AWSLogs/{self.org_id}/{account_id}/CloudTrail-Digest/{region}/{end:%Y/%m/%d}/"
                       f"{account_id}_CloudTrail-Digest_{region}_{ORG_TRAIL_NAME}_{ORG_TRAIL_HOME}_"
                       f"{end:%Y%m%dT%H%M%SZ}.json.gz")
                document = {
                    "awsAccountId": account_id,
                    "digestStartTime": format_time(previous["end"] if previous else end - timedelta(hours=1)),
                    "digestEndTime": format_time(end),
                    "digestS3Bucket": self.bucket,
                    "digestS3Object": key,
                    "digestPublicKeyFingerprint": "simulated" + hashlib.sha256(region.encode()).hexdigest()[:23],
                    "digestSignatureAlgorithm": "SHA256withRSA",
                    "newestEventTime": max(f.newest for f in group),
                    "oldestEventTime": min(f.oldest for f in group),
                    "previousDigestS3Bucket": self.bucket if previous else None,
                    "previousDigestS3Object": previous["key"] if previous else None,
                    "previousDigestHashValue": previous["sha256"] if previous else None,
                    "previousDigestHashAlgorithm": "SHA-256" if previous else None,
                    "previousDigestSignature": previous["signature"] if previous else None,
                    "logFiles": [{"s3Bucket": self.bucket, "s3Object": f.key, "hashValue": f.sha256,
                                  "hashAlgorithm": "SHA-256", "newestEventTime": f.newest,
                                  "oldestEventTime": f.oldest} for f in group],
                }
                body = json.dumps(document, separators=(",", ":")).encode()
                sha = hashlib.sha256(body).hexdigest()
                signature = hashlib.sha256(b"simulated-signature:" + body).hexdigest()
                self._last[(account_id, region)] = {"key": key, "sha256": sha, "signature": signature, "end": end}
                out.append((key, gzip.compress(body, mtime=0), signature))
        return out


# ---- pieces --------------------------------------------------------------------------------------------------

def parse_time(value: str | float | int | datetime) -> datetime:
    """A CloudTrail or request timestamp as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def format_time(value: datetime) -> str:
    """CloudTrail's eventTime format: 2023-07-10T12:03:24Z."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _order_key(event: StoredEvent) -> tuple[float, str]:
    return (event.time.timestamp(), event.event_id)


def _lookup_attribute(value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise LookupRefused("InvalidLookupAttributesException", "LookupAttributes must be a list.")
    if not value:
        return None
    if len(value) > 1:
        raise LookupRefused("InvalidLookupAttributesException",
                           "You cannot specify more than one lookup attribute.")
    item = value[0]
    key = item.get("AttributeKey") if isinstance(item, dict) else None
    attr_value = item.get("AttributeValue") if isinstance(item, dict) else None
    if key not in LOOKUP_ATTRIBUTE_KEYS:
        raise LookupRefused("InvalidLookupAttributesException",
                           f"Lookup attribute key {key!r} is not valid. Valid keys: "
                           + ", ".join(LOOKUP_ATTRIBUTE_KEYS) + ".")
    if not isinstance(attr_value, str) or not attr_value:
        raise LookupRefused("InvalidLookupAttributesException",
                           f"The value of lookup attribute {key} must not be empty.")
    if len(attr_value) > 2000:
        raise LookupRefused("InvalidLookupAttributesException",
                           f"The value of lookup attribute {key} exceeds 2000 characters.")
    if key == "ReadOnly" and attr_value not in ("true", "false"):
        raise LookupRefused("InvalidLookupAttributesException",
                           "The value of lookup attribute ReadOnly must be true or false.")
    return key, attr_value


def _time_param(request: dict[str, Any], name: str) -> datetime | None:
    value = request.get(name)
    if value is None:
        return None
    try:
        return parse_time(value)
    except (TypeError, ValueError, OverflowError, OSError):
        raise LookupRefused("InvalidTimeRangeException", f"{name} is not a valid timestamp.") from None


def _max_results(value: Any) -> int:
    if value is None:
        return MAX_RESULTS
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RESULTS:
        raise LookupRefused("InvalidMaxResultsException",
                           f"MaxResults must be an integer from 1 through {MAX_RESULTS}; got {value!r}.")
    return value


def _fingerprint(account_id: str, region: str, request: dict[str, Any]) -> str:
    bound = {k: request.get(k) for k in ("LookupAttributes", "StartTime", "EndTime", "EventCategory")}
    text = json.dumps([account_id, region, bound], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode_token(cursor: tuple[float, str], fingerprint: str) -> str:
    raw = json.dumps({"t": cursor[0], "e": cursor[1], "f": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: Any, fingerprint: str) -> tuple[float, str] | None:
    if token is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        cursor = (float(data["t"]), str(data["e"]))
        same_request = data["f"] == fingerprint
    except (ValueError, KeyError, TypeError):
        raise LookupRefused("InvalidNextTokenException", "Invalid NextToken.") from None
    if not same_request:
        raise LookupRefused("InvalidNextTokenException",
                           "The NextToken was issued for a request with different parameters.")
    return cursor
