"""Data files of kit.diagnose (step metadata, state reasons, lookalikes, denial messages, remediation text)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from kit.errors import BadInput


@lru_cache(maxsize=None)
def load_data(name: str) -> Any:
    """Parse one YAML data file kept beside the code in kit/diagnose/."""
    path = resources.files("kit.diagnose").joinpath(name)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BadInput(f"kit/diagnose/{name}", "a packaged data file") from exc


@lru_cache(maxsize=1)
def load_steps() -> list[dict[str, Any]]:
    """kit/diagnose/steps.yaml: the ordered step catalogue's metadata (id, title, checks, seed_step, ...)."""
    path = resources.files("kit.diagnose").joinpath("steps.yaml")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    steps = document.get("steps") if isinstance(document, dict) else None
    if not isinstance(steps, list) or not steps:
        raise BadInput("kit/diagnose/steps.yaml", "a mapping with a non-empty `steps` list")
    for index, step in enumerate(steps):
        for key in ("id", "title", "checks"):
            if not isinstance(step.get(key), str) or not step[key]:
                raise BadInput(f"kit/diagnose/steps.yaml steps[{index}].{key}", "a non-empty string")
    return steps
