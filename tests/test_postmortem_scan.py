"""The postmortem from a scan (issue 12): with no batch folder, the postmortem notebook (papermill, headless)
and `kit postmortem --region R --since ISO --out DIR` scan the simulated account for failed launches,
investigate each with `kit batch`, then write the postmortem over that folder. Bad inputs name their field."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from kit.batch.scan_batch import CLI_NAMES, ScanBatch
from kit.errors import BadInput

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("postmortem-scan")]

REGION = "us-west-1"  # a Region no other test seeds into: the scan finds exactly what this module seeds
ROOT = Path(__file__).resolve().parents[1]


def _env(sim) -> dict[str, str]:
    return {**sim.process_environ_without_aws(), **sim.environ(REGION)}


def _kit(sim, *args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kit", *args], env=_env(sim), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def failures(sim):
    """Two failed launches in REGION: a disabled key and an SCP deny."""
    return [sim.seed("key-disabled", region=REGION), sim.seed("key-policy-no-delegation", region=REGION)]


def _since() -> str:
    return (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_kit_postmortem_scans_investigates_and_writes_the_postmortem(sim, failures, tmp_path):
    out = tmp_path / "pm"
    result = _kit(sim, "postmortem", "--region", REGION, "--since", _since(), "--out", str(out), "--jobs", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    page = out / "postmortem.html"
    assert result.stdout.strip().splitlines()[-1] == f"postmortem: {page}"
    scanned = sorted(p.name for p in (out / "scan").glob("*.yaml"))
    assert len(scanned) == 2 and all(s.instance_id in " ".join(scanned) for s in failures)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["incidents"] == 2 and summary["counts"]["ok"] == 2
    causes = sorted(json.loads(f.read_text())["verdict"]["cause"] for f in out.glob("*/findings.json"))
    assert causes == sorted(s.expected["cause"] for s in failures)
    html = page.read_text()
    assert "<h3>Impact</h3>" in html and "2 instances failed to launch" in html and "Postmortem.open" not in html


def test_the_postmortem_notebook_runs_the_scan_when_given_no_batch_folder(sim, failures, tmp_path):
    executed, out = tmp_path / "postmortem.ipynb", tmp_path / "nb"
    parameters = json.dumps({"regions": [REGION], "since": _since(), "out_dir": str(out), "jobs": 2})
    result = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "postmortem.ipynb"),
                             str(executed), "-y", parameters, "--no-progress-bar"], env=_env(sim),
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    nb = nbformat.read(str(executed), as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "2 instances failed to launch" in html and str(out) in html
    assert json.loads((out / "summary.json").read_text())["counts"]["incidents"] == 2
    assert len(list((out / "scan").glob("*.yaml"))) == 2


def test_the_notebook_names_a_bad_parameter(sim, tmp_path):
    executed = tmp_path / "bad.ipynb"
    parameters = json.dumps({"regions": [REGION], "since": "yesterday", "out_dir": str(tmp_path / "x")})
    result = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "postmortem.ipynb"),
                             str(executed), "-y", parameters, "--no-progress-bar"], env=_env(sim),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode != 0 and "BadInput" in result.stderr and "since: expected" in result.stderr
    assert not (tmp_path / "x" / "scan").exists()  # nothing ran


@pytest.mark.parametrize(("args", "field"), [
    (["--region", "nowhere", "--out", "OUT"], "--region"),
    (["--region", REGION, "--since", "last week", "--out", "OUT"], "--since"),
    (["--region", REGION], "--out"),
    (["--account", "123", "--region", REGION, "--role-name", "R", "--out", "OUT"], "--account"),
    (["--region", REGION, "--jobs", "0", "--out", "OUT"], "--jobs"),
    (["--out", "OUT"], "DIR"),
    (["DIRGIVEN", "--region", REGION], "DIR"),
])
def test_kit_postmortem_names_the_bad_option(sim, tmp_path, args, field):
    args = [str(tmp_path / "o") if a == "OUT" else str(tmp_path) if a == "DIRGIVEN" else a for a in args]
    result = _kit(sim, "postmortem", *args, timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"error: {field}: expected" in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("values", "field"), [
    ({"regions": [1], "out_dir": "x"}, "regions"),
    ({"regions": ["eu-west-1"], "accounts": "12", "role_name": "R", "out_dir": "x"}, "accounts"),
    ({"regions": ["eu-west-1"], "until": 5, "out_dir": "x"}, "until"),
    ({"regions": ["eu-west-1"]}, "out_dir"),
    ({"cloudtrail_source": "/no/such/trail", "out_dir": "x"}, "since"),
    ({"regions": ["eu-west-1"], "org_role_arn": "OrgReader", "out_dir": "x"}, "org_role_arn"),
    ({}, "batch_dir"),
])
def test_the_scan_parameters_are_checked_before_anything_runs(values, field):
    with pytest.raises(BadInput) as raised:
        ScanBatch.from_values(**values)
    assert raised.value.field == field
    with pytest.raises(BadInput) as raised:
        ScanBatch.from_values(**values, names=CLI_NAMES)
    assert raised.value.field.startswith("--") or raised.value.field == "DIR"


def test_a_scan_that_finds_no_failure_gives_an_empty_postmortem(sim, tmp_path):
    out = tmp_path / "none"
    result = _kit(sim, "postmortem", "--region", "af-south-1", "--since", _since(), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["counts"]["incidents"] == 0
    assert not list((out / "scan").glob("*.yaml")) and (out / "postmortem.html").exists()


def test_the_management_role_reaches_the_scan():
    """org_role_arn (SCP changes) is written into every parameter file the postmortem's scan writes."""
    arn = "arn:aws:iam::111122223333:role/OrgReader"
    plan = ScanBatch.from_values(regions=["eu-west-1"], out_dir="x", org_role_arn=arn)
    assert plan.request.org_role_arn == arn and plan.args.org_role_arn == arn
