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
