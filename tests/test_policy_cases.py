"""Every authorization case in /work/shared/data/iam/cases.json (AWS-documented outcomes) through kit.policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.policy import evaluate
from kit.policy.case import load_case

CASES_FILE = Path("/work/shared/data/iam/cases.json")
CASES = json.loads(CASES_FILE.read_text())["cases"]


# The layer for the implicit denies whose case gives no detail, with the reason from the case's `why`.
IMPLICIT_LAYER = {
    "ebs-doc-creategrant-direct-call-key-absent": "identity-policy",   # key policy delegates; Bool fails
    "ebs-doc-creategrant-for-aws-resource-false": "identity-policy",   # key policy delegates; Bool fails
    "keypolicy-root-delegation-absent-identity-only": "key-policy",    # key policy neither names nor delegates
    "awsebs-key-other-account": "key-policy",                          # kms:CallerAccount condition fails
}


def _layer_from_detail(detail: str) -> str | None:
    text = detail.lower()
    if "scp" in text:
        return "scp"
    if "boundary" in text:
        return "permissions-boundary"
    if "root delegation" in text and "no identity allow" in text:
        return "identity-policy"
    return None


def test_the_shared_cases_are_all_here() -> None:
    assert len(CASES) >= 18


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_shared_case(case: dict) -> None:
    request, policies = load_case(case)
    decision = evaluate(request, policies)
    assert decision.decision == case["expected"], "\n".join(decision.explanation)
    expected = case.get("decided_by") or {}
    kind = expected.get("kind")
    text = "\n".join(decision.explanation) + "\n" + (decision.statement or "")
    if kind == "allow":
        assert decision.decided_by == "allowed"
        assert decision.layer is None and not decision.explicit
    elif kind == "explicit_deny":
        assert decision.decided_by == "explicit-deny" and decision.explicit
        assert decision.layer in ("identity-policy", "key-policy", "permissions-boundary", "scp", "session-policy")
    elif kind == "implicit_deny":
        assert decision.decided_by != "explicit-deny" and not decision.explicit
        assert decision.decided_by == decision.layer
        layer = _layer_from_detail(expected.get("detail", "")) or IMPLICIT_LAYER.get(case["id"])
        if layer:
            assert decision.decided_by == layer, text
    # the statement that decided is named
    for sid_field in ("key_policy_sid", "identity_sid"):
        if sid_field in expected:
            assert f'"{expected[sid_field]}"' in (decision.statement or ""), text
    if "key_policy_statement" in expected:
        assert f"key-policy Statement[{expected['key_policy_statement']}]" in (decision.statement or ""), text
    if "identity_statement" in expected:
        assert f"Statement[{expected['identity_statement']}]" in (decision.statement or ""), text
    assert decision.explanation[0].startswith("Request: ")
    assert decision.explanation[-1].startswith("Decision: ")


def test_every_implicit_deny_has_a_layer_to_check() -> None:
    for case in CASES:
        if case["decided_by"]["kind"] == "implicit_deny":
            assert _layer_from_detail(case["decided_by"].get("detail", "")) or case["id"] in IMPLICIT_LAYER, case["id"]


def test_the_cases_cover_allow_and_each_kind_of_deny() -> None:
    kinds = {c["decided_by"]["kind"] for c in CASES}
    assert {"allow", "implicit_deny", "explicit_deny"} <= kinds
