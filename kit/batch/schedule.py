"""Running a batch: every incident in its own fresh kernel, `jobs` at a time, kernels started ahead.

The single-incident run (parameterise, execute, export, findings.json) is kit.report.run's
`run_investigation`; this module only decides which kernel and which evidence each run gets, keeps
going when one fails, and counts progress.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kit.batch.failure import write_failure_report
from kit.batch.incidents import Incident, Outcome
from kit.batch.kernels import Kernel, KernelPool, notebook_imports
from kit.params import InvestigationParameters

INSTANCE_CALL = "ec2:DescribeInstances"  # the gap that means the instance itself could not be read

# Prepares an incident's parameters before its notebook runs (e.g. collects shared evidence into a bundle
# and points `source` at it); returns the parameters to run with.
Prepare = Callable[[Incident], InvestigationParameters]


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs."""

    jobs: int = 2
    notebook: Path | None = None  # default: kit.report.run.notebook_path()
    kernel_name: str = "python3"
    warm_up: bool = True  # pre-import the notebook's modules in each kernel before it is handed out
    progress: bool = True  # tqdm bar on stderr
    collectors: int = 0  # incidents whose shared evidence is collected at once (0: as many as jobs, at least 2)


def run_incidents(incidents: Sequence[Incident], options: BatchOptions,
                  prepare: Prepare | None = None) -> list[Outcome]:
    """Investigate every usable incident (at most `jobs` at once); a failure report for each unusable one.

    Outcomes come back in the incidents' order. One incident failing (bad parameters, missing instance,
    a cell that raises, a kernel that dies) never affects the others.
    """
    from kit.report.run import notebook_path

    notebook = Path(options.notebook or notebook_path())
    usable = [i for i in incidents if i.usable]
    outcomes: dict[int, Outcome] = {}
    progress = _progress(len(incidents), options.progress)
    lock = threading.Lock()

    def done(index: int, outcome: Outcome) -> None:
        with lock:
            outcomes[index] = outcome
            progress.update(1)
            if outcome.status == "failed":
                progress.set_postfix_str(f"failed: {outcome.incident.name}", refresh=False)

    for index, incident in enumerate(incidents):
        if not incident.usable:
            done(index, unusable_outcome(incident))

    if usable:
        warm = notebook_warm_modules(notebook) if options.warm_up else []
        jobs = max(1, min(options.jobs, len(usable)))
        with KernelPool(jobs, budget=len(usable), kernel_name=options.kernel_name, cwd=notebook.parent,
                        warm_modules=warm, learn=options.warm_up) as pool, \
                ThreadPoolExecutor(options.collectors or max(2, jobs), thread_name_prefix="kit-collect") as collectors, \
                ThreadPoolExecutor(jobs, thread_name_prefix="kit-batch") as workers:
            # Evidence is prepared ahead (in incident order), while kernels start and notebooks run.
            prepared = {index: collectors.submit(prepare, incident) if prepare else None
                        for index, incident in enumerate(incidents) if incident.usable}
            futures = {workers.submit(_investigate, incidents[index], pool, notebook, ready): index
                       for index, ready in prepared.items()}
            for future in as_completed(futures):
                done(futures[future], future.result())
    progress.close()
    return [outcomes[i] for i in range(len(incidents))]


def unusable_outcome(incident: Incident) -> Outcome:
    """A parameter file that could not be used: a failure report saying why, no investigation."""
    report = write_failure_report(incident.out_dir, incident.params_file, "BadInput", incident.error or "unusable")
    return Outcome(incident, "failed", error=incident.error, report=report)


def notebook_warm_modules(notebook: Path) -> list[str]:
    """The modules the notebook imports (pre-imported in each kernel while it waits for its incident)."""
    import nbformat

    try:
        nb = nbformat.read(str(notebook), as_version=4)
    except Exception:  # noqa: BLE001 - an unreadable notebook fails each run with its own report
        return []
    return notebook_imports(nb.cells)


def _investigate(incident: Incident, pool: KernelPool, notebook: Path,
                 prepared: Future[InvestigationParameters] | None) -> Outcome:
    """Wait for its evidence, take a fresh kernel, run the notebook in it, read what it wrote; never raises."""
    from kit.report.run import run_investigation

    clock = _Clock()
    assert incident.params is not None
    params = incident.params
    notes: list[str] = []
    if prepared is not None:
        try:
            params = prepared.result()
            if params.source != incident.params.source:
                notes.append(f"evidence: {params.source}")
        except Exception as exc:  # noqa: BLE001 - the notebook then collects on its own
            notes.append(f"shared evidence unavailable ({type(exc).__name__}: {exc}); the notebook collected itself")
            params = incident.params
        clock.lap("evidence")
    kernel = None
    try:
        kernel = pool.take()
        clock.lap("kernel")
        result = run_investigation(replace(params, out_dir=str(incident.out_dir)), incident.out_dir,
                                   km=kernel.manager, notebook=notebook)
        clock.lap("notebook")
    except Exception as exc:  # noqa: BLE001 - recorded as this incident's failure, the batch goes on
        error: str | None = f"{type(exc).__name__}: {exc}"
        report = write_failure_report(incident.out_dir, incident.params_file, type(exc).__name__, str(exc),
                                      detail="".join(traceback.format_exception_only(exc)))
        return Outcome(incident, "failed", error=error, report=report, seconds=clock.total(), notes=notes,
                       timings=clock.laps)
    finally:
        if kernel is not None:
            threading.Thread(target=_retire, args=(pool, kernel), name="kit-kernel-stop", daemon=False).start()
    out = Path(result.out_dir)
    error = f"{result.error_name}: {result.error_value}" if result.failed else instance_unreadable(result.findings)
    status = "failed" if error else "ok"
    return Outcome(incident, status, findings=result.findings, error=error, report=out / "report.html",
                   findings_file=out / "findings.json", notebook=out / "investigation.ipynb",
                   seconds=clock.total(), notes=notes, timings=clock.laps)


class _Clock:
    """Seconds spent per stage of one incident (waiting for evidence, for a kernel, running)."""

    def __init__(self) -> None:
        self.started = self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now

    def total(self) -> float:
        return time.perf_counter() - self.started


def _retire(pool: KernelPool, kernel: Kernel) -> None:
    """Shut a used kernel down; the first one first teaches the pool what to pre-import."""
    if not pool.learned:
        pool.learn(kernel)
    kernel.shutdown()


def instance_unreadable(findings: dict[str, Any]) -> str | None:
    """Why the instance itself could not be read (missing, not visible to the reader), or None.

    The notebook finishes either way (verdict `undetermined`), but nothing was investigated: the batch
    counts it as failed, with the AWS error as the reason.
    """
    for gap in findings.get("gaps") or []:
        if gap.get("call") == INSTANCE_CALL:
            return f"{INSTANCE_CALL} {gap.get('error')}: {gap.get('impact')}"
    return None


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, unit="incident", desc="kit batch", disable=not enabled,
                dynamic_ncols=True)
