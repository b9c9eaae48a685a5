"""The cause table (kit/causes.yaml): every verdict cause with its kind, wording, state reasons and denied_by words.

The one home of the cause ids and the `denied_by` vocabulary of findings.json. Read lazily, once; the file is
checked as it is read (BadInput naming the entry). `schema_disagreements` compares the table with a findings
schema, the public contract it must agree with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from kit.errors import BadInput

SOURCE = "kit/causes.yaml"
TONES = ("bad", "not-kms", "good", "unknown", "neutral")
STATE_REASON_KINDS = ("kms-candidate", "cause", "not-a-launch-failure")


@dataclass(frozen=True)
class StateReasonCode:
    """One EC2 state reason (the effective reason, e.g. `Client.VolumeLimitExceeded`) and what it belongs to."""

    code: str
    meaning: str
    kind: str  # how kit.diagnose.state_reason reads it: kms-candidate | cause | not-a-launch-failure
    cause: str | None  # the cause it belongs to; None for a kms-candidate (no single KMS cause)
    lookalike: str | None  # the lookalike it confirms


@dataclass(frozen=True)
class CauseLookalike:
    """A cause that is also a lookalike of the same id: its lookalike title and evidence."""

    title: str
    evidence: str
    autoscaling: tuple[str, ...]  # words an Auto Scaling activity says it with


@dataclass(frozen=True)
class Cause:
    """One verdict cause (contracts.md section 3) and the facts that belong to it."""

    id: str
    kind: str  # kms | lookalike | not-a-failure | undetermined
    title: str
    tone: str  # bad | not-kms | good | unknown | neutral
    summary: str  # str.format template of the verdict summary
    denied_by: tuple[str, ...] = ()  # denied_by words allowed with this cause; () = denied_by is null
    key_states: tuple[str, ...] = ()  # KMS KeyState values that make this cause
    kms_errors: tuple[str, ...] = ()  # CloudTrail KMS error kinds that make this cause
    state_reasons: tuple[StateReasonCode, ...] = ()
    lookalike: CauseLookalike | None = None
    shown_by: tuple[str, ...] = ()  # steps (kit/diagnose/steps.yaml ids) whose failure is this cause, first first

    @property
    def state_reason_codes(self) -> tuple[str, ...]:
        """The effective state reasons that belong to this cause, in table order."""
        return tuple(r.code for r in self.state_reasons)


@dataclass(frozen=True)
class CauseKind:
    """A group of causes: what it means and how a state reason of it reads."""

    name: str
    about: str
    state_reason: str | None  # kit.diagnose.state_reason kind of its causes' reasons
    state_reasons: tuple[StateReasonCode, ...] = ()  # reasons of the kind that name no single cause


@dataclass(frozen=True)
class DeniedBy:
    """One findings `denied_by` word: in words for the banner, and as the summary's "because ..." clause."""

    word: str
    words: str
    because: str
    remedy: str  # the verdict summary's {remedy}: what to change at that layer


@dataclass(frozen=True)
class CauseTable:
    kinds: dict[str, CauseKind]
    causes: dict[str, Cause]
    denied_by: dict[str, DeniedBy]


def causes() -> dict[str, Cause]:
    """Every cause by id, in table order."""
    return dict(_table().causes)


def cause(cause_id: str) -> Cause:
    """One cause by id; BadInput listing the ids when unknown."""
    table = _table().causes
    if cause_id not in table:
        raise BadInput("cause", "one of " + ", ".join(table), cause_id)
    return table[cause_id]


def cause_ids() -> tuple[str, ...]:
    """Every cause id, in table order."""
    return tuple(_table().causes)


def causes_of_kind(kind: str) -> tuple[str, ...]:
    """The ids of the causes of one kind, in table order; BadInput for an unknown kind."""
    if kind not in _table().kinds:
        raise BadInput("cause kind", "one of " + ", ".join(_table().kinds), kind)
    return tuple(c.id for c in _table().causes.values() if c.kind == kind)


def kinds() -> dict[str, CauseKind]:
    """The cause kinds by name."""
    return dict(_table().kinds)


def denied_by() -> dict[str, DeniedBy]:
    """The findings `denied_by` vocabulary, in table order."""
    return dict(_table().denied_by)


def denied_by_words() -> dict[str, str]:
    """denied_by word -> the words the report's banner shows."""
    return {word: entry.words for word, entry in _table().denied_by.items()}


def state_reasons() -> dict[str, StateReasonCode]:
    """Every known effective state reason -> its entry (of a cause, or of the kms kind)."""
    out: dict[str, StateReasonCode] = {}
    for kind in _table().kinds.values():
        out.update((r.code, r) for r in kind.state_reasons)
    for entry in _table().causes.values():
        out.update((r.code, r) for r in entry.state_reasons)
    return out


def schema_disagreements(schema: Mapping[str, Any]) -> list[str]:
    """How the table and a findings schema's verdict enums differ (empty when they agree)."""
    verdict = schema.get("properties", {}).get("verdict", {}).get("properties", {})
    problems: list[str] = []
    pairs = (("cause", set(cause_ids()), set(verdict.get("cause", {}).get("enum", []))),
             ("denied_by", set(denied_by_words()) | {None}, set(verdict.get("denied_by", {}).get("enum", []))))
    for name, ours, theirs in pairs:
        for value in sorted(ours - theirs, key=str):
            problems.append(f"{name} {value!r} is in {SOURCE} but not in the schema")
        for value in sorted(theirs - ours, key=str):
            problems.append(f"{name} {value!r} is in the schema but not in {SOURCE}")
    return problems


@cache
def _table() -> CauseTable:
    text = resources.files("kit").joinpath("causes.yaml").read_text(encoding="utf-8")
    return parse_table(yaml.safe_load(text))


def parse_table(document: Any) -> CauseTable:
    """Check and type the cause table's YAML document (BadInput naming the entry that is wrong)."""
    if not isinstance(document, dict):
        raise BadInput(SOURCE, "a mapping with kinds, causes and denied_by", type(document).__name__)
    words = {str(word): DeniedBy(str(word), _text(entry, "words", f"{SOURCE}: denied_by.{word}"),
                                 _text(entry, "because", f"{SOURCE}: denied_by.{word}"),
                                 _text(entry, "remedy", f"{SOURCE}: denied_by.{word}"))
             for word, entry in _mapping(document, "denied_by", SOURCE).items()}
    kind_table = {str(name): _kind(str(name), entry) for name, entry in _mapping(document, "kinds", SOURCE).items()}
    table = {str(cause_id): _cause(str(cause_id), entry, kind_table, words)
             for cause_id, entry in _mapping(document, "causes", SOURCE).items()}
    seen: dict[str, str] = {}
    owners = [(f"kinds.{k.name}", k.state_reasons) for k in kind_table.values()]
    owners += [(f"causes.{c.id}", c.state_reasons) for c in table.values()]
    for owner, reasons in owners:
        for reason in reasons:
            if reason.code in seen:
                raise BadInput(f"{SOURCE}: {owner}.state_reasons.{reason.code}", "a state reason listed once",
                               f"also under {seen[reason.code]}")
            seen[reason.code] = owner
    return CauseTable(kind_table, table, words)


def _kind(name: str, entry: Any) -> CauseKind:
    where = f"{SOURCE}: kinds.{name}"
    if not isinstance(entry, dict):
        raise BadInput(where, "a mapping", entry)
    reads_as = entry.get("state_reason")
    if reads_as is not None and reads_as not in STATE_REASON_KINDS:
        raise BadInput(f"{where}.state_reason", " | ".join(STATE_REASON_KINDS), reads_as)
    reasons = entry.get("state_reasons") or {}
    if reasons and reads_as is None:
        raise BadInput(f"{where}.state_reason", "set when the kind lists state reasons")
    return CauseKind(name, _text(entry, "about", where), reads_as,
                     _reasons(reasons, f"{where}.state_reasons", reads_as or "", None, None))


def _cause(cause_id: str, entry: Any, kind_table: dict[str, CauseKind], words: dict[str, DeniedBy]) -> Cause:
    where = f"{SOURCE}: causes.{cause_id}"
    if not isinstance(entry, dict):
        raise BadInput(where, "a mapping", entry)
    kind = entry.get("kind")
    if kind not in kind_table:
        raise BadInput(f"{where}.kind", " | ".join(kind_table), kind)
    tone = entry.get("tone")
    if tone not in TONES:
        raise BadInput(f"{where}.tone", " | ".join(TONES), tone)
    allowed = tuple(str(w) for w in entry.get("denied_by") or ())
    unknown = [w for w in allowed if w not in words]
    if unknown:
        raise BadInput(f"{where}.denied_by", "words of denied_by", unknown)
    lookalike = entry.get("lookalike")
    if (lookalike is not None) != (kind == "lookalike"):
        raise BadInput(f"{where}.lookalike", "set for kind lookalike and only for it", lookalike)
    reasons = entry.get("state_reasons") or {}
    reads_as = kind_table[kind].state_reason
    if reasons and reads_as is None:
        raise BadInput(f"{where}.state_reasons", f"none for kind {kind}", list(reasons))
    return Cause(
        id=cause_id, kind=str(kind), title=_text(entry, "title", where), tone=str(tone),
        summary=_text(entry, "summary", where), denied_by=allowed,
        key_states=tuple(str(s) for s in entry.get("key_states") or ()),
        kms_errors=tuple(str(e) for e in entry.get("kms_errors") or ()),
        state_reasons=_reasons(reasons, f"{where}.state_reasons", reads_as or "", cause_id,
                               cause_id if kind == "lookalike" else None),
        shown_by=tuple(str(s) for s in entry.get("shown_by") or ()),
        lookalike=None if lookalike is None else CauseLookalike(
            _text(lookalike, "title", f"{where}.lookalike"),
            _text(lookalike, "evidence", f"{where}.lookalike"),
            tuple(str(w) for w in lookalike.get("autoscaling") or ())))


def _reasons(entries: Any, where: str, reads_as: str, cause_id: str | None,
             lookalike: str | None) -> tuple[StateReasonCode, ...]:
    if not isinstance(entries, dict):
        raise BadInput(where, "a mapping of state reason -> {meaning, lookalike}", entries)
    out: list[StateReasonCode] = []
    for code, entry in entries.items():
        if not isinstance(entry, dict):
            raise BadInput(f"{where}.{code}", "a mapping with meaning", entry)
        out.append(StateReasonCode(str(code), _text(entry, "meaning", f"{where}.{code}"), reads_as, cause_id,
                                   entry.get("lookalike") or lookalike))
    return tuple(out)


def _mapping(document: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = document.get(key)
    if not isinstance(value, dict) or not value:
        raise BadInput(f"{where}: {key}", "a non-empty mapping", value)
    return value


def _text(entry: Any, key: str, where: str) -> str:
    value = entry.get(key) if isinstance(entry, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{where}.{key}", "a non-empty string", value)
    return value
