"""Issue 16, faults: a kernel that dies, a batch interrupted, a session that is not guarded, reports written
half-way, and a run that read nothing reported as a success.

Every test runs the real code (real kernels, the real notebook or a copy of it with one extra cell, the
simulated account or a closed port) in a subprocess where a hang is possible, with a timeout as the guard.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from kit.report.run import notebook_path

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hardening-faults")]

ROOT = Path(__file__).resolve().parents[1]
KILL_CELL = ("import os, signal\n"
             "if str(out_dir).rstrip('/').endswith('dies'):\n"
             "    os.kill(os.getpid(), signal.SIGKILL)  # what the out-of-memory killer does\n")


def _environ_without_aws() -> dict[str, str]:
    """This process's environment without AWS settings: a scenario notebook starts its own simulated account."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def _killing_notebook(folder: Path) -> Path:
    """The investigation notebook with one cell after the parameters: the kernel kills itself when its
    incident's folder is named `dies`, and runs the real investigation otherwise."""
    nb = nbformat.read(str(notebook_path()), as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(KILL_CELL))
    path = folder / "investigate_instance.ipynb"
    nbformat.write(nb, str(path))
    return path


def _scenario_file(folder: Path, name: str, scenario: str = "seed") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"scenario: {scenario}\ninteractive: false\n", encoding="utf-8")
    return path


def _run_python(code: str, *, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env or _environ_without_aws(), cwd=ROOT)


# 1. A kernel that dies fails its incident at once, with a report; the batch goes on.

def test_a_kernel_killed_mid_run_fails_its_incident_and_the_batch_goes_on(tmp_path) -> None:
    notebook = _killing_notebook(tmp_path)
    files = [_scenario_file(tmp_path, "dies"), _scenario_file(tmp_path, "lives")]
    out = tmp_path / "batch"
    code = f"""
        import argparse, sys
        from kit.batch.command import run_batch
        args = argparse.Namespace(params={[str(f) for f in files]!r}, out={str(out)!r}, jobs=2,
                                  notebook={str(notebook)!r}, no_progress=True, no_shared_evidence=False)
        sys.exit(run_batch(args))
    """
    try:
        result = _run_python(code, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail("kit batch hung on a kernel that died")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert (out / "index.html").is_file()
    entries = {e["name"]: e for e in summary["incidents"]}
    assert entries["dies"]["status"] == "failed"
    assert "DeadKernelError" in entries["dies"]["error"]
    report = (out / entries["dies"]["report"]).read_text()
    assert "DeadKernelError" in report
    assert entries["lives"]["status"] == "ok", entries["lives"]["error"]
    assert entries["lives"]["cause"] == "kms-grant-denied"


def test_investigate_fails_at_once_when_its_kernel_dies(tmp_path) -> None:
    notebook = _killing_notebook(tmp_path)
    out = tmp_path / "dies"
    code = f"""
        import sys, time
        from kit.params import validate
        from kit.report.run import run_investigation
        params = validate({{"instance_id": "i-0123456789abcdef0", "region": "eu-west-1"}}, require_target=True)
        started = time.monotonic()
        result = run_investigation(params, {str(out)!r}, notebook={str(notebook)!r})
        print(result.error_name, round(time.monotonic() - started))
        sys.exit(result.exit_code)
    """
    try:
        result = _run_python(code, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail("the investigation hung on a kernel that died")
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stdout.split()[0] == "DeadKernelError"
    findings = json.loads((out / "findings.json").read_text())
    assert findings["verdict"]["cause"] == "undetermined"
    assert any(g["error"] == "DeadKernelError" for g in findings["gaps"])
    assert "DeadKernelError" in (out / "report.html").read_text()


# 22. Every client made from make_session() is guarded, not only those ReadOnlyClients makes.

def _role_to_read_with(sim) -> str:
    from tests.test_collect_readonly import plain

    iam = plain(sim, "iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}
    try:
        return iam.get_role(RoleName="kit-collect-reader")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName="kit-collect-reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


@pytest.mark.parametrize("as_role", [False, True], ids=["credential-chain", "role-arn"])
def test_a_client_made_from_make_session_refuses_mutations_before_sending(sim, sim_env, as_role) -> None:
    from kit.collect.clients import make_session
    from kit.errors import ReadOnlyViolation
    from tests.test_collect_readonly import world_state

    seed = sim.scenario("seed")
    before = world_state(sim, seed)
    session = make_session(region=seed.region, role_arn=_role_to_read_with(sim) if as_role else None)
    ec2, kms = session.client("ec2"), session.client("kms")
    sent: list[str] = []
    for client in (ec2, kms):
        client.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    with pytest.raises(ReadOnlyViolation):
        ec2.terminate_instances(InstanceIds=[seed.instance_id])
    with pytest.raises(ReadOnlyViolation):
        kms.put_key_policy(KeyId=seed.expected["key_arn"], PolicyName="default",
                           Policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
    with pytest.raises(ReadOnlyViolation):
        session.resource("ec2").Instance(seed.instance_id).terminate()
    assert sent == []
    assert world_state(sim, seed) == before
    # reads still work, through the same session
    assert ec2.describe_instances(InstanceIds=[seed.instance_id])["Reservations"]
    assert kms.describe_key(KeyId=seed.expected["key_arn"])["KeyMetadata"]["KeyState"]
    assert len(sent) == 2
