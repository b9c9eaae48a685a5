"""Issue 16 #10/#14 follow-ups: error messages never build a huge repr, and every JSON reader of evidence or
policies survives nesting too deep for Python's parser (a gap, None or BadInput naming the input, never a
RecursionError)."""

from __future__ import annotations

import json

import pytest

from kit.collect.cloudtrail_logs import parse_log
from kit.collect.principal import records_from_lookup
from kit.errors import BadInput
from kit.policy import parse_policy

DEEP = "[" * 200_000 + "]" * 200_000


def test_bad_input_message_is_bounded_for_huge_and_deep_values() -> None:
    nested: list[object] = []
    for _ in range(50_000):
        nested = [nested]
    huge = {"k" * 10: list(range(1_000_000))}
    for value in (nested, huge, "x" * 10_000_000):
        message = str(BadInput("field", "something small", value))
        assert message.startswith("field: expected something small, got ")
        assert len(message) < 250


def test_a_log_file_nested_too_deep_is_not_a_log_file() -> None:
    assert parse_log("deep.json", DEEP.encode()) is None


def test_a_lookup_event_nested_too_deep_is_skipped() -> None:
    good = {"eventID": "1", "eventName": "CreateGrant"}
    document = {"Events": [{"CloudTrailEvent": DEEP}, {"CloudTrailEvent": json.dumps(good)}]}
    assert records_from_lookup(document) == [good]


def test_a_policy_nested_too_deep_is_bad_input_naming_it() -> None:
    with pytest.raises(BadInput, match="key-policy: expected a JSON policy document"):
        parse_policy(DEEP, "key-policy")
