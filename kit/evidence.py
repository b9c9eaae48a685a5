"""The raw evidence model shared by every source (live, bundle:DIR, cli:DIR).

Evidence is a set of *documents*: each one the unmodified JSON an AWS CLI command prints with
`--output json`, keyed by the file name contracts.md section 2 gives it
(`ec2.describe-instances.json`, `kms.describe-key.<key-id>.json`, `cloudtrail-logs/.../x.json.gz`, ...).
Live collection produces exactly these documents (a bundle is these files plus `manifest.json`),
and a `cli:` folder is read into the same model, so nothing below `kit.collect` knows the source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Gap:
    """Evidence the kit could not get: which call, the error, what it means for the diagnosis."""

    call: str  # "service:Operation", e.g. "kms:GetKeyPolicy"
    error: str  # AWS error code, or "missing" for an absent cli: file
    impact: str  # plain words: what can no longer be checked
    next_step: str | None = None  # the AWS CLI command that would fill the gap

    def to_dict(self) -> dict[str, Any]:
        out = {"call": self.call, "error": self.error, "impact": self.impact}
        if self.next_step:
            out["next_step"] = self.next_step
        return out


@dataclass
class Evidence:
    """Everything collected for one instance."""

    instance_id: str
    region: str
    documents: dict[str, Any] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    source: str = "live"  # "live", "bundle:DIR" or "cli:DIR"
    collector_arn: str | None = None
    collected_at: str | None = None  # ISO 8601 UTC
    parameters: dict[str, Any] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)  # {"operation", "params", "at"}, in order
    # (a call answered from a response read earlier in the process also has "reused": true and "read_at")

    def document(self, name: str) -> Any | None:
        """The document stored under `name` (with or without `.json`), or None."""
        if name in self.documents:
            return self.documents[name]
        return self.documents.get(name + ".json")

    def documents_with_prefix(self, prefix: str) -> dict[str, Any]:
        """All documents whose name starts with `prefix`, sorted by name."""
        return {k: v for k, v in sorted(self.documents.items()) if k.startswith(prefix)}


INSTANCE_CALL = "ec2:DescribeInstances"  # the gap that means the instance itself could not be read


def instance_unreadable(gaps: Iterable[Mapping[str, Any]]) -> str | None:
    """Why the instance itself could not be read (missing, not visible, nothing answering), or None.

    The one rule for "nothing was investigated": kit batch counts such an incident failed, kit collect and
    kit investigate exit 1. `gaps` as findings.json or a manifest holds them (`Gap.to_dict()`).
    """
    for gap in gaps:
        if gap.get("call") == INSTANCE_CALL:
            return f"{INSTANCE_CALL} {gap.get('error')}: {gap.get('impact')}"
    return None
