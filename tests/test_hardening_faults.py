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
        from pathlib import Path
        args = argparse.Namespace(params={[str(f) for f in files]!r}, out={str(out)!r}, jobs=2,
                                  no_shared_evidence=False, org_role_arn=None)
        sys.exit(run_batch(args, notebook=Path({str(notebook)!r})))
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



def test_ctrl_c_stops_an_investigation_at_once_and_leaves_no_kernel(tmp_path, stalled_endpoint) -> None:
    """Ctrl-C while a cell runs (collection against an endpoint that accepts connections and never answers,
    so the cell waits for its timeouts): the command stops within seconds, exit 130, no kernel left, nothing
    half-written."""
    out = tmp_path / "report"
    environ = {k: v for k, v in _dead_endpoint_environ().items() if k != "AWS_MAX_ATTEMPTS"}
    environ["AWS_ENDPOINT_URL"] = stalled_endpoint
    command = [sys.executable, "-m", "kit", "investigate", "--instance-id", "i-0123456789abcdef0",
               "--region", "eu-west-1", "--out", str(out)]
    run = subprocess.Popen(command, env=environ, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out.is_dir() and any(out.iterdir())):  # the notebook has started
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()[1][-2000:]
            time.sleep(0.2)
        time.sleep(5)
        kernels = _kernels_of(run.pid)
        run.send_signal(signal.SIGINT)
        try:
            run.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("kit investigate ignored Ctrl-C for 30 s")
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 130
    assert kernels, "no kernel was running when Ctrl-C came"
    time.sleep(1)
    assert _kernels_of(run.pid) == []
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []

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


# 6. Ctrl-C stops the batch: the queue stops, the kernels end, the index of what finished is written.
# 21. A second batch into a folder a running batch holds is refused at once.

QUEUED = ("first", "second", "third", "fourth")


def _kernels_of(pid: int) -> list[int]:
    """Kernel processes started by process `pid` (jupyter_client marks them with JPY_PARENT_PID)."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            if process.environ().get("JPY_PARENT_PID") == str(pid) and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture(scope="module")
def interrupted_batch(tmp_path_factory):
    """`kit batch` on four scenario incidents, one at a time; a second batch into its --out while it runs;
    SIGINT once the first incident's report is written."""
    folder = tmp_path_factory.mktemp("queued")
    files = [_scenario_file(folder, name) for name in QUEUED]
    out = folder / "batch"
    command = [sys.executable, "-m", "kit", "batch", *map(str, files), "--out", str(out), "--jobs", "1"]
    batch = subprocess.Popen(command, env=_environ_without_aws(), cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not (out / QUEUED[0] / "report.html").exists():
            assert batch.poll() is None, batch.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the first incident never finished"
            time.sleep(0.2)
        started = time.monotonic()
        second = subprocess.run([sys.executable, "-m", "kit", "batch", str(files[0]), "--out", str(out)],
                                env=_environ_without_aws(), cwd=ROOT, capture_output=True, text=True, timeout=120)
        second_seconds = time.monotonic() - started
        kernels_before = _kernels_of(batch.pid)
        batch.send_signal(signal.SIGINT)
        sent = time.monotonic()
        try:
            stdout, stderr = batch.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            batch.kill()
            stdout, stderr = batch.communicate()
            pytest.fail(f"kit batch did not stop within 120 s of Ctrl-C: {stderr[-2000:]}")
        stop_seconds = time.monotonic() - sent
        time.sleep(1)
        return {"returncode": batch.returncode, "stdout": stdout, "stderr": stderr, "out": out,
                "stop_seconds": stop_seconds, "second": second, "second_seconds": second_seconds,
                "kernels_before": kernels_before, "kernels_after": _kernels_of(batch.pid)}
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()


def test_ctrl_c_stops_the_queue_ends_the_kernels_and_writes_the_index(interrupted_batch) -> None:
    run = interrupted_batch
    assert run["returncode"] == 130, run["stderr"][-3000:]
    assert run["stop_seconds"] < 60
    summary = json.loads((run["out"] / "summary.json").read_text())
    entries = {e["name"]: e for e in summary["incidents"]}
    assert list(entries) == list(QUEUED)
    assert entries["first"]["status"] == "ok"
    assert entries["fourth"]["status"] == "interrupted"
    finished = [e for e in entries.values() if e["status"] in ("ok", "failed")]
    assert 1 <= len(finished) < len(QUEUED)
    assert summary["counts"]["interrupted"] == len(QUEUED) - len(finished)
    index = (run["out"] / "index.html").read_text()
    assert "interrupted" in index
    assert run["kernels_before"], "no kernel was running when Ctrl-C came: the check below would prove nothing"
    assert run["kernels_after"] == [], f"kernels left running: {run['kernels_after']}"


def test_a_second_batch_into_a_folder_a_running_batch_holds_fails_at_once(interrupted_batch) -> None:
    second = interrupted_batch["second"]
    assert second.returncode == 2, second.stderr[-2000:]
    assert "--out" in second.stderr
    assert interrupted_batch["second_seconds"] < 30


# 21. Reports are replaced whole: the old one stays until the new one is ready, then is renamed over.

def _observing_notebook(folder: Path, seen: Path) -> Path:
    """A notebook whose one cell records which report files its folder holds while it runs."""
    nb = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('instance_id = ""\nregion = ""\nout_dir = ""')
    parameters.metadata["tags"] = ["parameters"]
    look = ("import json, pathlib\n"
            "folder = pathlib.Path(out_dir)\n"
            "names = ('report.html', 'findings.json', 'investigation.ipynb')\n"
            "state = {n: (folder / n).read_text() if (folder / n).exists() else None for n in names}\n"
            f"pathlib.Path({str(seen)!r}).write_text(json.dumps(state))\n")
    nb.cells = [parameters, nbformat.v4.new_code_cell(look)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "observe.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_a_rerun_keeps_the_old_report_until_the_new_one_replaces_it(tmp_path) -> None:
    from kit.params import validate
    from kit.report.run import run_investigation

    seen = tmp_path / "seen.json"
    notebook = _observing_notebook(tmp_path, seen)
    out = tmp_path / "report"
    params = validate({"instance_id": "i-0123456789abcdef0", "region": "eu-west-1"}, require_target=True)
    run_investigation(params, out, notebook=notebook)
    first = {name: (out / name).read_text() for name in ("report.html", "findings.json", "investigation.ipynb")}
    inodes = {name: (out / name).stat().st_ino for name in first}
    run_investigation(params, out, notebook=notebook)
    during = json.loads(seen.read_text())
    assert during["report.html"] == first["report.html"]  # not deleted before the new one was ready
    assert during["findings.json"] == first["findings.json"]
    assert during["investigation.ipynb"] == first["investigation.ipynb"]
    for name, inode in inodes.items():  # each replaced by a rename, not rewritten in place
        assert (out / name).stat().st_ino != inode, name
    assert sorted(p.name for p in out.iterdir()) == ["findings.json", "investigation.ipynb", "report.html"]
    findings = json.loads((out / "findings.json").read_text())
    assert findings["verdict"]["cause"] == "undetermined"  # the old findings were not taken for this run's


def test_batch_pages_and_failure_reports_are_renamed_into_place(tmp_path) -> None:
    from kit.batch.failure import write_failure_report
    from kit.batch.index import write_index
    from kit.batch.summary import write_summary

    summary = {"schema": "kit.batch-summary/1", "counts": {"incidents": 0, "ok": 0, "failed": 0}, "incidents": []}
    paths = [write_summary(summary, tmp_path), write_index(summary, tmp_path),
             write_failure_report(tmp_path / "one", "one.yaml", "BadInput", "first")]
    inodes = [p.stat().st_ino for p in paths]
    again = [write_summary(summary, tmp_path), write_index(summary, tmp_path),
             write_failure_report(tmp_path / "one", "one.yaml", "BadInput", "second")]
    assert again == paths
    assert all(p.stat().st_ino != inode for p, inode in zip(paths, inodes))
    assert "second" in paths[2].read_text()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["index.html", "one", "report.html", "summary.json"]


# 18. Nothing could be read: kit collect and kit investigate exit 1, by the rule the batch counts failures by.

def _dead_endpoint_environ() -> dict[str, str]:
    """Credentials that look fine and an endpoint where nothing answers (a closed port on 127.0.0.1)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return {**_environ_without_aws(), "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-real-secret",
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1"}


def _no_credentials_environ(home: Path) -> dict[str, str]:
    """No credentials anywhere (no variables, no files, no instance metadata); the endpoint is dead too."""
    environ = {k: v for k, v in _dead_endpoint_environ().items() if not k.startswith("AWS_ACCESS_KEY_ID")
               and not k.startswith("AWS_SECRET")}
    return {**environ, "HOME": str(home), "AWS_CONFIG_FILE": str(home / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "none")}


@pytest.mark.parametrize("nothing", ["dead-endpoint", "no-credentials"])
def test_collect_that_read_nothing_exits_1_naming_the_instance_call(tmp_path, nothing) -> None:
    out = tmp_path / "bundle"
    environ = _dead_endpoint_environ() if nothing == "dead-endpoint" else _no_credentials_environ(tmp_path)
    result = subprocess.run([sys.executable, "-m", "kit", "collect", "--instance-id", "i-0123456789abcdef0",
                             "--region", "eu-west-1", "--out", str(out)], env=environ, cwd=ROOT,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 1, (result.returncode, result.stderr[-3000:])
    assert "ec2:DescribeInstances" in result.stderr
    assert ("NoCredentialsError" if nothing == "no-credentials" else "EndpointConnectionError") in result.stderr
    assert (out / "manifest.json").is_file()  # the bundle (its gaps) is still written


def test_investigate_that_read_nothing_exits_1_as_the_batch_counts_it_failed(tmp_path) -> None:
    from kit.batch.schedule import instance_unreadable

    out = tmp_path / "report"
    result = subprocess.run([sys.executable, "-m", "kit", "investigate", "--instance-id", "i-0123456789abcdef0",
                             "--region", "eu-west-1", "--out", str(out)], env=_dead_endpoint_environ(), cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    findings = json.loads((out / "findings.json").read_text())
    assert findings["verdict"]["cause"] == "undetermined"
    assert instance_unreadable(findings)  # the batch would count this incident failed
    assert result.returncode == 1, (result.returncode, result.stderr[-3000:])
    assert "ec2:DescribeInstances" in result.stderr
    assert (out / "report.html").is_file()
