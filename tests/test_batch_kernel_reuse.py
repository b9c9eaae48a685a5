"""Kernel reuse in kit batch: a kernel that served an incident serves the next one in the state it booted in
(real kernels; the batch against the simulated account over HTTP), and reaches the same findings as a
fresh kernel per incident."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.batch.incidents import load_incidents
from kit.batch.kernels import KernelPool, notebook_imports
from kit.batch.schedule import BatchOptions, run_incidents
from kit.report.run import notebook_path
from tests.test_batch_kernels import _ask  # one kernel question helper


def _run(kernel, code: str) -> None:
    client = kernel.manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        reply = client.execute_interactive(code, timeout=120, output_hook=lambda _msg: None)
    finally:
        client.stop_channels()
    assert reply["content"]["status"] == "ok", reply["content"]


MESS = """
import os, sys, warnings, tempfile
import matplotlib
import matplotlib.pyplot as plt
os.environ["KIT_LEFT_BEHIND"] = "1"
os.environ["AWS_DEFAULT_REGION"] = "ap-south-1"
left_behind = 42
os.chdir(tempfile.gettempdir())
sys.path.insert(0, "/nowhere")
warnings.simplefilter("error")
matplotlib.rcParams["figure.dpi"] = 33
plt.figure()
"""


def test_a_reused_kernel_comes_back_in_the_state_it_booted_in() -> None:
    import nbformat

    warm = notebook_imports(nbformat.read(str(notebook_path()), as_version=4).cells)
    with KernelPool(1, budget=3, cwd=notebook_path().parent, warm_modules=warm, reuse=True) as pool:
        kernel = pool.take()
        before = {expr: _ask(kernel, expr) for expr in (
            "sorted(__import__('os').environ.items())", "__import__('os').getcwd()", "list(__import__('sys').path)",
            "len(__import__('warnings').filters)", "__import__('matplotlib').rcParams['figure.dpi']")}
        _run(kernel, MESS)
        _run(kernel, "x = 1")
        assert _ask(kernel, "get_ipython().execution_count") != "1"
        pool.give_back(kernel)
        again = pool.take()
        try:
            assert again is kernel and pool.started == 1  # the same process, no new kernel started
            assert again.incidents == 1
            after = {expr: _ask(again, expr) for expr in before}
            assert after == before
            assert _ask(again, "'left_behind' in globals() or 'x' in globals()") == "False"
            assert _ask(again, "__import__('matplotlib.pyplot').pyplot.get_fignums()") == "[]"
            assert _ask(again, "get_ipython().execution_count") == "1"
            assert _ask(again, "'kit.notebook.investigation' in __import__('sys').modules") == "True"
        finally:
            pool.retire(again, replace=False)
        assert pool.started == 1


def test_a_spare_kernel_serves_the_next_incident_while_the_last_one_resets() -> None:
    with KernelPool(1, budget=3, cwd=notebook_path().parent, reuse=True, spare=1) as pool:
        first = pool.take()  # the spare starts now, not with the first kernel
        assert pool.started == 2
        _run(first, "left_behind = 1")
        second = pool.take()  # ready while the first is still in use: no incident waits for a reset
        try:
            assert second is not first and second.incidents == 0
            assert _ask(second, "'left_behind' in globals()") == "False"
            pool.give_back(first)
            third = pool.take()
            assert third is first and third.incidents == 1  # reset, reused: no third kernel started
            assert _ask(third, "'left_behind' in globals()") == "False"
            assert _ask(third, "get_ipython().execution_count") == "1"
            assert pool.started == 2
        finally:
            pool.retire(second, replace=False)
            pool.retire(first, replace=False)
    with KernelPool(1, budget=1, reuse=True, spare=1) as pool:  # the budget caps the spare too
        only = pool.take()
        try:
            assert pool.started == 1
        finally:
            pool.retire(only, replace=False)


def _comparable(findings: dict) -> dict:
    """findings.json without the moments of the investigation and the collection (the only fields two runs
    may differ in)."""
    kept = {k: v for k, v in findings.items() if k != "investigated_at"}
    kept["evidence_source"] = {k: v for k, v in (kept.get("evidence_source") or {}).items() if k != "collected_at"}
    return kept


@pytest.mark.slow
def test_a_batch_in_reused_kernels_finds_what_fresh_kernels_find(sim, sim_env, tmp_path: Path) -> None:
    names = ("seed", "key-disabled", "scheduler-role")
    params = []
    for name in names:
        seeded = sim.scenario(name)
        path = tmp_path / f"{name}.yaml"
        path.write_text(f"instance_id: {seeded.instance_id}\nregion: {seeded.region}\n")
        params.append(path)
    reused = run_incidents(load_incidents(params, tmp_path / "reused"),
                           BatchOptions(jobs=1, progress=False, reuse_kernels=True))
    fresh = run_incidents(load_incidents(params, tmp_path / "fresh"),
                          BatchOptions(jobs=1, progress=False, reuse_kernels=False))
    assert [o.status for o in reused] == ["ok"] * len(names)
    for name, one, other in zip(names, reused, fresh):
        assert one.findings["verdict"]["cause"] == sim.scenario(name).expected["cause"]
        assert _comparable(one.findings) == _comparable(other.findings), name
        executed = json.loads(Path(one.notebook).read_text())
        counts = [c["execution_count"] for c in executed["cells"] if c["cell_type"] == "code"]
        assert counts[0] == 1, f"{name}: the notebook did not run as in a new kernel ({counts[:3]})"
