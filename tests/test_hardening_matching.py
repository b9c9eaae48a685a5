"""Issue 16 defect 7: wildcard matching must stay linear on hostile patterns (no exponential backtracking)."""

from __future__ import annotations

import subprocess
import sys

from kit.policy.matching import action_matches, arn_matches, glob_match

_SCRIPT = """
from kit.policy.matching import glob_match, arn_matches
pattern, text, arn = "*a" * 40 + "*b", "a" * 3000, "arn:aws:kms:eu-west-1:1:key/"
print(glob_match(pattern, text), glob_match(pattern, text + "b"), arn_matches(arn + pattern, arn + text))
"""


def test_hostile_wildcard_pattern_is_matched_without_backtracking_blowup() -> None:
    """40 stars against 3000 characters: the old regex translation backtracked for hours; a linear matcher answers."""
    try:
        done = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("matching a 40-star pattern against 3000 characters took more than 20 s") from None
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "False"]


def test_matching_rules_are_kept() -> None:
    assert glob_match("a*b?c", "aXXbYc")
    assert not glob_match("a*b?c", "aXXbc")
    assert glob_match("*", "")
    assert glob_match("**", "x")
    assert not glob_match("?", "")
    assert glob_match("a\ue000b", "a*b")  # ${*} is a literal star
    assert not glob_match("a\ue000b", "axb")
    assert glob_match("a\ue001", "a?")
    assert not glob_match("a\ue001", "ax")
    assert glob_match("x*y*z", "x\ny\nz")  # `*` spans newlines
    assert not glob_match("ABC", "abc")
    assert glob_match("ABC", "abc", ignore_case=True)
    assert action_matches("KMS:create*", "kms:CreateGrant")
    assert not action_matches("kms:Create*", "kms:DescribeKey")
    assert arn_matches("arn:aws:kms:*:*:key/*", "arn:aws:kms:eu-west-1:123456789012:key/abc")
    assert not arn_matches("arn:aws:kms:*:*:key/*", "arn:aws:kms:eu-west-1:123456789012:alias/abc")
    assert glob_match("ab*ba", "aba") is False  # segments may not overlap
    assert glob_match("ab*ba", "abba")
    assert glob_match("*ab*ab*", "xabyab")
    assert not glob_match("*ab*ab*", "xaby")
