"""Gaps, not crashes: a failed collection call becomes a `Gap` saying what is lost and how to fill it."""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore import xform_name

from kit.evidence import Gap

_XML_CODE = re.compile(r"<Code>([\w.]+)</Code>")
_XML_MESSAGE = re.compile(r"<Message>(.*?)</Message>", re.S)
SKIPPED_CLI_PARAMS = frozenset({"NextToken", "Marker", "MaxResults", "MaxItems", "MaxRecords", "Limit",
                                "PaginationConfig"})


@lru_cache(maxsize=1)
def _impacts() -> dict[str, str]:
    text = resources.files("kit.collect").joinpath("gap_impacts.json").read_text(encoding="utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def error_code(exc: BaseException) -> str:
    """The AWS error code of a failed call (`AccessDeniedException`, ...), or the exception's class name."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "ClientError")
        # an XML error body where JSON was expected (some proxies and emulators): botocore reports only
        # the HTTP status; the real code is in the body
        embedded = _XML_CODE.search(str(error.get("Message") or "")) if code.isdigit() else None
        return embedded.group(1) if embedded else code
    if isinstance(exc, BotoCoreError):
        return type(exc).__name__
    return type(exc).__name__


def gap_for(operation: str, params: dict[str, Any], region: str, *, error: str, target: str = "",
            impact: str | None = None) -> Gap:
    """The gap a failed (or skipped) `operation` leaves, with the AWS CLI command that would fill it."""
    text = impact or _impacts().get(operation, f"the result of {operation} is unknown")
    return Gap(call=operation, error=error, impact=text.replace("{target}", target or "the target"),
               next_step=cli_command(operation, params, region))


def gap_from_exception(operation: str, params: dict[str, Any], region: str, exc: BaseException,
                       *, target: str = "") -> Gap:
    """The gap a call that raised `exc` leaves."""
    code = error_code(exc)
    gap = gap_for(operation, params, region, error=code, target=target,
                  impact=_impacts().get(f"{operation}#{code}"))
    message = str(exc)
    if isinstance(exc, ClientError):
        message = str(exc.response.get("Error", {}).get("Message") or "")
        embedded = _XML_MESSAGE.search(message)
        message = embedded.group(1) if embedded else message
    if message:
        return Gap(call=gap.call, error=gap.error, impact=f"{gap.impact} ({message[:300]})",
                   next_step=gap.next_step)
    return gap


def cli_command(operation: str, params: dict[str, Any], region: str) -> str:
    """The AWS CLI command equivalent to one call: `aws kms get-key-policy --key-id ... --region ...`."""
    service, name = operation.split(":", 1)
    parts = ["aws", service, xform_name(name, "-")]
    for key, value in params.items():
        if key in SKIPPED_CLI_PARAMS or value is None:
            continue
        parts.append("--" + xform_name(key, "-"))
        parts.extend(_cli_values(value))
    parts += ["--region", region]
    return " ".join(parts)


def _cli_values(value: Any) -> list[str]:
    if isinstance(value, list):
        return [_cli_scalar(item) for item in value]
    return [_cli_scalar(value)]


def _cli_scalar(value: Any) -> str:
    if isinstance(value, dict):  # shorthand: Name=x,Values=a,b
        items = []
        for key, item in value.items():
            text = ",".join(map(str, item)) if isinstance(item, list) else str(item)
            items.append(f"{key}={text}")
        return shlex.quote(",".join(items))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    return shlex.quote(str(value))
