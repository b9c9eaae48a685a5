"""Redaction: mask account ids, the account part of ARNs, IP addresses and access key ids.

A redacted report can be attached to a ticket outside the account's owners. Masking keeps the last
four digits of an account id (`XXXXXXXX3333`), so a reader still tells two accounts apart without
learning either. `redact_text` works on any string, `redact_value` on JSON-like data (keys and
values), `redact_notebook` on a whole notebook (sources, outputs, metadata).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

# 12 digits standing alone: not part of an id like i-0123..., vol-..., a UUID group or a longer number. A hyphen
# before them is allowed (CDK role names, CloudTrail/Config bucket names end `-<account>-...`) unless it ends the
# first four groups of a UUID (key ids, event ids), whose last group may be 12 digits.
_UUID_HEAD = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
ACCOUNT_ID = re.compile(rf"(?<![A-Za-z0-9])(?<!{_UUID_HEAD})([0-9]{{8}})([0-9]{{4}})(?![A-Za-z0-9])")
# AKIA (long-term) and ASIA (session) access keys, plus IAM unique ids (users, roles, ...), which identify too.
ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(AKIA|ASIA|AIDA|AROA|AIPA|ANPA|ANVA|AGPA|APKA)[A-Z0-9]{12,128}(?![A-Z0-9])")
IPV4 = re.compile(r"(?<![0-9.])((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}"
                  r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?![0-9]|\.[0-9])")
# IPv6, including the forms that end in a dotted IPv4 address (`::ffff:10.1.2.3`), masked whole.
IPV6_CANDIDATE = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}(\.[0-9]{1,3}){0,3}(?![\w:]|\.[0-9])")

ACCOUNT_MASK = "XXXXXXXX"
IPV4_MASK = "x.x.x.x"
IPV6_MASK = "x:x:x:x"
KEY_MASK = "[redacted-key-id]"


def redact_text(text: str) -> str:
    """`text` with account ids, IP addresses and access key ids masked."""
    text = ACCESS_KEY_ID.sub(KEY_MASK, text)
    text = IPV6_CANDIDATE.sub(_ipv6, text)
    text = IPV4.sub(IPV4_MASK, text)
    return ACCOUNT_ID.sub(lambda m: ACCOUNT_MASK + m.group(2), text)


def redact_value(value: Any) -> Any:
    """JSON-like `value` (dicts, lists, strings, numbers) with every string, key included, redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_value(k) if isinstance(k, str) else k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and ACCOUNT_ID.fullmatch(str(value)):
        return redact_text(str(value))
    return value


def redact_notebook(nb: Any) -> Any:
    """Redact a notebook (nbformat NotebookNode or plain dict) in place and return it.

    Binary outputs (PNG) cannot be masked after the fact: the kit draws them from redacted data.
    """
    nb["metadata"] = _node_like(nb["metadata"], redact_value(dict(nb["metadata"])))
    for cell in nb["cells"]:
        cell["source"] = redact_text(_joined(cell.get("source", "")))
        if "metadata" in cell:
            cell["metadata"] = _node_like(cell["metadata"], redact_value(dict(cell["metadata"])))
        for output in cell.get("outputs", []):
            if output.get("metadata"):
                output["metadata"] = _node_like(output["metadata"], redact_value(dict(output["metadata"])))
            if "text" in output:
                output["text"] = redact_text(_joined(output["text"]))
            if "traceback" in output:
                output["traceback"] = [redact_text(line) for line in output["traceback"]]
            if "evalue" in output:
                output["evalue"] = redact_text(output["evalue"])
            for mime, payload in list(output.get("data", {}).items()):
                if mime.startswith("image/") and mime != "image/svg+xml":
                    continue
                if isinstance(payload, (str, list)) and not mime.endswith("json"):
                    output["data"][mime] = redact_text(_joined(payload))
                else:
                    output["data"][mime] = _node_like(payload, redact_value(payload))
    return nb


def _ipv6(match: re.Match[str]) -> str:
    candidate = match.group(0)
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return candidate
    return IPV6_MASK


def _joined(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def _node_like(original: Any, value: Any) -> Any:
    """Keep nbformat's attribute-access nodes when the input was one."""
    try:
        from nbformat import from_dict
    except ImportError:  # pragma: no cover - nbformat ships with the kit's dependencies
        return value
    return from_dict(value) if hasattr(original, "keys") and type(original).__name__ == "NotebookNode" else value
