"""Log file integrity, offline: the trail's digest files (`CloudTrail-Digest/`) checked against the log files read.

What CloudTrail's digest files give (AWS CloudTrail User Guide, "CloudTrail digest file structure"): each
digest lists the log files delivered in its hour with `hashValue`, the SHA-256 of the file's uncompressed
content, and chains to the previous digest with `previousDigestHashValue` (SHA-256 of the previous digest's
uncompressed content) and `previousDigestSignature` (the previous digest's signature, which S3 keeps in that
object's `x-amz-meta-signature`).

What is checked here, with no AWS call:
- each log file read: `verified` (its SHA-256 equals the one a digest lists), `mismatched` (it differs: the
  file changed after delivery), or `unverifiable` (no digest in the source lists it);
- each log file a digest lists in the selection but the source lacks: `missing` (deleted after delivery);
- each digest's link to its previous one: `chained` (the previous digest is in the source and its SHA-256
  matches, and for S3, its signature metadata equals `previousDigestSignature`), `broken` (it does not),
  `previous-absent` (not in the source) or `start` (a starting digest, no previous).
What is not checked: the RSA signature of each digest (SHA256withRSA), which needs the Region's public key from
cloudtrail:ListPublicKeys; so a digest rewritten together with every later one, by someone able to write the
bucket, is not detected here (the AWS CLI's `validate-logs` checks signatures, on the bucket, not on a copy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kit.collect.log_parse import ParsedFile
from kit.evidence import Gap

DIGEST_DOCUMENT = "cloudtrail.log-integrity.json"
SIGNATURE_NOTE = ("digest signatures (SHA256withRSA) are not verified: that needs the Region's public key "
                  "(cloudtrail:ListPublicKeys); hashes and the digest chain are verified offline")


@dataclass
class IntegrityReport:
    """Per log file and per digest: what the digest files say about them."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)    # relative -> status, digest, hashes
    digests: dict[str, dict[str, Any]] = field(default_factory=dict)  # relative -> chain status

    def count(self, status: str) -> int:
        """How many log files have `status`."""
        return sum(1 for f in self.files.values() if f["status"] == status)

    def to_dict(self) -> dict[str, Any]:
        statuses = ("verified", "mismatched", "unverifiable", "missing")
        return {"summary": {s: self.count(s) for s in statuses}, "note": SIGNATURE_NOTE,
                "files": dict(sorted(self.files.items())), "digests": dict(sorted(self.digests.items()))}

    def gaps(self) -> list[Gap]:
        """A gap per mismatched or missing log file and per broken digest link: findings, not errors."""
        out = []
        for relative, entry in sorted(self.files.items()):
            if entry["status"] == "mismatched":
                out.append(Gap("cloudtrail:log-integrity", "LogFileHashMismatch",
                               f"{relative} does not match its digest {entry['digest']} (SHA-256 "
                               f"{entry['sha256']} read, {entry['expected']} delivered): the log file was changed "
                               "after CloudTrail delivered it; its events may not be what CloudTrail recorded.", None))
            elif entry["status"] == "missing":
                out.append(Gap("cloudtrail:log-integrity", "LogFileMissing",
                               f"{relative} is listed in the digest {entry['digest']} but is not in the source: a "
                               "log file of the window was removed after delivery; its events are missing.", None))
        for relative, entry in sorted(self.digests.items()):
            if entry["chain"] == "broken":
                out.append(Gap("cloudtrail:log-integrity", "DigestChainBroken",
                               f"{relative} does not chain to {entry['previous']} ({entry['reason']}): a digest "
                               "file was changed or replaced after delivery.", None))
        return out


def check_integrity(logs: list[ParsedFile], digests: list[ParsedFile], signatures: dict[str, str],
                    in_selection: Callable[[str], bool], present: set[str]) -> IntegrityReport:
    """Check the log files read against the digest files found (see the module's docstring).

    present: the names of every log file the source holds in the selection (read or left by a budget)."""
    report = IntegrityReport()
    listed: dict[str, tuple[str, str, str]] = {}  # log file name -> (digest, expected hash, its s3Object)
    by_name = {d.relative.rsplit("/", 1)[-1]: d for d in digests}
    for digest in digests:
        if digest.digest is None:
            report.digests[digest.relative] = {"chain": "unreadable", "reason": digest.error or digest.too_large}
            continue
        for entry in digest.digest.get("logFiles") or []:
            if isinstance(entry, dict) and isinstance(entry.get("s3Object"), str) and \
                    entry.get("hashAlgorithm", "SHA-256") == "SHA-256" and isinstance(entry.get("hashValue"), str):
                listed[entry["s3Object"].rsplit("/", 1)[-1]] = (digest.relative, entry["hashValue"].lower(),
                                                                entry["s3Object"])
        report.digests[digest.relative] = _chain(digest, by_name, signatures)
    for log in logs:
        name = log.relative.rsplit("/", 1)[-1]
        entry = listed.get(name)
        if entry is None or log.sha256 is None:
            report.files[log.relative] = {"status": "unverifiable", "sha256": log.sha256,
                                          "reason": "no digest file in the source lists it" if entry is None
                                          else "not read"}
            continue
        status = "verified" if log.sha256 == entry[1] else "mismatched"
        report.files[log.relative] = {"status": status, "sha256": log.sha256, "expected": entry[1],
                                      "digest": entry[0]}
    for name, (digest_name, expected, s3_object) in listed.items():
        relative = s3_object[s3_object.find("AWSLogs/"):] if "AWSLogs/" in s3_object else s3_object
        if name not in present and in_selection(relative):
            report.files[relative] = {"status": "missing", "expected": expected, "digest": digest_name}
    return report


def _chain(digest: ParsedFile, by_name: dict[str, ParsedFile], signatures: dict[str, str]) -> dict[str, Any]:
    document = digest.digest or {}
    previous_key = document.get("previousDigestS3Object")
    if not previous_key:
        return {"chain": "start"}
    previous_name = str(previous_key).rsplit("/", 1)[-1]
    previous = by_name.get(previous_name)
    if previous is None or previous.sha256 is None:
        return {"chain": "previous-absent", "previous": previous_name}
    expected = str(document.get("previousDigestHashValue") or "").lower()
    if previous.sha256 != expected:
        return {"chain": "broken", "previous": previous_name,
                "reason": f"its SHA-256 is {previous.sha256}, the digest names {expected}"}
    signature = signatures.get(previous_name)
    if signature is not None and signature != document.get("previousDigestSignature"):
        return {"chain": "broken", "previous": previous_name,
                "reason": "its signature metadata differs from previousDigestSignature"}
    return {"chain": "chained", "previous": previous_name}
