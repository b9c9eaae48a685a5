"""Credentials never enter the evidence: session tokens that CloudTrail logs are masked as they are collected.

CloudTrail records of AssumeRole*, GetSessionToken, GetFederationToken (and a few others) carry the new
session's token in `responseElements.credentials.sessionToken`. A bundle is archived for months; a token must
not be in it. Only that value is replaced; everything else in the record stays as AWS delivered it.
"""

from __future__ import annotations

import json
from typing import Any

MASK = "<redacted by kit>"
TOKEN_FIELDS = ("sessionToken", "SessionToken")


def redact_record(record: dict[str, Any]) -> bool:
    """Mask the session token in one CloudTrail record (in place); True when something was masked."""
    credentials = (record.get("responseElements") or {}).get("credentials") if isinstance(
        record.get("responseElements"), dict) else None
    changed = False
    if isinstance(credentials, dict):
        for field in TOKEN_FIELDS:
            if isinstance(credentials.get(field), str) and credentials[field] != MASK:
                credentials[field] = MASK
                changed = True
    return changed


def redact_lookup(document: dict[str, Any]) -> dict[str, Any]:
    """Mask session tokens inside a lookup-events document's `CloudTrailEvent` strings (in place).

    A string is re-encoded only when it held a token; the others stay byte for byte as AWS sent them.
    """
    for event in document.get("Events") or []:
        raw = event.get("CloudTrailEvent")
        if not isinstance(raw, str) or not any(f'"{field}"' in raw for field in TOKEN_FIELDS):
            continue
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and redact_record(record):
            event["CloudTrailEvent"] = json.dumps(record, separators=(",", ":"))
    return document


def redact_log(document: dict[str, Any]) -> dict[str, Any]:
    """Mask session tokens in a log file's `Records` (in place)."""
    for record in document.get("Records") or []:
        if isinstance(record, dict):
            redact_record(record)
    return document
