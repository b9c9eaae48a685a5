"""The Condition element: parsing (with exact errors) and evaluation against a request context.

Semantics (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html):
several operators and several keys are ANDed, several values of one key are ORed; key names are
case-insensitive. A missing key makes a condition false, except with a negated operator or IfExists
(true), ForAllValues (true), ForAnyValue (false) and Null (which tests exactly that).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from typing import Any

from kit.errors import BadInput
from kit.policy.matching import arn_matches, glob_match
from kit.policy.variables import literal, substitute

SET_OPERATORS = ("ForAllValues:", "ForAnyValue:")


@dataclass(frozen=True)
class Condition:
    """One operator/key pair of a Condition block, with its policy values (ORed)."""

    operator: str           # as written, e.g. "ForAnyValue:StringLikeIfExists"
    base: str               # e.g. "StringLike"
    set_operator: str | None  # "ForAllValues", "ForAnyValue" or None
    if_exists: bool
    family: str
    test: str
    negated: bool
    key: str                # as written
    values: tuple[Any, ...]  # typed per family (str, float, datetime, bool, bytes, ip network)

    def describe(self) -> str:
        """`StringEquals kms:ViaService in ['ec2.us-west-2.amazonaws.com']` style text."""
        shown = [_show(v) for v in self.values]
        return f"{self.operator} {self.key} {shown[0] if len(shown) == 1 else shown}"


def parse_conditions(block: object, where: str) -> tuple[Condition, ...]:
    """Parse a Condition element; `where` is `<policy>: Statement[i].Condition` for error messages."""
    if not isinstance(block, dict):
        raise BadInput(where, "an object mapping condition operators to {key: value(s)}", block)
    parsed: list[Condition] = []
    for operator, pairs in block.items():
        base, set_operator, if_exists, spec = _parse_operator(operator, f"{where}.{operator}")
        if not isinstance(pairs, dict) or not pairs:
            raise BadInput(f"{where}.{operator}", "an object mapping condition keys to value(s)", pairs)
        for key, raw in pairs.items():
            field = f"{where}.{operator}.{key}"
            if not isinstance(key, str) or not key:
                raise BadInput(f"{where}.{operator}", "condition keys as non-empty strings", key)
            values = raw if isinstance(raw, list) else [raw]
            if not values:
                raise BadInput(field, "at least one value", raw)
            typed = tuple(_typed_policy_value(spec["family"], v, field) for v in values)
            parsed.append(Condition(operator, base, set_operator, if_exists, spec["family"], spec["test"],
                                    spec["negated"], key, typed))
    return tuple(parsed)


def evaluate_condition(condition: Condition, context: Mapping[str, str | list[str]],
                       variables_enabled: bool = True) -> tuple[bool, str]:
    """Whether one condition holds for `context` (keys lower-cased), and a sentence saying why (not)."""
    present = condition.key.lower() in context
    raw = context.get(condition.key.lower())
    request_values = [] if raw is None else (list(raw) if isinstance(raw, list) else [raw])
    head = condition.describe()
    if condition.family == "null":
        wanted = condition.values[0]
        absent = not present or not request_values
        ok = absent == wanted if len(condition.values) == 1 else any(absent == w for w in condition.values)
        return ok, f"{head}: the key is {'absent from' if absent else 'present in'} the request"
    if not present:
        if condition.if_exists:
            return True, f"{head}: the request has no {condition.key} (IfExists: true)"
        if condition.set_operator == "ForAllValues":
            return True, f"{head}: the request has no {condition.key} (ForAllValues with no values: true)"
        if condition.set_operator == "ForAnyValue":
            return False, f"{head}: the request has no {condition.key} (ForAnyValue: false)"
        if condition.negated:
            return True, f"{head}: the request has no {condition.key} (negated operator: true)"
        return False, f"{head}: the request has no {condition.key}"
    policy_values = _resolved_policy_values(condition, context, variables_enabled)
    if policy_values is None:
        return False, f"{head}: a policy variable in it has no value in the request (the statement does not apply)"
    if condition.set_operator:
        request_values = [v for v in request_values if v != ""]  # an empty string is an empty data set

    def positive(value: str) -> bool:
        return any(_compare(condition, value, p) for p in policy_values)

    def holds(value: str) -> bool:
        return not positive(value) if condition.negated else positive(value)

    shown = request_values[0] if len(request_values) == 1 else request_values
    if condition.set_operator == "ForAllValues":
        ok = all(holds(v) for v in request_values)
        return ok, f"{head}: request values {request_values} {'all' if ok else 'do not all'} satisfy it"
    if condition.set_operator == "ForAnyValue":
        ok = any(holds(v) for v in request_values)
        return ok, f"{head}: {'some' if ok else 'none'} of the request values {request_values} satisfy it"
    # A single-valued operator on a list: the condition holds when any request value matches
    # (negated: when none does).
    matched = any(positive(v) for v in request_values)
    ok = not matched if condition.negated else matched
    return ok, f"{head}: the request has {condition.key} = {_show(shown)}"


@lru_cache(maxsize=1)
def _operator_table() -> dict[str, dict[str, Any]]:
    """The operator table (kit/policy/operators.json), read on first use."""
    text = resources.files("kit.policy").joinpath("operators.json").read_text(encoding="utf-8")
    table: dict[str, dict[str, Any]] = json.loads(text)["operators"]
    return table


def _parse_operator(operator: object, field: str) -> tuple[str, str | None, bool, dict[str, Any]]:
    if not isinstance(operator, str):
        raise BadInput(field, "a condition operator name", operator)
    table = _operator_table()
    name, set_operator = operator, None
    for prefix in SET_OPERATORS:
        if name.startswith(prefix):
            name, set_operator = name[len(prefix):], prefix[:-1]
    if_exists = name.endswith("IfExists") and name != "IfExists"
    base = name[: -len("IfExists")] if if_exists else name
    spec = table.get(base)
    if spec is None or (if_exists and spec["family"] == "null"):
        raise BadInput(field, "a known condition operator (StringEquals, ArnLike, NumericLessThan, "
                              "DateGreaterThan, Bool, BinaryEquals, IpAddress, Null, ... optionally with "
                              "IfExists, ForAllValues:, ForAnyValue:)", operator)
    return base, set_operator, if_exists, spec


def _typed_policy_value(family: str, value: object, field: str) -> Any:
    if isinstance(value, (dict, list)) or value is None:
        raise BadInput(field, "a string, number or boolean", value)
    if family in ("string", "arn"):
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    if family == "numeric":
        number = _number(value)
        if number is None:
            raise BadInput(field, "a number", value)
        return number
    if family == "date":
        moment = _date(value)
        if moment is None:
            raise BadInput(field, "a date (ISO 8601 or epoch seconds)", value)
        return moment
    if family in ("bool", "null"):
        flag = _boolean(value)
        if flag is None:
            raise BadInput(field, "true or false", value)
        return flag
    if family == "binary":
        try:
            return base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise BadInput(field, "a base64 string", value) from None
    if family == "ip":
        try:
            return ipaddress.ip_network(str(value), strict=False)
        except ValueError:
            raise BadInput(field, "an IP address or CIDR block", value) from None
    raise AssertionError(family)


def _resolved_policy_values(condition: Condition, context: Mapping[str, str | list[str]],
                            variables_enabled: bool) -> list[Any] | None:
    """The policy values with variables substituted; None when one cannot be resolved (AWS: "any
    attempt to match it fails and causes the statement to be invalid")."""
    if condition.family not in ("string", "arn") or not variables_enabled:
        return list(condition.values)
    resolved = []
    for value in condition.values:
        text = substitute(value, context)
        if text is None:
            return None
        resolved.append(text)
    return resolved


def _compare(condition: Condition, request_value: str, policy_value: Any) -> bool:
    family, test = condition.family, condition.test
    if family == "string":
        if test == "equals":
            return request_value == literal(policy_value)
        if test == "equals-ignore-case":
            return request_value.lower() == literal(policy_value).lower()
        return glob_match(policy_value, request_value)
    if family == "arn":
        return arn_matches(policy_value, request_value)
    if family == "numeric":
        number = _number(request_value)
        return number is not None and _ordered(test, number, policy_value)
    if family == "date":
        moment = _date(request_value)
        return moment is not None and _ordered(test, moment, policy_value)
    if family == "bool":
        flag = _boolean(request_value)
        return flag is not None and bool(flag == policy_value)
    if family == "binary":
        try:
            return bool(base64.b64decode(str(request_value), validate=True) == policy_value)
        except (binascii.Error, ValueError):
            return False
    if family == "ip":
        try:
            return ipaddress.ip_address(str(request_value).split("/")[0]) in policy_value
        except ValueError:
            return False
    raise AssertionError(family)


def _ordered(test: str, left: Any, right: Any) -> bool:
    return bool({"eq": left == right, "lt": left < right, "le": left <= right,
                 "gt": left > right, "ge": left >= right}[test])


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _date(value: object) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text), tz=timezone.utc)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _boolean(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return {"true": True, "false": False}.get(text)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return repr(literal(value))
    return str(value)
