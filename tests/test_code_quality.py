"""ruff and mypy pass over the code (configured in pyproject.toml: [tool.ruff], [tool.mypy])."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing_in_kit_tests_and_bench() -> None:
    result = _run(str(BIN / "ruff"), "check", "--no-cache", "kit", "tests", "bench")
    assert result.returncode == 0, f"ruff check failed:\n{result.stdout}\n{result.stderr}"


def test_mypy_passes_over_kit_strict_on_policy_and_diagnose() -> None:
    result = _run(str(BIN / "mypy"))  # files and options: [tool.mypy]
    assert result.returncode == 0, f"mypy failed:\n{result.stdout}\n{result.stderr}"
    assert "Success" in result.stdout
