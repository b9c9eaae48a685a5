"""The floors of the package hold: no module imports a floor above its own (docs/internals.md, "Floors").

The order is data in pyproject.toml (`[tool.importlinter]`), checked by import-linter's `lint-imports`, which
reads every import statement of every module, those inside functions and under TYPE_CHECKING included. The
other tests here break a copy of the package on purpose and check that the same contract reports it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` run on the package and pyproject.toml under `root` (that copy, not the installed kit)."""
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def test_no_module_imports_a_floor_above_its_own() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_every_module_directly_under_kit_must_be_on_a_floor() -> None:
    floors = _contracts()["floors"]
    assert floors["type"] == "layers" and floors["containers"] == ["kit"] and floors["exhaustive"] is True
    listed = {name.strip("() ") for layer in floors["layers"] for name in layer.replace("|", ":").split(":")}
    on_disk = {path.stem for path in (ROOT / "kit").glob("*.py") if path.stem != "__init__"}
    on_disk |= {path.parent.name for path in (ROOT / "kit").glob("*/__init__.py")}
    assert on_disk <= listed, f"not on a floor: {sorted(on_disk - listed)}"


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of kit/ and pyproject.toml to break on purpose."""
    shutil.copytree(ROOT / "kit", tmp_path / "kit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(("module", "added", "reported"), [
    pytest.param("kit/views/html.py",
                 "\n\ndef _upwards() -> None:\n    from kit.notebook.investigation import Investigation  # noqa\n",
                 ["kit.views is not allowed to import kit.notebook",
                  "kit.views.html -> kit.notebook.investigation"], id="function-level-import"),
    pytest.param("kit/diagnose/timeline.py",
                 "\nimport typing\n\nif typing.TYPE_CHECKING:\n    from kit.views.html import text  # noqa\n",
                 ["kit.diagnose is not allowed to import kit.views", "kit.diagnose.timeline -> kit.views.html"],
                 id="type-checking-import"),
    pytest.param("kit/diagnose/findings.py", "\nimport kit.collect.live  # noqa\n",
                 ["kit.diagnose is not allowed to import kit.collect"], id="independent-siblings"),
    pytest.param("kit/simulate/world.py",
                 "\n\ndef _diagnose() -> None:\n    from kit.diagnose import diagnose  # noqa\n",
                 ["kit.simulate stands apart", "kit.simulate.world -> kit.diagnose"], id="simulate-stands-apart"),
    pytest.param("kit/newbase.py", '"""A module nobody put on a floor."""\n',
                 ["The following modules are not listed as layers", "- kit.newbase"], id="module-on-no-floor"),
])
def test_the_check_reports_a_broken_floor(package_copy: Path, module: str, added: str, reported: list[str]) -> None:
    path = package_copy / module
    path.write_text((path.read_text(encoding="utf-8") if path.exists() else "") + added, encoding="utf-8")
    result = _lint_imports(package_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 kept, 1 broken" in result.stdout
    for text in reported:
        assert text in result.stdout, result.stdout
