"""The incidents of a batch: one per parameter file, read and validated up front, each with its own folder.

A parameter file that cannot be read or does not validate is still an incident: it gets a folder, a
failure report and a line in the index, and never stops the others.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from kit.errors import BadInput
from kit.redact import redact_text
from kit.params import InvestigationParameters, validate

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
STATUSES = ("ok", "failed", "interrupted")  # interrupted: Ctrl-C stopped the batch first


@dataclass
class Incident:
    """One parameter file of a batch: its validated parameters (or why it is unusable) and its folder."""

    params_file: str  # as given on the command line
    name: str  # folder name under the batch folder, unique in the batch
    out_dir: Path
    params: InvestigationParameters | None = None
    error: str | None = None  # why the parameter file is unusable

    @property
    def usable(self) -> bool:
        """The parameter file was read and validated."""
        return self.params is not None

    @property
    def account_id(self) -> str | None:
        """The account named by the parameters' role ARN, if any."""
        if self.params and self.params.role_arn:
            return self.params.role_arn.split(":")[4] or None
        return None


@dataclass
class Outcome:
    """What one investigation produced: status, the findings.json it wrote, the files, the error."""

    incident: Incident
    status: str  # ok | failed
    findings: dict[str, Any] | None = None
    error: str | None = None
    report: Path | None = None  # report.html
    findings_file: Path | None = None
    notebook: Path | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} not in {STATUSES}")


def load_incidents(params_files: Sequence[str | Path], out: Path, *, org_role_arn: str = "") -> list[Incident]:
    """One incident per parameter file, in the order given; folder names unique under `out`. `org_role_arn`
    (`kit batch --org-role-arn`): the management account's role for every live incident (SCP changes)."""
    if org_role_arn:
        validate({"org_role_arn": org_role_arn})  # BadInput names it before any investigation starts
    incidents: list[Incident] = []
    taken: set[str] = set()
    for given in params_files:
        params: InvestigationParameters | None = None
        error: str | None = None
        try:
            params = read_parameter_file(Path(given))
            if org_role_arn and params.source == "live" and not params.scenario:
                params = replace(params, org_role_arn=org_role_arn)
        except BadInput as exc:
            error = f"{given}: {exc}"
        folder = _folder_name(Path(given))
        if params is not None and params.redact:  # kit scan names files <account>-<region>-<instance>
            folder = redact_text(folder)
        name = _unique(folder, taken)
        incident = Incident(params_file=str(given), name=name, out_dir=out / name, params=params, error=error)
        incidents.append(incident)
    return incidents


def read_parameter_file(path: Path) -> InvestigationParameters:
    """A papermill parameter file (YAML mapping of the notebook's parameter names), validated.

    Raises BadInput naming the file or the parameter when it is unreadable, not a mapping, or invalid.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput("params file", "a readable YAML file", f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BadInput("params file", "a YAML file in UTF-8", f"{path}: byte {exc.start} is not UTF-8") from None
    try:
        values = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader that also refuses aliases
    except _AliasRefused as exc:
        raise BadInput("params file", "a YAML mapping without anchors or aliases (&name, *name)",
                       f"{path}: {exc.kind} on line {exc.line}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise BadInput("params file", f"valid YAML{where}", str(path)) from None
    if values is None:
        values = {}
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise BadInput("params file", "a YAML mapping of parameter names to values", type(values).__name__)
    return validate(values, require_target=True)


class _AliasRefused(Exception):
    """A YAML anchor or alias in a parameter file (aliases expand into exponentially large values)."""

    def __init__(self, kind: str, line: int) -> None:
        super().__init__(f"{kind} on line {line}")
        self.kind = kind
        self.line = line


class _NoAliasLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses anchors and aliases before anything is built from them."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent):
            raise _AliasRefused(f"alias *{event.anchor}", line)
        anchor = getattr(event, "anchor", None)  # only node events carry one
        if anchor is not None:
            raise _AliasRefused(f"anchor &{anchor}", line)
        return super().compose_node(parent, index)


def _folder_name(path: Path) -> str:
    stem = path.name
    for suffix in (".yaml", ".yml", ".json"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return _UNSAFE.sub("_", stem).strip("._") or "incident"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate.lower() in taken or candidate.lower() in {"index.html", "summary.json"}:
        candidate, number = f"{name}-{number}", number + 1
    taken.add(candidate.lower())
    return candidate
