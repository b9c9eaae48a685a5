"""Issue 16 #11: evidence has a stated size budget per file (kit.collect.limits). A file over it, or a gzip
bomb that would decompress past it, is refused by name in a bundle, skipped with a gap in a cli: folder or a log
folder, and never read whole into memory."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest

from kit.collect import limits
from kit.collect.limits import EvidenceTooLarge, gunzip_bounded, read_bounded
from tests.test_cli_folder import load_quietly, sample_documents, write_folder


def _gzip_bomb(decompressed_bytes: int) -> bytes:
    """A gzip member of zeros: about 1000x smaller than what it inflates to."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1024 * 1024)
    out = [compressor.compress(block) for _ in range(decompressed_bytes // len(block))]
    return b"".join(out) + compressor.flush()


def test_gunzip_stops_at_the_budget_instead_of_inflating_a_bomb() -> None:
    bomb = _gzip_bomb(64 * 1024 * 1024)
    assert len(bomb) < 200_000
    with pytest.raises(EvidenceTooLarge):
        gunzip_bounded(bomb, limit=8 * 1024 * 1024)


def test_gunzip_reads_real_gzip_and_concatenated_members_exactly() -> None:
    payload = json.dumps({"Records": [{"eventID": str(i)} for i in range(1000)]}).encode()
    assert gunzip_bounded(gzip.compress(payload)) == payload
    assert gunzip_bounded(gzip.compress(b"ab") + gzip.compress(b"cd")) == b"abcd"
    with pytest.raises(EOFError):
        gunzip_bounded(gzip.compress(payload)[:-20])
    with pytest.raises(OSError):
        gunzip_bounded(b"not gzip at all")


def test_a_file_over_the_budget_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    assert read_bounded(big, limit=4096) == b" " * 2048
    with pytest.raises(EvidenceTooLarge, match="budget of 1024 bytes"):
        read_bounded(big, limit=1024)


def test_an_oversized_cli_file_is_skipped_with_a_gap_naming_it(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    documents = sample_documents()
    documents["cloudtrail.lookup-events.kms.json"] = {"Events": [
        {"EventId": str(i), "EventName": "CreateGrant", "EventTime": "2024-05-01T10:00:00Z",
         "CloudTrailEvent": json.dumps({"eventID": str(i), "eventName": "CreateGrant", "pad": "x" * 2000})}
        for i in range(200)]}
    folder = write_folder(tmp_path / "cli", documents)
    monkeypatch.setattr(limits, "MAX_EVIDENCE_FILE_BYTES", 100_000)
    evidence, warnings = load_quietly(folder)
    assert "cloudtrail.lookup-events.kms.json" not in evidence.documents
    gap = next(g for g in evidence.gaps if "cloudtrail.lookup-events.kms.json" in g.impact)
    assert gap.error == "invalid-file" and "too large" in gap.impact and "budget" in gap.impact
    assert "ec2.describe-instances.json" in evidence.documents, "the rest of the folder is read"
