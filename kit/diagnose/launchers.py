"""Launcher classes: a person, a CI role via web identity, a scheduler, Auto Scaling / Spot / Fleet service-linked
roles, an EKS cluster role, Batch / EMR / Backup / Service Catalog / Image Builder service roles, ...

The classes are data (`launchers.yaml`, first match wins); this module only reads them and matches the facts
CloudTrail gives about a launcher. The class decides the words the verdict uses for the launcher and who can
apply the fix (kit.diagnose.remediation reads `LauncherClass.fix` / `fix_owner`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

FACT_NAMES = ("kind", "role_path", "name", "invoked_by", "user_agent", "web_identity", "session_name")


@dataclass(frozen=True)
class LauncherFacts:
    """What the evidence says about a launcher (None: not known)."""

    kind: str
    name: str
    role_path: str | None = None
    invoked_by: str | None = None
    user_agent: str | None = None
    web_identity: str | None = None  # the OIDC provider of an AssumeRoleWithWebIdentity session
    session_name: str | None = None


@dataclass(frozen=True)
class LauncherClass:
    """One class of the catalogue, for one launcher."""

    id: str
    label: str  # with the launcher's name filled in
    fix_owner: str
    fix: str  # identity-policy | key-policy | grant

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "label": self.label, "fix_owner": self.fix_owner, "fix": self.fix}


@dataclass(frozen=True)
class _Entry:
    id: str
    label: str
    fix_owner: str
    fix: str
    when: tuple[tuple[tuple[str, re.Pattern[str]], ...], ...]


@cache
def catalogue() -> tuple[_Entry, ...]:
    """The launcher classes, in matching order."""
    text = resources.files("kit.diagnose").joinpath("launchers.yaml").read_text(encoding="utf-8")
    out = []
    for spec in (yaml.safe_load(text) or {}).get("classes") or []:
        alternatives = []
        for alternative in spec.get("when") or []:
            unknown = set(alternative) - set(FACT_NAMES)
            if unknown:
                raise ValueError(f"launchers.yaml {spec['id']}: unknown conditions {sorted(unknown)}")
            alternatives.append(tuple((k, re.compile(str(v), re.IGNORECASE)) for k, v in alternative.items()))
        out.append(_Entry(str(spec["id"]), str(spec["label"]), str(spec["fix_owner"]), str(spec["fix"]),
                          tuple(alternatives)))
    return tuple(out)


def class_ids() -> list[str]:
    """Every class id, in matching order."""
    return [entry.id for entry in catalogue()]


def classify(facts: LauncherFacts) -> LauncherClass:
    """The first class of the catalogue whose conditions the facts meet."""
    values: dict[str, Any] = {name: getattr(facts, name) for name in FACT_NAMES}
    for entry in catalogue():
        for alternative in entry.when:
            if all(values.get(k) and pattern.search(str(values[k])) for k, pattern in alternative):
                return LauncherClass(entry.id, entry.label.format(name=facts.name), entry.fix_owner, entry.fix)
    return LauncherClass("unknown", f"the principal {facts.name}", "the principal's owners", "identity-policy")
