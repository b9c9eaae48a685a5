"""Issue 16 defect 2: an unreadable parameter file is one failed incident, never the whole batch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]


def test_unreadable_parameter_files_fail_alone_and_the_batch_goes_on(tmp_path: Path) -> None:
    """Before: the file that is not UTF-8 raised UnicodeDecodeError out of `kit batch` (exit 1, nothing written)."""
    folder = tmp_path / "params"
    folder.mkdir()
    good = folder / "good.yaml"
    shutil.copy(ROOT / "parameters/seed.yaml", good)  # its own simulated account: no AWS_ENDPOINT_URL below
    latin = folder / "latin.yaml"
    latin.write_bytes(b"instance_id: i-0123456789abcdef0\nregion: eu-west-1\nprofile: caf\xe9\n")
    a_list = folder / "list.yaml"
    a_list.write_text("- instance_id\n- region\n", encoding="utf-8")
    a_folder = folder / "folder.yaml"
    a_folder.mkdir()
    files = [latin, good, a_folder, a_list]
    out = tmp_path / "batch"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run([sys.executable, "-m", "kit", "batch", *map(str, files), "--out", str(out), "--jobs", "1"],
                            env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 0, result.stderr[-3000:]  # README: 0 when the batch did its job
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"] == {"incidents": 4, "ok": 1, "failed": 3}
    entries = {Path(e["params_file"]).name: e for e in summary["incidents"]}
    assert entries["good.yaml"]["status"] == "ok" and entries["good.yaml"]["cause"] == "kms-grant-denied"
    assert "UTF-8" in entries["latin.yaml"]["error"]
    assert "readable" in entries["folder.yaml"]["error"]
    assert "mapping" in entries["list.yaml"]["error"]
    index = (out / "index.html").read_text(encoding="utf-8")
    for name, entry in entries.items():
        assert entry["report"] and entry["report"] in index and (out / entry["report"]).is_file()
        if entry["status"] == "failed":
            assert name in index and f"{name}: failed" in result.stderr
