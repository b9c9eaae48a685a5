"""Timestamps as the AWS CLI and boto3 print them, made comparable: tz-aware UTC pandas Timestamps.

The CLI v1 prints what the service sent (EC2: ISO strings; KMS, CloudTrail: epoch seconds as numbers),
the CLI v2 and the kit's live collector print ISO 8601. All of them end up as the same instant here.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd

DTYPE = "datetime64[ns, UTC]"
EARLIEST = pd.Timestamp.min.tz_localize("UTC")  # what a datetime64[ns] column holds
LATEST = pd.Timestamp.max.tz_localize("UTC")


def to_utc(value: Any) -> pd.Timestamp | None:
    """One timestamp (ISO string, epoch seconds, datetime, None) as a UTC Timestamp, or None (also for an
    instant a nanosecond Timestamp cannot hold: before 1677 or after 2262)."""
    try:
        stamp = _to_utc(value)
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        return None
    if stamp is None or not EARLIEST <= stamp <= LATEST:
        return None
    return stamp.as_unit("ns")


def _to_utc(value: Any) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if value != value:  # NaN
            return None
        # Epoch seconds (milliseconds when absurdly large, as in EC2 responseElements of CloudTrail).
        seconds = float(value)
        if abs(seconds) > 1e11:
            seconds /= 1000.0
        micros = round(seconds * 1_000_000)
        return pd.Timestamp(micros, unit="us", tz="UTC")
    if isinstance(value, pd.Timestamp):
        return value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
    if isinstance(value, datetime):
        stamp = pd.Timestamp(value)
        if pd.isna(stamp):  # NaT is a datetime too
            return None
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if isinstance(value, str):
        text = value.strip()
        try:
            return _to_utc(float(text))
        except ValueError:
            pass
        try:
            stamp = pd.Timestamp(text)
        except (ValueError, TypeError):
            return None
        if stamp is pd.NaT:
            return None
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return None


def utc_series(values: list[Any]) -> pd.Series:
    """A list of raw timestamps as a `datetime64[ns, UTC]` Series (unparseable values become NaT)."""
    stamps = [to_utc(v) for v in values]
    return pd.Series(
        [s if s is not None else pd.NaT for s in stamps], dtype=DTYPE
    )


def iso(value: Any) -> str | None:
    """A raw timestamp as an ISO 8601 UTC string with a `Z` suffix, or None."""
    stamp = to_utc(value)
    if stamp is None:
        return None
    return stamp.tz_convert(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
