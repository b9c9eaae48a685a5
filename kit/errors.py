"""The kit's own exceptions. Bad input exits 2; the message names the field and what was expected."""

from __future__ import annotations

import reprlib


class KitError(Exception):
    """Base of every error the kit raises on purpose."""

    exit_code = 1


class BadInput(KitError):
    """Input (a file, a parameter, a policy, a bundle) is not what the kit expects.

    `field` names where the problem is (a file name, a parameter, `Statement[2].Condition`),
    `expected` what would have been accepted.
    """

    exit_code = 2

    def __init__(self, field: str, expected: str, got: object | None = None) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        message = f"{field}: expected {expected}"
        if got is not None:
            message += f", got {_short(got)}"
        super().__init__(message)


class ReadOnlyViolation(KitError):
    """A client of the kit tried an AWS operation outside the read-only allow-list."""


def _short(value: object, limit: int = 120) -> str:
    """repr(value) cut to `limit` characters, without building the whole repr of a huge or deep value."""
    bounded = reprlib.Repr()
    bounded.maxlevel, bounded.maxstring, bounded.maxother, bounded.maxlong = 3, limit, limit, limit
    bounded.maxdict = bounded.maxlist = bounded.maxtuple = bounded.maxset = 10
    text = bounded.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
