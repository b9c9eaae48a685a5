"""Issue 16 #12: an endpoint that accepts connections and never answers. `kit collect` says what it is doing,
fails within a bounded time (the first call's short timeouts, one retry) with one gap naming the endpoint and
what to check, and exits 1 as the batch would count it failed; no minutes of silent retries per call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_collect_against_an_endpoint_that_never_answers_fails_in_bounded_time(tmp_path: Path,
                                                                              stalled_endpoint: str) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ.update({"AWS_ENDPOINT_URL": stalled_endpoint, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_EC2_METADATA_DISABLED": "true"})
    out = tmp_path / "bundle"
    try:
        result = subprocess.run([sys.executable, "-m", "kit", "collect", "--instance-id", "i-0123456789abcdef0",
                                 "--region", "eu-west-1", "--out", str(out)], env=environ, cwd=ROOT,
                                capture_output=True, text=True, timeout=150)
    except subprocess.TimeoutExpired:
        pytest.fail("kit collect was still waiting on a silent endpoint after 150 s")
    assert result.returncode == 1, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    assert lines[0].startswith("kit collect: reading i-0123456789abcdef0 in eu-west-1"), "it says what it does first"
    assert "AWS did not answer at " + stalled_endpoint in result.stderr
    assert "AWS_ENDPOINT_URL" in result.stderr and "ReadTimeoutError" in result.stderr
    assert "the instance could not be read" in result.stderr
    assert (out / "manifest.json").is_file(), "the bundle with its gaps is still written"
