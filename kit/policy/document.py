"""Policy documents: parsing and validating the grammar into statements the evaluator can use.

Errors are `kit.errors.BadInput` naming `<policy name>: Statement[i].<field>`.
Grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kit.errors import BadInput
from kit.policy.conditions import Condition, parse_conditions
from kit.policy.principals import PrincipalSpec, parse_principal

VERSIONS = ("2012-10-17", "2008-10-17")
STATEMENT_FIELDS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal",
                    "NotPrincipal", "Condition"}


@dataclass(frozen=True)
class Statement:
    """One parsed statement. `actions`/`resources`/`principal` are None when the Not- form is used."""

    index: int
    sid: str | None
    effect: str
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    principal: PrincipalSpec | None
    not_principal: PrincipalSpec | None
    conditions: tuple[Condition, ...]
    raw: dict[str, Any]

    @property
    def label(self) -> str:
        """`Statement[1] "Allow use of the key"` (or just the index when there is no Sid)."""
        return f'Statement[{self.index}] "{self.sid}"' if self.sid else f"Statement[{self.index}]"


@dataclass(frozen=True)
class Policy:
    """A policy document and where it came from (`inline:Name`, `managed:arn`, `key-policy`, `scp:...`).

    Constructing one validates the document (raises BadInput naming the statement and field).
    """

    document: dict[str, Any]
    name: str
    statements: tuple[Statement, ...] = field(init=False, repr=False, compare=False)
    version: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        version, statements = _parse_document(self.document, self.name)
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "statements", statements)

    def __hash__(self) -> int:
        return hash((self.name, json.dumps(self.document, sort_keys=True, default=str)))

    @property
    def variables_enabled(self) -> bool:
        """Policy variables are substituted only in Version 2012-10-17 documents."""
        return self.version == "2012-10-17"


def parse_policy(document: str | dict[str, Any], name: str) -> Policy:
    """A Policy from a JSON string or a parsed document; raises BadInput naming the faulty statement field."""
    if isinstance(document, (bytes, bytearray)):
        document = document.decode("utf-8")
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise BadInput(name, f"a JSON policy document ({exc.msg} at line {exc.lineno} column {exc.colno})",
                           document) from None
        except RecursionError:
            raise BadInput(name, "a JSON policy document (this one is nested too deep to read)",
                           str(document)[:80]) from None
    return Policy(document, name)  # type: ignore[arg-type]


def _parse_document(document: object, name: str) -> tuple[str, tuple[Statement, ...]]:
    if not isinstance(document, dict):
        raise BadInput(name, "a policy document (a JSON object with Statement)", document)
    version = document.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise BadInput(f"{name}: Version", " or ".join(VERSIONS), version)
    if "Statement" not in document:
        raise BadInput(f"{name}: Statement", "a statement or a list of statements", None)
    raw_statements = document["Statement"]
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list):
        raise BadInput(f"{name}: Statement", "a statement or a list of statements", raw_statements)
    return version, tuple(_parse_statement(s, i, name) for i, s in enumerate(raw_statements))


def _parse_statement(raw: object, index: int, name: str) -> Statement:
    where = f"{name}: Statement[{index}]"
    if not isinstance(raw, dict):
        raise BadInput(where, "a statement object", raw)
    unknown = sorted(set(raw) - STATEMENT_FIELDS)
    if unknown:
        raise BadInput(f"{where}.{unknown[0]}", f"one of the statement fields {sorted(STATEMENT_FIELDS)}",
                       unknown[0])
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise BadInput(f"{where}.Sid", "a string", sid)
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise BadInput(f"{where}.Effect", '"Allow" or "Deny"', effect)
    actions = _one_of(raw, "Action", "NotAction", where, required=True)
    resources = _one_of(raw, "Resource", "NotResource", where, required=True)
    for kind, values in (actions, resources):
        for value in values:
            if kind in ("Action", "NotAction") and value != "*" and ":" not in value:
                raise BadInput(f"{where}.{kind}", '"*" or "service:Action" (wildcards allowed)', value)
    if "Principal" in raw and "NotPrincipal" in raw:
        raise BadInput(f"{where}.NotPrincipal", "either Principal or NotPrincipal, not both", raw["NotPrincipal"])
    principal = parse_principal(raw["Principal"], f"{where}.Principal") if "Principal" in raw else None
    not_principal = (parse_principal(raw["NotPrincipal"], f"{where}.NotPrincipal")
                     if "NotPrincipal" in raw else None)
    conditions = parse_conditions(raw["Condition"], f"{where}.Condition") if "Condition" in raw else ()
    return Statement(
        index=index, sid=sid or None, effect=effect,
        actions=actions[1] if actions[0] == "Action" else None,
        not_actions=actions[1] if actions[0] == "NotAction" else None,
        resources=resources[1] if resources[0] == "Resource" else None,
        not_resources=resources[1] if resources[0] == "NotResource" else None,
        principal=principal, not_principal=not_principal, conditions=conditions, raw=raw,
    )


def _one_of(raw: dict[str, Any], positive: str, negative: str, where: str,
            required: bool) -> tuple[str, tuple[str, ...]]:
    if positive in raw and negative in raw:
        raise BadInput(f"{where}.{negative}", f"either {positive} or {negative}, not both", raw[negative])
    kind = positive if positive in raw else negative if negative in raw else None
    if kind is None:
        if required:
            raise BadInput(f"{where}.{positive}", f"{positive} or {negative}", None)
        return positive, ()
    value = raw[kind]
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise BadInput(f"{where}.{kind}", "a non-empty string or a non-empty list of strings", value)
    return kind, tuple(values)
