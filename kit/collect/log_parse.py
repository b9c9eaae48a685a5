"""Parsing one CloudTrail log file, in a worker process or in this one: read (bounded), gunzip (bounded), hash
the uncompressed bytes (what a digest file lists), a cheap byte-level test, then orjson and an optional record
filter. Kept light (no pandas, no boto3): every worker process imports it.

The byte test is a necessary condition only: a file is parsed when, for at least one group of `needles`, every
needle of the group occurs in its decompressed bytes (CloudTrail's own serialisation: ids, event names and event
sources are written as they are). A file that fails the test cannot hold a record the filter keeps, so it is
not parsed. In a file that passes, only the records around each occurrence of a group's first needle (its
anchor) are parsed: CloudTrail writes `{"Records":[{"eventVersion":...},{"eventVersion":...}]}`, so the
record holding an occurrence runs from the `{"eventVersion"` before it to the one after it. The anchor must be
a value or key the filter requires at the record's top level (an eventName, `"errorCode"`), so a record the
filter keeps always has an anchor in its own bytes. Whenever that cut does not parse as one record (another
layout, or an object nested in a record that itself starts with "eventVersion"), the file is parsed whole.
Known limit: a record nesting a list of objects that each start with "eventVersion" can make one of them look
like a record to the scan (a false candidate, never a record lost); investigations do not use this test.
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
    unreadable: str | None = None     # the file could not be fetched (its gap is already recorded)


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
    broken: bool = False             # unreadable, or a truncated / corrupt gzip (reported as a gap)
    digest: dict[str, Any] | None = field(default=None, repr=False)  # for digest files: the document


def parse_job(job: ParseJob) -> ParsedFile:
    """Read, hash, test and parse one file; never raises for a bad file (the reason is in the result)."""
    out = ParsedFile(job.relative)
    data = _uncompressed(job, out)
    if data is None:
        return out
    if job.digest:
        out.sha256 = hashlib.sha256(data).hexdigest()
    if job.needles is not None and not passes(data, job.needles):
        out.passed_test = False
        return out
    if job.needles is not None and job.keep is not None:
        anchored = anchored_records(data, job.needles)
        if anchored is not None:
            out.records = [r for r in anchored if job.keep(r)]
            out.record_count = -1  # not counted: the file was not parsed whole
            return out
    document = load_document(data)
    if document is None:
        out.error = "not a CloudTrail log file (no Records list)"
        return out
    records = [r for r in document["Records"] if isinstance(r, dict)]
    out.record_count = len(records)
    out.records = [r for r in records if job.keep(r)] if job.keep else records
    return out


_OPEN = b'{"Records":['
_MARK = b'{"eventVersion"'
_SPACE = b" \t\r\n"


def _at_top(body: bytes, start: int) -> bool:
    """Whether `start` opens an element of the Records list: right after `{"Records":[`, or after `},`."""
    if start == len(_OPEN):
        return True
    i = start - 1
    while i > 0 and body[i] in _SPACE:
        i -= 1
    if body[i] != ord(","):
        return False
    i -= 1
    while i > 0 and body[i] in _SPACE:
        i -= 1
    return body[i] == ord("}")


def anchored_records(data: bytes, needles: Needles) -> list[dict[str, Any]] | None:
    """The records holding an occurrence of some group's first needle, each parsed alone; None when the file
    must be parsed whole (not CloudTrail's compact layout, or a cut that is not exactly one record)."""
    body = data.strip()
    if not body.startswith(_OPEN) or not body.endswith(b"]}"):
        return None
    end_of_records = len(body) - 2
    starts: set[int] = set()
    for group in needles:
        anchor = group[0]
        position = body.find(anchor, len(_OPEN))
        while position >= 0:
            start = body.rfind(_MARK, 0, position + 1)
            if start < 0:
                return None
            starts.add(start)
            position = body.find(anchor, position + len(anchor))
    out = []
    for start in sorted(starts):
        following = body.find(_MARK, start + len(_MARK))
        end = end_of_records if following < 0 else following
        chunk = body[start:end].rstrip()
        if following >= 0:
            if not chunk.endswith(b","):
                return None
            chunk = chunk[:-1]
        if not _at_top(body, start):
            return None
        try:
            record = orjson.loads(chunk)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(record, dict):
            return None
        out.append(record)
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
    data = _uncompressed(job, out)
    if data is None:
        return out
    out.sha256 = hashlib.sha256(data).hexdigest()
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        out.error = f"{type(err).__name__}: {err}"
        return out
    if not isinstance(document, dict) or not isinstance(document.get("logFiles"), list):
        out.error = "not a CloudTrail digest file (no logFiles list)"
        return out
    out.digest = document
    return out


def _uncompressed(job: ParseJob, out: ParsedFile) -> bytes | None:
    """The file's bytes, gunzipped when compressed, both bounded; None with the reason recorded in `out`."""
    if job.unreadable:
        out.error = job.unreadable
        return None
    try:
        raw = job.data if job.data is not None else read_bounded(Path(job.path or ""))
        out.size = len(raw)
        return gunzip_bounded(raw) if raw[:2] == b"\x1f\x8b" else raw
    except EvidenceTooLarge as err:
        out.too_large = str(err)
    except (OSError, EOFError) as err:
        out.error = f"{type(err).__name__}: {err}"
        out.broken = True
    return None
