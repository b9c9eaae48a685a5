"""The values a diagnosis produces: step results, the verdict, remediation, and the Findings that hold them.

`Findings.to_dict()` is `findings.json` (contracts.md section 3). The notebook also gets, beside it, each
step's evidence rows, the failing authorization request with its policies (for the what-if editor) and a
timeline frame; those are not serialised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from kit.causes import cause, cause_ids, causes, denied_by_words
from kit.diagnose.ticket import iso

if TYPE_CHECKING:
    from kit.policy import Decision, PolicySet, Request

StepStatus = Literal["pass", "fail", "unknown", "skipped"]
Confidence = Literal["confirmed", "likely", "possible"]
LookalikeStatus = Literal["confirmed", "possible", "ruled-out", "unknown"]
RemediationKind = Literal["iam-policy", "key-policy", "kms-grant", "cli", "terraform"]
# iam-policy / key-policy: a policy document; kms-grant: create-grant parameters; cli: {"commands", "files"};
# terraform: text.
RemediationDocument = dict[str, Any] | str

SCHEMA = "kit.findings/1"
STATUSES = ("pass", "fail", "unknown", "skipped")
CONFIDENCES = ("confirmed", "likely", "possible")
REMEDIATION_KINDS = ("iam-policy", "key-policy", "kms-grant", "cli", "terraform")


@dataclass(frozen=True)
class StepResult:
    """One troubleshooting step's finding: status, what it found, and the evidence rows behind it."""

    id: str
    title: str
    status: StepStatus
    detail: str
    rows: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, repr=False)
    seed_step: str | None = None  # which step of the manual procedure it automates (findings.json: manual_step)
    checks: str = ""  # what the step checks (metadata)
    role: str = ""  # what the status means here (kit.diagnose.roles): cause | symptom | fine | unchecked | ...

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"step {self.id}: status {self.status!r} not in {STATUSES}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "title": self.title, "status": self.status, "detail": self.detail}
        if self.role:
            out["role"] = self.role
        if self.seed_step:
            out["manual_step"] = self.seed_step
        return out


@dataclass(frozen=True)
class Verdict:
    """The one answer: cause, who was refused by which layer, on which key, and how sure the kit is."""

    cause: str
    denied_by: str | None
    principal_arn: str | None
    key_arn: str | None
    confidence: Confidence
    summary: str
    change: dict[str, Any] | None = None  # contracts.md section 3a, kit.diagnose.change
    last_success: dict[str, Any] | None = None
    launcher_class: str | None = None  # kit/diagnose/launchers.yaml id of the principal_arn's launcher
    launched_by: str | None = None  # "Karpenter's controller role X, through CreateFleet"

    def __post_init__(self) -> None:
        if self.cause not in cause_ids():
            raise ValueError(f"cause {self.cause!r} not in {cause_ids()}")
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"confidence {self.confidence!r} not in {CONFIDENCES}")
        if self.denied_by is not None and self.denied_by not in denied_by_words():
            raise ValueError(f"denied_by {self.denied_by!r} not in {tuple(denied_by_words())}")
        allowed = cause(self.cause).denied_by
        if (self.denied_by is not None) != bool(allowed) or (self.denied_by and self.denied_by not in allowed):
            with_denied_by = ", ".join(c.id for c in causes().values() if c.denied_by)
            raise ValueError(f"denied_by is set for {with_denied_by} and only for it")

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "denied_by": self.denied_by, "principal_arn": self.principal_arn,
                "key_arn": self.key_arn, "confidence": self.confidence, "summary": self.summary,
                "change": self.change, "last_success": self.last_success,
                "launcher_class": self.launcher_class, "launched_by": self.launched_by}


@dataclass(frozen=True)
class Remediation:
    """One proposed change, never applied by the kit.

    `document` is the policy document (iam-policy, key-policy), the create-grant parameters (kms-grant),
    the list of AWS CLI commands (cli) or the Terraform text (terraform). `verified` is true only when the
    kit's evaluator turns the failing request into an allow with the change set this item belongs to
    (`change_set`) and nothing broader than needed is granted.
    """

    kind: RemediationKind
    target: str | None
    document: RemediationDocument
    verified: bool
    title: str = ""
    explanation: str = ""
    change_set: str = ""  # items with the same change_set are applied together
    note: str = ""  # why it is or is not verified
    layer: str | None = None  # policy documents: identity-policy, permissions-boundary, scp, key-policy
    replaces: str | None = None  # name of the evidence policy this document replaces (None: a new policy)
    # How it was checked (additive findings.json fields): `verification` is verified (every layer in the
    # evidence), verified-in-evidence (every layer the evidence holds allows; `not_in_evidence` names the
    # others), or not-verified; `checked_against` the layers the evaluator applied; `checked_calls` the KMS
    # calls of the launch it checked; `diff` the unified diff of a whole-document replacement.
    verification: str = ""
    checked_against: tuple[str, ...] = ()
    not_in_evidence: tuple[str, ...] = ()
    checked_calls: tuple[str, ...] = ()
    diff: str = ""

    def __post_init__(self) -> None:
        if self.kind not in REMEDIATION_KINDS:
            raise ValueError(f"remediation kind {self.kind!r} not in {REMEDIATION_KINDS}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "target": self.target, "document": self.document,
                               "verified": self.verified}
        for name in ("title", "explanation", "change_set", "note", "layer", "replaces", "verification", "diff"):
            value = getattr(self, name)
            if value:
                out[name] = value
        for name in ("checked_against", "not_in_evidence", "checked_calls"):
            if getattr(self, name):
                out[name] = list(getattr(self, name))
        return out


@dataclass(frozen=True)
class FindingsGap:
    """A gap in findings.json: the evidence's own gaps plus the diagnosis's (what it could not check)."""

    call: str
    error: str
    impact: str
    next_step: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"call": self.call, "error": self.error, "impact": self.impact}
        if self.next_step:
            out["next_step"] = self.next_step
        return out


@dataclass(frozen=True)
class Findings:
    """The result of one diagnosis."""

    instance_id: str
    region: str
    account_id: str | None
    verdict: Verdict
    ruled_out: list[str]
    steps: list[StepResult]
    gaps: list[FindingsGap]
    remediation: list[Remediation]
    lookalikes: dict[str, LookalikeStatus] = field(default_factory=dict)  # lookalike id -> its status
    request: Request | None = None  # of the failing authorization
    policies: PolicySet | None = None  # the request was evaluated against
    decision: Decision | None = None
    timeline: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, repr=False)
    other_changes: list[dict[str, Any]] = field(default_factory=list)  # recorded changes not named (report only)
    change_mattered: dict[str, Any] | None = None  # the statement that decided, for the report's diff
    failure_time: str | None = None  # when the launch failed (ISO 8601 UTC), for "time from change to failure"
    incident: dict[str, Any] = field(default_factory=dict)  # kit.diagnose.incident: name, times, timeline
    incident_time: pd.Timestamp | None = None  # when the failed launch happened (kit.diagnose.ticket)
    verdict_event_ids: list[str] = field(default_factory=list)  # the CloudTrail events behind the verdict
    launch: dict[str, Any] | None = None  # how the instance was launched and by whom (additive in findings.json)
    key_provenance: list[dict[str, Any]] = field(default_factory=list)  # per volume: where its key came from

    def step(self, step_id: str) -> StepResult:
        """The result of one step by id."""
        for result in self.steps:
            if result.id == step_id:
                return result
        raise KeyError(step_id)

    def to_dict(self) -> dict[str, Any]:
        """findings.json (contracts.md section 3)."""
        return {
            "schema": SCHEMA,
            "instance_id": self.instance_id,
            "region": self.region,
            "account_id": self.account_id,
            "verdict": self.verdict.to_dict(),
            "ruled_out": list(self.ruled_out),
            "steps": [s.to_dict() for s in self.steps],
            "gaps": [g.to_dict() for g in self.gaps],
            "remediation": [r.to_dict() for r in self.remediation],
            "lookalikes": dict(self.lookalikes),
            **({"incident": dict(self.incident)} if self.incident else {}),
            "incident_time": iso(self.incident_time),
            "cloudtrail_event_ids": list(self.verdict_event_ids),
            "launch": self.launch,
            "key_provenance": list(self.key_provenance),
        }
