"""Short names of AWS ARNs for tables: the resource part a person recognises; the full ARN goes on hover."""

from __future__ import annotations

from typing import Any

_KEY_ID_SHOWN = 8  # characters of a key id shown (the full ARN is on hover)


def short_name(value: Any) -> str:
    """arn:aws:iam::1:role/path/x -> role/x; arn:aws:kms:r:1:key/abcd... -> key/abcd1234…; others as they are."""
    if value is None:
        return ""
    arn = str(value)
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return arn
    service, resource = parts[2], parts[5]
    if service in ("iam", "sts"):
        kind, _, rest = resource.partition("/")
        name = rest.rsplit("/", 1)[-1] if kind != "assumed-role" else rest
        return f"{kind}/{name}" if rest else resource
    if service == "kms" and resource.startswith("key/"):
        key_id = resource[len("key/"):]
        return f"key/{key_id[:_KEY_ID_SHOWN]}…" if len(key_id) > _KEY_ID_SHOWN else resource
    return resource
