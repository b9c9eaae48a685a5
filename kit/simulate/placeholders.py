"""{{name}} placeholders in scenario data, resolved when a scenario is seeded."""

from __future__ import annotations

from typing import Any


def resolve(value: Any, values: dict[str, str]) -> Any:
    """Replace {{name}} placeholders in every string of a YAML value (unknown ones stay)."""
    if isinstance(value, str):
        for name, replacement in values.items():
            value = value.replace("{{" + name + "}}", replacement)
        return value
    if isinstance(value, dict):
        return {resolve(k, values): resolve(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, values) for v in value]
    return value


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """{"k": "v"} as AWS's [{"Key": "k", "Value": "v"}]."""
    return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
