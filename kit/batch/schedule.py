"""Running a batch: `jobs` incidents at a time, in kernels started ahead and reused while incidents finish
cleanly (each brought back to the state it booted in first: kit.batch.kernels).

The single-incident run (parameterise, execute, export, findings.json) is kit.report.run's
`run_investigation`; this module only decides which kernel and which evidence each run gets, keeps
going when one fails, and counts progress.
"""

from __future__ import annotations

import gc
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
from kit.batch.kernels import Kernel, KernelPool, PoolClosed, notebook_imports
from kit.evidence import INSTANCE_CALL  # noqa: F401 - importable from here as before
from kit.evidence import instance_unreadable as _unreadable
from kit.params import InvestigationParameters


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
    reuse_kernels: bool = True  # a kernel whose incident finished cleanly serves the next (in a fresh state)
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
        # One spare kernel (reuse): an incident takes a kernel already reset while the last one resets.
        pool = KernelPool(jobs, budget=len(usable), kernel_name=options.kernel_name, cwd=notebook.parent,
                          warm_modules=warm, learn=options.warm_up, reuse=options.reuse_kernels,
                          spare=1 if options.reuse_kernels else 0)
        waiting = _Countdown(len(usable))  # incidents that have not had a kernel yet
        collectors = ThreadPoolExecutor(options.collectors or max(2, jobs), thread_name_prefix="kit-collect")
        workers = ThreadPoolExecutor(jobs, thread_name_prefix="kit-batch")
        stop = threading.Event()
        futures: dict[Future[Outcome], int] = {}
        try:
            gc.freeze()  # what is loaded by now (modules) lives as long as the batch: out of the collector's way
            pool.__enter__()
            # what each run needs in this process (papermill, nbformat: over a second), imported meanwhile
            threading.Thread(target=_import_runner, name="kit-import", daemon=True).start()
            # Evidence is prepared ahead (in incident order), while kernels start and notebooks run.
            prepared = {index: collectors.submit(prepare, incident) if prepare else None
                        for index, incident in enumerate(incidents) if incident.usable}
            futures = {workers.submit(_investigate, incidents[index], pool, notebook, ready, stop, waiting): index
                       for index, ready in prepared.items()}
            for future in as_completed(futures):
                done(futures[future], future.result())
        except KeyboardInterrupt:
            stop.set()
            _stop_now(pool, collectors, workers, futures)
            for future, index in futures.items():
                if future.done() and not future.cancelled() and index not in outcomes:
                    done(index, future.result())
            for index, incident in enumerate(incidents):
                if index not in outcomes:
                    done(index, interrupted_outcome(incident))
            progress.close()
            raise BatchInterrupted([outcomes[i] for i in range(len(incidents))]) from None
        finally:
            collectors.shutdown(wait=not stop.is_set(), cancel_futures=stop.is_set())
            workers.shutdown(wait=not stop.is_set(), cancel_futures=stop.is_set())
            pool.close()
    progress.close()
    return [outcomes[i] for i in range(len(incidents))]


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the batch: `outcomes` holds what finished and, for the rest, `interrupted`."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        super().__init__("the batch was interrupted")
        self.outcomes = outcomes


INTERRUPT_GRACE = 30.0  # seconds the notebooks whose kernels were killed get to write their failure reports


def _stop_now(pool: KernelPool, collectors: ThreadPoolExecutor, workers: ThreadPoolExecutor,
              futures: dict[Future[Outcome], int]) -> None:
    """Stop the queue (nothing new starts), kill the kernels running notebooks, wait (bounded) for the
    runs in progress to come back with their reports."""
    collectors.shutdown(wait=False, cancel_futures=True)
    workers.shutdown(wait=False, cancel_futures=True)
    pool.stop()
    running = [f for f in futures if not f.done()]
    try:
        for _ in as_completed(running, timeout=INTERRUPT_GRACE):
            pass
    except TimeoutError:
        pass


def interrupted_outcome(incident: Incident) -> Outcome:
    """An incident the interrupted batch did not finish (or never started)."""
    return Outcome(incident, "interrupted", error="interrupted: the batch was stopped before this incident finished")


def unusable_outcome(incident: Incident) -> Outcome:
    """A parameter file that could not be used: a failure report saying why, no investigation."""
    report = write_failure_report(incident.out_dir, incident.params_file, "BadInput", incident.error or "unusable")
    return Outcome(incident, "failed", error=incident.error, report=report)


def _import_runner() -> None:
    """Import what a headless run needs in this process while the first evidence is being collected (an
    incident's run would import it anyway, once its evidence and kernel are ready: later)."""
    try:
        import nbformat  # noqa: F401
        import papermill  # noqa: F401
    except Exception:  # noqa: BLE001 - the run itself reports what cannot be imported
        pass


def notebook_warm_modules(notebook: Path) -> list[str]:
    """The modules the notebook imports (pre-imported in each kernel while it waits for its incident)."""
    import json

    try:  # the notebook's JSON as is (nbformat's import alone takes about a second, before any kernel starts)
        cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    except Exception:  # noqa: BLE001 - an unreadable notebook fails each run with its own report
        return []
    return notebook_imports(cells if isinstance(cells, list) else [])


def _investigate(incident: Incident, pool: KernelPool, notebook: Path,
                 prepared: Future[InvestigationParameters] | None, stop: threading.Event,
                 waiting: _Countdown | None = None) -> Outcome:
    """Wait for its evidence, take a kernel (fresh or reset), run the notebook in it, read what it wrote; never raises.

    Once `stop` is set (Ctrl-C), it starts nothing more and comes back `interrupted`.
    """
    from kit.report.run import run_investigation

    clock = _Clock()
    assert incident.params is not None
    params = incident.params
    notes: list[str] = []
    if prepared is not None:
        while not stop.is_set():
            try:
                prepared.result(timeout=0.2)
                break
            except TimeoutError:
                continue
            except Exception:  # noqa: BLE001 - read again below, with the notes
                break
        if stop.is_set():
            return interrupted_outcome(incident)
        try:
            params = prepared.result()
            if params.source != incident.params.source:
                notes.append(f"evidence: {params.source}")
        except Exception as exc:  # noqa: BLE001 - the notebook then collects on its own
            notes.append(f"shared evidence unavailable ({type(exc).__name__}: {exc}); the notebook collected itself")
            params = incident.params
        clock.lap("evidence")
    kernel = None
    reusable = False
    try:
        kernel = pool.take()
        if waiting is not None:
            waiting.down()
        clock.lap("kernel")
        result = run_investigation(replace(params, out_dir=str(incident.out_dir)), incident.out_dir,
                                   km=kernel.manager, notebook=notebook, reset_kernel=False)
        clock.lap("notebook")
        # a simulated account started inside the kernel (a scenario) would outlive the reset: not reused
        reusable = not result.failed and not params.scenario and kernel.manager.is_alive()
    except PoolClosed:
        return interrupted_outcome(incident)
    except Exception as exc:  # noqa: BLE001 - recorded as this incident's failure, the batch goes on
        error: str | None = f"{type(exc).__name__}: {exc}"
        report = write_failure_report(incident.out_dir, incident.params_file, type(exc).__name__, str(exc),
                                      detail="".join(traceback.format_exception_only(exc)),
                                      redact=bool(incident.params and incident.params.redact))
        status = "interrupted" if stop.is_set() else "failed"
        return Outcome(incident, status, error=error, report=report, seconds=clock.total(), notes=notes,
                       timings=clock.laps)
    finally:
        if kernel is not None:
            more = waiting is not None and waiting.value > 0 and not stop.is_set()
            threading.Thread(target=_retire, args=(pool, kernel, reusable and not stop.is_set(), more),
                             name="kit-kernel-stop", daemon=False).start()
    out = Path(result.out_dir)
    error = f"{result.error_name}: {result.error_value}" if result.failed else instance_unreadable(result.findings)
    status = "failed" if error else "ok"
    if stop.is_set() and result.failed:  # its kernel was killed by the interrupt
        status, error = "interrupted", f"interrupted: {error}"
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


def _retire(pool: KernelPool, kernel: Kernel, reusable: bool, more: bool) -> None:
    """Hand a used kernel back (reuse, clean run, incidents still to come) or shut it down (replaced if
    incidents still wait for one); the first one first teaches the pool what to pre-import."""
    if not pool.learned:
        pool.learn(kernel)
    if pool.reuse and reusable and more:
        pool.give_back(kernel)
    elif pool.reuse:
        pool.retire(kernel, replace=more)
    else:
        kernel.shutdown()


class _Countdown:
    """A thread-safe count of incidents still to be handed a kernel."""

    def __init__(self, value: int) -> None:
        self._value = value
        self._lock = threading.Lock()

    def down(self) -> None:
        with self._lock:
            self._value -= 1

    @property
    def value(self) -> int:
        with self._lock:
            return self._value


def instance_unreadable(findings: dict[str, Any]) -> str | None:
    """Why the instance itself could not be read (missing, not visible to the reader), or None.

    The notebook finishes either way (verdict `undetermined`), but nothing was investigated: the batch
    counts it as failed, with the AWS error as the reason.
    """
    return _unreadable(findings.get("gaps") or [])


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, unit="incident", desc="kit batch", disable=not enabled,
                dynamic_ncols=True)
