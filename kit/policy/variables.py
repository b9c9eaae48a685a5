"""Policy variables (`${aws:username}`, `${aws:PrincipalTag/team}`, `${*}`, `${key, 'default'}`).

Substituted into Resource/NotResource and into the values of String and Arn conditions, only in
policies whose Version is 2012-10-17 (in 2008-10-17 `${...}` is literal text). `${*}`, `${?}` and
`${$}` stand for the literal characters; the literal `*` and `?` come back as private-use marks that
the wildcard matcher treats as plain characters. A variable whose key is absent (or multivalued) and
has no default leaves the element unresolved: it then matches nothing.
Source: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping

LITERAL_STAR = "\ue000"
LITERAL_QUESTION = "\ue001"
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,]*?)\s*,\s*'([^']*)'\s*$")
_SPECIAL = {"*": LITERAL_STAR, "?": LITERAL_QUESTION, "$": "$"}


def substitute(text: str, context: Mapping[str, str | list[str]]) -> str | None:
    """`text` with every policy variable replaced from `context` (keys lower-cased), or None if one is unresolved."""
    if "${" not in text:
        return text
    unresolved = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unresolved
        inner = match.group(1)
        if inner.strip() in _SPECIAL:
            return _SPECIAL[inner.strip()]
        default = None
        with_default = _DEFAULT.match(inner)
        if with_default:
            inner, default = with_default.group(1), with_default.group(2)
        value = context.get(inner.strip().lower())
        if isinstance(value, str):
            return value
        if default is not None:
            return default
        unresolved = True
        return ""

    result = _VARIABLE.sub(replace, text)
    return None if unresolved else result


def literal(text: str) -> str:
    """Turn the private-use marks of `${*}` / `${?}` back into plain characters (for exact comparisons)."""
    return text.replace(LITERAL_STAR, "*").replace(LITERAL_QUESTION, "?")
