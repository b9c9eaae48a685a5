"""The kernel pool: real python3 kernels, started ahead, warmed without leaving anything behind, never reused;
a kernel that cannot start fails its incident with a report and leaves the others alone.
"""

from __future__ import annotations

from pathlib import Path

from kit.batch.incidents import load_incidents
from kit.batch.kernels import KernelPool, imported_modules, notebook_imports
from kit.batch.schedule import BatchOptions, run_incidents
from kit.report.run import notebook_path


def _ask(kernel, expression: str) -> str:
    client = kernel.manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        reply = client.execute_interactive("", user_expressions={"x": expression}, timeout=120, store_history=False)
    finally:
        client.stop_channels()
    return reply["content"]["user_expressions"]["x"]["data"]["text/plain"]


def test_kernels_are_warmed_fresh_and_one_per_incident() -> None:
    import nbformat

    warm = notebook_imports(nbformat.read(str(notebook_path()), as_version=4).cells)
    assert "kit.notebook.investigation" in warm
    with KernelPool(1, budget=2, cwd=notebook_path().parent, warm_modules=warm) as pool:
        first = pool.take()
        second = pool.take()  # started while the first was handed out
        try:
            assert pool.started == 2
            assert first.manager.provisioner.pid != second.manager.provisioner.pid
            assert _ask(first, "'kit.notebook.investigation' in __import__('sys').modules") == "True"
            # the warm-up bound no name and counted no cell
            assert _ask(first, "sorted(k for k in globals() if 'kit' in k.lower())") == "[]"
            assert _ask(first, "get_ipython().execution_count") == "1"
            assert "kit.notebook.investigation" in imported_modules(first)
            pool.learn(first)
            assert pool.learned and "pandas" in pool.warm_modules
        finally:
            first.shutdown()
            second.shutdown()
        assert pool.started == 2  # the budget: no kernel nobody will use


def test_a_kernel_that_cannot_start_fails_its_incidents_with_reports(tmp_path) -> None:
    good = tmp_path / "one.yaml"
    good.write_text("instance_id: i-0123456789abcdef0\nregion: eu-west-1\n")
    broken = tmp_path / "two.yaml"
    broken.write_text("instance_id: nope\n")
    incidents = load_incidents([good, broken], tmp_path / "out")
    outcomes = run_incidents(incidents, BatchOptions(jobs=1, kernel_name="no-such-kernel", progress=False))
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert "KernelStartError" in outcomes[0].error and "no-such-kernel" in outcomes[0].error
    assert "instance_id" in outcomes[1].error
    for outcome in outcomes:
        assert Path(outcome.report).is_file()
