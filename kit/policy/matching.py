"""Wildcard matching for the policy grammar: actions, ARNs (Resource, ArnLike) and plain glob strings.

AWS wildcards are `*` (any run of characters, possibly empty) and `?` (exactly one character).
Actions match case-insensitively; ARNs and strings case-sensitively. ARN patterns match segment by
segment: a wildcard in `arn:partition:service:region:account` never crosses a `:`, while the
resource part (everything after the fifth colon) is one segment that may itself contain colons.
"""

from __future__ import annotations

import re
from functools import lru_cache

from kit.policy.variables import LITERAL_QUESTION, LITERAL_STAR

ARN_SEGMENTS = 6  # arn, partition, service, region, account, resource


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whether `value` matches `pattern`, where `*` and `?` are wildcards (`*` may span any character)."""
    return _compiled(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Whether an Action/NotAction entry (`kms:Create*`, `*`) covers `action` (case-insensitive)."""
    return glob_match(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """ARN matching as ArnLike and the Resource element do it: segment by segment.

    `*` alone matches anything. Otherwise both sides are split into the six ARN segments (the last
    keeps its colons); a value that is not an ARN matches only a pattern equal to it.
    """
    if pattern == "*":
        return True
    pattern_parts = split_arn(pattern)
    value_parts = split_arn(arn)
    if pattern_parts is None or value_parts is None:
        return glob_match(pattern, arn) if pattern_parts is None and value_parts is None else False
    return all(glob_match(p, v) for p, v in zip(pattern_parts, value_parts))


def split_arn(text: str) -> list[str] | None:
    """The six segments of an ARN (`arn:partition:service:region:account:resource`), or None."""
    parts = text.split(":", ARN_SEGMENTS - 1)
    if len(parts) != ARN_SEGMENTS or parts[0] != "arn":
        return None
    return parts


def has_wildcard(text: str) -> bool:
    """Whether `text` contains `*` or `?`."""
    return "*" in text or "?" in text


@lru_cache(maxsize=4096)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    pieces = []
    for char in pattern:
        if char == LITERAL_STAR:
            pieces.append(re.escape("*"))
        elif char == LITERAL_QUESTION:
            pieces.append(re.escape("?"))
        elif char == "*":
            pieces.append(".*")
        elif char == "?":
            pieces.append(".")
        else:
            pieces.append(re.escape(char))
    return re.compile("".join(pieces), re.DOTALL | (re.IGNORECASE if ignore_case else 0))
