"""The pinned dependency set is the same in pyproject.toml, environment.yml and constraints.txt."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>!~ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {_name(r): r for r in requirements}


def test_every_pyproject_dependency_is_pinned_exactly() -> None:
    for name, requirement in _pyproject_pins().items():
        assert re.search(r"==[0-9][^,;]*$", requirement), f"{name} is not pinned with ==: {requirement!r}"


def test_environment_yml_has_the_same_pins_as_pyproject() -> None:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip: section"
    conda_pins = {_name(r): r for r in pip_sections[0]}
    assert conda_pins == _pyproject_pins()
    assert "python=3.11" in environment["dependencies"]


def test_constraints_agree_with_pyproject_pins() -> None:
    constraints = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            constraints[_name(name)] = version
    for name, requirement in _pyproject_pins().items():
        pinned = requirement.rsplit("==", 1)[1]
        assert constraints.get(name) == pinned, f"constraints.txt pins {name} at {constraints.get(name)}, pyproject at {pinned}"
