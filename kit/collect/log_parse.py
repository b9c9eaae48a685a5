"""Parsing one CloudTrail log file, in a worker process or in this one: read (bounded), gunzip (bounded), hash
the uncompressed bytes (what a digest file lists), a cheap byte-level test, then orjson and an optional record
filter. Kept light (no pandas, no boto3): every worker process imports it.

The byte test is a necessary condition only: a file is parsed when, for at least one group of `needles`, every
needle of the group occurs in its decompressed bytes (CloudTrail's own serialisation: ids, event names and event
sources are written as they are). A file that fails the test cannot hold a record the filter keeps, so it is
not parsed; a file that passes is parsed whole and each record is then tested as a dict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kit.collect.limits import EvidenceTooLarge, gunzip_bounded, read_bounded

Needles = tuple[tuple[bytes, ...], ...]  # any group whose needles all occur
RecordFilter = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class ParseJob:
    """One file to parse: its name relative to the source, and its path (local) or its bytes (S3)."""

    relative: str
    path: str | None = None
    data: bytes | None = None
    needles: Needles | None = None
    keep: RecordFilter | None = None  # a module-level function (pickled by reference into workers)
    digest: bool = True               # compute the SHA-256 (only needed when digest files are there)


@dataclass
class ParsedFile:
    """What parsing one file gave: its records (None: not a CloudTrail log file), or why it was not read."""

    relative: str
    size: int = 0                    # bytes as stored (compressed)
    sha256: str | None = None        # of the uncompressed content, as digest files list it
    records: list[dict[str, Any]] | None = None
    record_count: int = 0            # records in the file (before the filter)
    passed_test: bool = True         # False: the byte test ruled it out, it was not parsed
    too_large: str | None = None     # EvidenceTooLarge's message
    error: str | None = None         # unreadable (OSError) or not a log file
    digest: dict[str, Any] | None = field(default=None, repr=False)  # for digest files: the document


def parse_job(job: ParseJob) -> ParsedFile:
    """Read, hash, test and parse one file; never raises for a bad file (the reason is in the result)."""
    out = ParsedFile(job.relative)
    try:
        raw = job.data if job.data is not None else read_bounded(Path(job.path or ""))
        out.size = len(raw)
        data = gunzip_bounded(raw) if raw[:2] == b"\x1f\x8b" else raw
    except EvidenceTooLarge as err:
        out.too_large = str(err)
        return out
    except (OSError, EOFError) as err:
        out.error = f"{type(err).__name__}: {err}"
        return out
    if job.digest:
        out.sha256 = hashlib.sha256(data).hexdigest()
    if job.needles is not None and not passes(data, job.needles):
        out.passed_test = False
        return out
    document = load_document(data)
    if document is None:
        out.error = "not a CloudTrail log file (no Records list)"
        return out
    records = [r for r in document["Records"] if isinstance(r, dict)]
    out.record_count = len(records)
    out.records = [r for r in records if job.keep(r)] if job.keep else records
    return out


def passes(data: bytes, needles: Needles) -> bool:
    """Whether every needle of some group occurs in `data`."""
    return any(all(needle in data for needle in group) for group in needles)


def load_document(data: bytes) -> dict[str, Any] | None:
    """`{"Records": [...]}` from a log file's decompressed bytes; None when it is not one."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:  # orjson refuses what the standard parser takes (NaN, huge integers)
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to be a log file
            return None
    if not isinstance(document, dict) or not isinstance(document.get("Records"), list):
        return None
    return document


def parse_digest(job: ParseJob) -> ParsedFile:
    """A digest file: its document and the SHA-256 of its uncompressed bytes (what the next digest chains)."""
    out = ParsedFile(job.relative)
    try:
        raw = job.data if job.data is not None else read_bounded(Path(job.path or ""))
        out.size = len(raw)
        data = gunzip_bounded(raw) if raw[:2] == b"\x1f\x8b" else raw
        out.sha256 = hashlib.sha256(data).hexdigest()
        document = orjson.loads(data)
    except EvidenceTooLarge as err:
        out.too_large = str(err)
        return out
    except (OSError, EOFError, orjson.JSONDecodeError) as err:
        out.error = f"{type(err).__name__}: {err}"
        return out
    if not isinstance(document, dict) or not isinstance(document.get("logFiles"), list):
        out.error = "not a CloudTrail digest file (no logFiles list)"
        return out
    out.digest = document
    return out
