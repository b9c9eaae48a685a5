"""Issue 16 defects 20 and 19: `kit simulate --port` and `kit investigate --out` are checked (exit 2 naming them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

KIT = Path(sys.prefix) / "bin" / "kit"


def _kit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    try:
        return subprocess.run([str(KIT), *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace")[:300] if isinstance(exc.stdout, bytes) else exc.stdout
        raise AssertionError(f"kit {' '.join(args)} was still running after 60 s; it printed {out!r}") from None


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_simulate_refuses_a_port_out_of_range(tmp_path: Path, port: str) -> None:
    """Before: 99999 silently served on another port (the command ran until killed)."""
    done = _kit("simulate", "--scenario", "seed", "--port", port, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-1500:]
    assert "--port" in done.stderr and "65535" in done.stderr and "Traceback" not in done.stderr
    assert "AWS_ENDPOINT_URL" not in done.stdout


def test_investigate_out_that_is_a_file_exits_2_naming_out(tmp_path: Path) -> None:
    """Before: a traceback and exit 1 (`kit collect` exits 2 for the same mistake)."""
    a_file = tmp_path / "report.txt"
    a_file.write_text("not a folder\n", encoding="utf-8")
    for out in (a_file, a_file / "sub"):
        done = _kit("investigate", "--instance-id", "i-0123456789abcdef0", "--region", "eu-west-1",
                    "--out", str(out), cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-1500:]
        assert "--out" in done.stderr and str(out) in done.stderr


def test_investigate_out_that_cannot_be_created_exits_2_naming_out(tmp_path: Path) -> None:
    out = Path("/proc/kit-cannot-write-here")
    done = _kit("investigate", "--instance-id", "i-0123456789abcdef0", "--region", "eu-west-1",
                "--out", str(out), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-1500:]
    assert "--out" in done.stderr and str(out) in done.stderr
