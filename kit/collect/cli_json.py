"""Turn a boto3 response into the document the AWS CLI prints with `--output json`.

No `ResponseMetadata`, datetimes as ISO 8601 strings, bytes as base64 (as the CLI prints blobs),
paginated results already merged by botocore's `build_full_result` (the CLI merges pages the same way).
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Any


def cli_document(response: dict[str, Any]) -> dict[str, Any]:
    """The CLI-shaped copy of one (merged) response."""
    return {key: _plain(value) for key, value in response.items() if key != "ResponseMetadata"}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "read"):  # a streaming body that slipped through
        return base64.b64encode(value.read()).decode("ascii")
    return value


MAX_DEPTH = 100  # AWS CLI outputs nest a few dozen levels at most; deeper input would exhaust recursion later


def check_depth(document: Any, limit: int = MAX_DEPTH) -> None:
    """Raise ValueError when `document` nests lists/objects deeper than `limit` (checked without recursion)."""
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                raise ValueError(f"nested more than {limit} levels deep")
            pending.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
