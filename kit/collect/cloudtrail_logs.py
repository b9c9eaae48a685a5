"""CloudTrail from log archives instead of LookupEvents: a local folder or s3://bucket/prefix.

Only the files of the incident window are read: date folders (`.../CloudTrail/<region>/YYYY/MM/DD/`)
outside the window are skipped, and files named the way CloudTrail names them
(`<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>.json.gz`) are kept only when their delivery time can
hold events of the window. Each file is stored as `cloudtrail-logs/<path relative to the source>`.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from kit.collect.cloudtrail_window import TimeRange
from kit.collect.fetcher import Fetcher
from kit.collect.gaps import gap_from_exception
from kit.collect.redact import redact_log
from kit.collect.limits import EvidenceTooLarge, gunzip_bounded, read_bounded
from kit.errors import BadInput
from kit.evidence import Gap

_FILE_NAME = re.compile(r"^(\d{12})_CloudTrail_([\w-]+)_(\d{8}T\d{4}Z)_[^/]+\.json(\.gz)?$")
_DATE_PATH = re.compile(r"/CloudTrail/([\w-]+)/(\d{4})/(\d{2})/(\d{2})/")
DELIVERY_SLACK = timedelta(minutes=30)  # events reach a file up to ~15 minutes after they happen
MAX_FILES = 500


def collect_log_archive(fetch: Fetcher, source: str, account_id: str | None, region: str,
                        window: TimeRange) -> list[dict[str, Any]]:
    """Read the window's log files from `source` into `cloudtrail-logs/...`; returns all their records."""
    if source.startswith("s3://"):
        files = _s3_files(fetch, source, account_id, region, window)
    else:
        root = Path(source).expanduser()
        if not root.is_dir():
            raise BadInput("cloudtrail_source", "lookup, a folder of CloudTrail log files, or s3://bucket/prefix",
                           source)
        files = _local_files(fetch, root, region, window)
    records: list[dict[str, Any]] = []
    for relative, data in files:
        try:
            document = parse_log(relative, data)
        except EvidenceTooLarge as err:
            fetch.add_gap(too_large_gap(relative, err))
            continue
        if document is not None:
            redact_log(document)
            fetch.store(f"cloudtrail-logs/{relative}", document)
            records.extend(document["Records"])
    return records


def too_large_gap(relative: str, err: EvidenceTooLarge) -> Gap:
    """The gap for a log file over the per-file budget: its events are missing, and the analysis says so."""
    return Gap("cloudtrail:log-file", "EvidenceTooLarge",
               f"{relative} was not read ({err}); its events are missing from the CloudTrail evidence.", None)


def parse_log(name: str, data: bytes) -> dict[str, Any] | None:
    """`{"Records": [...]}` from a log file's bytes (gzipped or not); None when it is not a log file."""
    try:
        if data[:2] == b"\x1f\x8b":
            data = gunzip_bounded(data)
        document = json.loads(data)
    except EvidenceTooLarge:
        raise
    except (OSError, ValueError, RecursionError):  # RecursionError: nested too deep to be a log file
        return None
    if not isinstance(document, dict) or not isinstance(document.get("Records"), list):
        return None
    return document


def wanted(relative: str, region: str, window: TimeRange) -> bool:
    """Whether a log file at `relative` can hold events of `window` in `region`."""
    path = "/" + relative.replace("\\", "/")
    folder = _DATE_PATH.search(path)
    if folder:
        if folder.group(1) != region:
            return False
        day = date(int(folder.group(2)), int(folder.group(3)), int(folder.group(4)))
        if not window.start.date() <= day <= (window.end + DELIVERY_SLACK).date():
            return False
    name = _FILE_NAME.match(path.rsplit("/", 1)[-1])
    if name:
        if name.group(2) != region:
            return False
        delivered = datetime.strptime(name.group(3), "%Y%m%dT%H%MZ").replace(tzinfo=timezone.utc)
        return window.start <= delivered <= window.end + DELIVERY_SLACK
    return bool(folder) or path.endswith((".json", ".json.gz"))


def _local_files(fetch: Fetcher, root: Path, region: str, window: TimeRange) -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and relative.endswith((".json", ".json.gz")) and wanted(relative, region, window):
            try:
                out.append((relative, read_bounded(path)))
            except EvidenceTooLarge as err:
                fetch.add_gap(too_large_gap(relative, err))
    return out


def _s3_files(fetch: Fetcher, source: str, account_id: str | None, region: str,
              window: TimeRange) -> list[tuple[str, bytes]]:
    bucket, _, prefix = source[len("s3://"):].partition("/")
    if not bucket:
        raise BadInput("cloudtrail_source", "s3://bucket/prefix", source)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    keys: list[str] = []
    for base in _account_prefixes(fetch, bucket, prefix, account_id):
        for day in _days(window):
            day_prefix = f"{base}CloudTrail/{region}/{day:%Y/%m/%d}/"
            listing = fetch.fetch(None, "s3", "ListObjectsV2", {"Bucket": bucket, "Prefix": day_prefix},
                                  target=f"s3://{bucket}/{day_prefix}", max_items=MAX_FILES * 2)
            for item in (listing or {}).get("Contents") or []:
                if wanted(item["Key"][len(prefix):], region, window):
                    keys.append(item["Key"])
        if keys:
            break
    if len(keys) > MAX_FILES:
        fetch.skip("s3", "ListObjectsV2", {"Bucket": bucket, "Prefix": prefix}, error="FileLimitReached",
                   impact=f"more than {MAX_FILES} log files fall in the window; only the last {MAX_FILES} were read")
        keys = keys[-MAX_FILES:]

    def read(key: str) -> tuple[str, bytes] | None:
        client = fetch.clients("s3")
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # noqa: BLE001 - becomes a gap
            fetch.add_gap(gap_from_exception("s3:GetObject", {"Bucket": bucket, "Key": key}, fetch.region, exc,
                                             target=f"s3://{bucket}/{key}"))
            return None
        return key[len(prefix):], body

    return [item for item in fetch.each(read, keys) if item]


def _account_prefixes(fetch: Fetcher, bucket: str, prefix: str, account_id: str | None) -> list[str]:
    """`AWSLogs/<account>/` and, for organization trails, `AWSLogs/<org-id>/<account>/`."""
    if not account_id:
        return []
    bases = [f"{prefix}AWSLogs/{account_id}/"]
    listing = fetch.fetch(None, "s3", "ListObjectsV2", {"Bucket": bucket, "Prefix": f"{prefix}AWSLogs/",
                                                        "Delimiter": "/"}, target=f"s3://{bucket}/{prefix}AWSLogs/",
                          max_items=100)
    for common in (listing or {}).get("CommonPrefixes") or []:
        if common.get("Prefix", "").rstrip("/").rsplit("/", 1)[-1].startswith("o-"):
            bases.append(f"{common['Prefix']}{account_id}/")
    return bases


def _days(window: TimeRange) -> list[date]:
    days: list[date] = []
    day = window.start.date()
    while day <= (window.end + DELIVERY_SLACK).date() and len(days) < 31:
        days.append(day)
        day += timedelta(days=1)
    return days
