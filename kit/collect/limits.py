"""How much evidence one investigation reads: a stated budget per file, so a huge or hostile file (a 300 MB
lookup-events dump, a gzip bomb) is refused by name, or skipped with a gap, before it costs gigabytes.

Parsed JSON takes about ten times its size in memory, so 128 MiB per file keeps one investigation under a few
GB; a real CLI output or CloudTrail log file for one instance is far smaller (a day of an account's log files
is delivered in files of a few MB)."""

from __future__ import annotations

import zlib
from pathlib import Path

MAX_EVIDENCE_FILE_BYTES = 128 * 1024 * 1024

# One read of a CloudTrail archive (a folder or s3:// prefix): the log files chosen by name are read in delivery
# order until either budget is spent; the files left are counted in a gap (kit.collect.cloudtrail_logs). 4 GiB of
# gzipped log files is about 30 million records: a busy organisation's day; parsing keeps memory bounded (files
# are parsed a few at a time and only kept records stay).
# AWS calls of one live collection for one instance with up to 4 volumes and 2 keys, the change look-back
# (kit.collect.change_lookups has its own budget) and the Organizations reads (organization_call_budget) apart:
# 13 for the incident and 2 for the trail's event selectors (DescribeTrails, GetEventSelectors: whether "no KMS
# event" means anything). tests/test_collect_budget.py holds both.
INCIDENT_CALL_BUDGET = 15
ARCHIVE_MAX_BYTES = 4 * 1024 * 1024 * 1024
ARCHIVE_MAX_SECONDS = 900.0


def organization_call_budget(targets: int, policies: int) -> int:
    """The Organizations reads of the SCPs over an account: at most one ListParents and one ListPoliciesForTarget
    per target (the account, each OU above it, the root), one DescribePolicy per distinct SCP. AWS allows five
    levels of OUs and five SCPs per target: at most 7 targets and 35 SCPs. (The chains an account was moved from
    are read by the change look-back, kit.collect.change_lookups.)"""
    return 2 * targets + policies


class EvidenceTooLarge(ValueError):
    """An evidence file (or its decompressed content) is larger than the per-file budget."""


def read_bounded(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes, or EvidenceTooLarge when it holds more than `limit` (default: the budget; checked
    before reading)."""
    limit = MAX_EVIDENCE_FILE_BYTES if limit is None else limit
    size = path.stat().st_size
    if size > limit:
        raise EvidenceTooLarge(f"{size} bytes, more than the kit's budget of {limit} bytes per evidence file")
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # grew while we read it
        raise EvidenceTooLarge(f"more than the kit's budget of {limit} bytes per evidence file")
    return data


def gunzip_bounded(data: bytes, limit: int | None = None) -> bytes:
    """gzip.decompress that stops at `limit` decompressed bytes (default: the budget) with EvidenceTooLarge
    instead of exhausting memory. Raises OSError/EOFError for data that is not (complete) gzip, as
    gzip.decompress does."""
    limit = MAX_EVIDENCE_FILE_BYTES if limit is None else limit
    out = bytearray()
    remaining = data
    while remaining:
        inflater = zlib.decompressobj(wbits=31)  # one gzip member; concatenated members loop
        try:
            chunk = inflater.decompress(remaining, limit + 1 - len(out))
        except zlib.error as err:
            raise OSError(f"not gzip: {err}") from err
        out += chunk
        if len(out) > limit:
            raise EvidenceTooLarge(f"more than the kit's budget of {limit} bytes per evidence file, decompressed")
        if not inflater.eof:
            if inflater.unconsumed_tail:
                raise EvidenceTooLarge(f"more than the kit's budget of {limit} bytes per evidence file, decompressed")
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
        remaining = inflater.unused_data
    return bytes(out)
