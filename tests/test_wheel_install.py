"""The kit as a user installs it: a wheel built from this checkout, installed (not editable) into a fresh venv,
runs `kit demo` with the notebook it ships, and carries its data files but no tests or caches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _environment_without_aws() -> dict[str, str]:
    """The process environment minus AWS settings and anything that would put the checkout on sys.path."""
    drop = ("AWS_", "PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_")
    return {name: value for name, value in os.environ.items() if not name.startswith(drop)}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True, text=True, timeout=600)
    (built,) = out.glob("*.whl")
    return built


def test_wheel_ships_the_notebook_and_data_but_no_tests_or_caches(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "kit/notebooks/investigate_instance.ipynb" in names
    for data in ("kit/frames/schemas.json", "kit/collect/readonly_operations.json", "kit/simulate/scenarios/seed.yaml",
                 "kit/diagnose/steps.yaml", "kit/report/findings.schema.json"):
        assert data in names, f"{data} is missing from the wheel"
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n]
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert not [n for n in names if ".ipynb_checkpoints" in n]


@pytest.mark.slow
def test_kit_demo_runs_from_a_wheel_installed_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = _environment_without_aws()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              "-c", str(ROOT / "constraints.txt"), str(wheel)],
                             capture_output=True, text=True, timeout=900, env=env)
    assert install.returncode == 0, install.stderr[-3000:]

    where = subprocess.run([str(python), "-c", "import kit; print(kit.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), f"kit imported from {where}, not from the installed wheel"

    out = tmp_path / "demo"
    demo = subprocess.run([str(venv / "bin" / "kit"), "demo", "--out", str(out)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=900, env=env)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-3000:]
    findings = json.loads((out / "findings.json").read_text())
    assert findings["verdict"]["cause"] == "kms-grant-denied"
    assert "Verdict" in (out / "report.html").read_text()
    assert (out / "investigation.ipynb").is_file()
