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
    return _compiled(pattern, ignore_case).fullmatch(value)


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
def _compiled(pattern: str, ignore_case: bool) -> _Glob:
    """The pattern as the pieces between its `*`s, each a regex of single characters (nothing to backtrack)."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    pieces = pattern.split("*")
    return _Glob([re.compile("".join(_char_regex(c) for c in piece), flags) for piece in pieces],
                 [len(piece) for piece in pieces])


def _char_regex(char: str) -> str:
    if char == LITERAL_STAR:
        return re.escape("*")
    if char == LITERAL_QUESTION:
        return re.escape("?")
    if char == "?":
        return "."
    return re.escape(char)


class _Glob:
    """A glob matched piece by piece: the first piece at the start, the last at the end, the others leftmost.

    Every piece matches exactly as many characters as it has (one per pattern character), so the leftmost
    occurrence of each middle piece is always a right choice and nothing is retried: the time is bounded by
    pattern length times value length (a regex with `.*` per star backtracks exponentially on hostile input).
    """

    def __init__(self, pieces: list[re.Pattern[str]], widths: list[int]) -> None:
        self.pieces = pieces
        self.widths = widths

    def fullmatch(self, value: str) -> bool:
        """Whether `value` matches the whole glob."""
        if len(self.pieces) == 1:
            return self.pieces[0].fullmatch(value) is not None
        start, end = self.widths[0], len(value) - self.widths[-1]
        if end < start or self.pieces[0].match(value, 0, start) is None or self.pieces[-1].match(value, end) is None:
            return False
        for piece, width in zip(self.pieces[1:-1], self.widths[1:-1]):
            if width:
                found = piece.search(value, start, end)
                if found is None:
                    return False
                start = found.end()
        return True
