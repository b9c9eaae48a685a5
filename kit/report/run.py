"""Headless runs: papermill executes the investigation notebook, then the report is written.

`run_investigation(params, out_dir)` leaves three files in `out_dir`: `investigation.ipynb` (executed),
`findings.json` and `report.html` (no code: nbconvert's HTMLExporter with `exclude_input`, in process).
A cell that fails still yields all three: the executed notebook shows the error, report.html opens with a
failure banner, and findings.json says `undetermined` with the error as a gap.

nbformat is imported where it is used: importing it costs about a second (its schema validator), which a
batch spends while its kernels start and its evidence is collected rather than before.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kit.params import InvestigationParameters, check_target
from kit.report.files import write_text_atomically

NOTEBOOK_NAME = "investigate_instance.ipynb"
REPORT_FILES = ("investigation.ipynb", "findings.json", "report.html")
TARGET_METADATA = "kit_target"  # output metadata where the notebook records the instance it investigates
REPORT_METADATA = "kit_report"  # output metadata marking report.html's body (kit.views.report_page), taken out of the notebook

_exporters = threading.local()  # report.html's exporter, one per thread (see _html_exporter)


@dataclass(frozen=True)
class RunResult:
    """What one headless run produced."""

    out_dir: Path
    findings: dict[str, Any]
    error_name: str | None = None  # the exception class name when a cell failed
    error_value: str | None = None

    @property
    def failed(self) -> bool:
        """A cell raised: the report shows the failure."""
        return self.error_name is not None

    @property
    def unreadable(self) -> str | None:
        """Why nothing was investigated (the instance itself could not be read), as kit batch counts it."""
        from kit.evidence import instance_unreadable

        return instance_unreadable(self.findings.get("gaps") or [])

    @property
    def exit_code(self) -> int:
        """contracts.md section 1: 0 whatever the verdict, 2 bad input, 1 any other failure (a notebook
        that failed, or an instance that could not be read at all: nothing was investigated)."""
        if not self.failed:
            return 1 if self.unreadable else 0
        return 2 if self.error_name == "BadInput" else 1

    def verdict_line(self) -> str:
        """One line a person reads: instance, cause, who was denied and by what."""
        verdict = self.findings.get("verdict", {})
        parts = [f"{self.findings.get('instance_id', '?')} ({self.findings.get('region', '?')}):",
                 str(verdict.get("cause")), f"[{verdict.get('confidence')}]"]
        if verdict.get("denied_by"):
            parts.append(f"denied_by={verdict['denied_by']}")
        if verdict.get("principal_arn"):
            parts.append(f"principal={verdict['principal_arn']}")
        return " ".join(parts)

    def print_outcome(self, command: str) -> int:
        """What `kit investigate` and `kit demo` print: the verdict line, the failure (on stderr, prefixed
        with `command`) and where the report is; returns the exit code."""
        print(self.verdict_line())
        if self.failed:
            print(f"{command}: the investigation failed: {self.error_name}: {self.error_value}", file=sys.stderr)
        elif self.unreadable:
            print(f"{command}: nothing was investigated: {self.unreadable}", file=sys.stderr)
        print(f"report: {self.out_dir / 'report.html'}")
        return self.exit_code


def notebook_path() -> Path:
    """The investigation notebook, shipped inside the package (`kit/notebooks/`; `notebooks/` in a checkout
    links there), so an installed kit finds it as an editable one does."""
    from kit.report.notebooks import notebooks_folder

    return notebooks_folder() / NOTEBOOK_NAME


def run_investigation(params: InvestigationParameters, out_dir: str | Path, *, km: Any | None = None,
                      notebook: str | Path | None = None, kernel_name: str = "python3",
                      reset_kernel: bool = True) -> RunResult:
    """Execute the notebook headless for `params` and write the report files into `out_dir`.

    `km`: an already started jupyter_client KernelManager to run in (batches and tests share one kernel);
    by default papermill starts and stops a python3 kernel. `reset_kernel`: forget `km`'s variables first;
    False only for a kernel known to be in its fresh state (kit.batch.kernels hands out no other).
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    check_target(params)  # a scenario's instance is resolved by the notebook (it seeds the simulated account)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # A previous run's report stays whole until this run's replaces it (each file renamed into place).
    previous_findings = _stamp(out / "findings.json")
    params = replace(params, interactive=False, out_dir=str(out))
    error_name = error_value = None
    own_kernel = None
    if km is not None and reset_kernel:
        _reset_namespace(km)
    descriptor, staged = tempfile.mkstemp(dir=out, prefix=".investigation.", suffix=".ipynb")
    os.close(descriptor)
    executed = Path(staged)  # papermill saves the notebook as it runs: beside the report, hidden, until done
    try:
        if km is None:
            from jupyter_client import KernelManager

            km = KernelManager(kernel_name=kernel_name)
            start_quiet_kernel(km)
            own_kernel = km
        with _watched(km):
            papermill.execute_notebook(str(notebook or notebook_path()), str(executed),
                                       parameters=params.to_dict(), kernel_name=kernel_name,
                                       progress_bar=False, km=km, engine_name=_save_once_engine())
    except PapermillExecutionError as exc:
        error_name, error_value = exc.ename, exc.evalue
    except Exception as exc:  # noqa: BLE001 - the kernel died or never started: still a report, with the failure
        error_name, error_value = type(exc).__name__, str(exc) or repr(exc)
    except BaseException:  # Ctrl-C: the previous report stays as it was, nothing half-written is left
        executed.unlink(missing_ok=True)
        raise
    finally:
        if own_kernel is not None:
            own_kernel.shutdown_kernel(now=True)
    try:
        nb = nbformat.read(str(executed), as_version=4)
    except Exception:  # noqa: BLE001 - nothing was saved (the kernel never started): show the notebook run
        nb = nbformat.read(str(notebook or notebook_path()), as_version=4)
    executed.unlink(missing_ok=True)
    params = _with_target(params, nb)
    report_body = take_report_body(nb)
    written = out / "findings.json"
    findings = _findings_after_run(written if _stamp(written) != previous_findings else None, params,
                                   error_name, error_value)
    if params.redact:
        from kit.redact import redact_notebook, redact_value

        nb = redact_notebook(nb)
        findings = redact_value(findings)
        findings["account_id"] = None
        error_value = redact_value(error_value)
    write_text_atomically(out / "findings.json", json.dumps(findings, indent=2) + "\n")
    notebook_text = nbformat.writes(nb)
    write_text_atomically(out / "investigation.ipynb", notebook_text if notebook_text.endswith("\n")
                          else notebook_text + "\n")
    title = f"Investigation of {params.instance_id or params.scenario}"
    if params.redact and report_body is not None:
        from kit.redact import redact_text

        report_body = redact_text(report_body)
    report = (report_document(report_body, title) if report_body is not None and not error_name
              else export_html(nb, title=title, failure=(error_name, error_value) if error_name else None))
    write_text_atomically(out / "report.html", report)
    return RunResult(out, findings, error_name, error_value)


SAVE_ONCE_ENGINE = "kit-save-once"


def _save_once_engine() -> str:
    """papermill's nbclient engine, saving the executed notebook once, when the run ends however it ends
    (papermill saves a finished run, this engine one the kernel's death stopped, outputs so far included),
    instead of before and after every cell: nobody reads the
    staged file meanwhile, and those 40 saves (each serialising and validating the whole notebook, report
    body included) cost a headless run's process about a quarter of its CPU. Registered once; its name."""
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    if SAVE_ONCE_ENGINE in papermill_engines._engines:
        return SAVE_ONCE_ENGINE

    class SaveOnceEngine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb: Any, kernel_name: str, output_path: str | None = None,
                             progress_bar: bool = True, log_output: bool = False, autosave_cell_every: int = 30,
                             **kwargs: Any) -> Any:
            manager = NotebookExecutionManager(nb, output_path=None, progress_bar=progress_bar,
                                               log_output=log_output, autosave_cell_every=0)
            manager.notebook_start()
            stopped = True
            try:
                cls.execute_managed_notebook(manager, kernel_name, log_output=log_output, **kwargs)
                stopped = False
            finally:
                manager.cleanup_pbar()
                manager.notebook_complete()
                if stopped and output_path:  # otherwise papermill saves it once it has checked the outputs
                    manager.output_path = output_path
                    manager.save()
            return manager.nb

    papermill_engines.register(SAVE_ONCE_ENGINE, SaveOnceEngine)
    return SAVE_ONCE_ENGINE


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells one version of a file from the next (inode, size, modification time), None if absent."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def start_quiet_kernel(manager: Any, *, cwd: str | None = None) -> None:
    """Start `manager`'s kernel (a headless run's, a batch pool's) with its own log lines (ZMQ transport
    warnings, shutdown notices) kept out of the user's terminal and progress bar; everything its cells
    print still reaches the notebook through the kernel protocol. IPython history stays in memory, as
    nbclient keeps it for the kernels it starts, not in the user's sqlite file."""
    manager.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"], cwd=cwd,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextmanager
def _watched(km: Any) -> Iterator[None]:
    """Let papermill (nbclient) notice `km`'s kernel dying while a cell runs.

    nbclient polls the kernel's liveness once a second from its event loop, next to the task that waits
    for the cell's output; with the blocking client a synchronous KernelManager makes, that wait blocks
    the loop for good when the kernel is killed (SIGKILL, the out-of-memory killer) and the poll never
    runs. An asynchronous client keeps the loop free: a dead kernel then raises DeadKernelError at once.
    """
    from jupyter_client.asynchronous import AsyncKernelClient

    blocking = km.client_factory
    km.client_factory = AsyncKernelClient
    try:
        yield
    finally:
        km.client_factory = blocking


def _reset_namespace(km: Any) -> None:
    """Forget the previous notebook's variables in a shared kernel (imported modules stay loaded)."""
    import queue
    import time

    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        message_id = client.execute("get_ipython().run_line_magic('reset', '-f')", store_history=False)
        deadline = time.monotonic() + 60
        while True:  # the reply, checking twice a second that the kernel is still there (it may be killed)
            try:
                reply = client.get_shell_msg(timeout=0.5)
            except queue.Empty:
                if not km.is_alive():
                    raise RuntimeError("the kernel died before the notebook ran") from None
                if time.monotonic() > deadline:
                    raise TimeoutError("the kernel did not reset its namespace within 60 s") from None
                continue
            if reply.get("parent_header", {}).get("msg_id") == message_id:
                break
    finally:
        client.stop_channels()


def take_report_body(nb: Any) -> str | None:
    """Take report.html's body (the output the notebook's last cell marks `kit_report`) out of the executed
    notebook, so the saved notebook does not repeat it; None when the run did not get that far."""
    body = None
    for cell in nb.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("metadata", {}).get(REPORT_METADATA):
                html = output.get("data", {}).get("text/html", "")
                body = "".join(html) if isinstance(html, list) else str(html)
            else:
                kept.append(output)
        if "outputs" in cell:
            cell["outputs"] = kept
    return body


def report_document(body: str, title: str) -> str:
    """report.html: the answer-first body (kit.views.report_page) in a page of its own (no script at all)."""
    import html

    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8"/>\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1"/>\n'
            f"<title>{html.escape(title)}</title>\n"
            "<style>body { margin: 0; padding: 16px 24px; background: #fff; }</style>\n</head>\n<body>\n"
            f"{body}\n</body>\n</html>\n")


def export_html(nb: Any, title: str, failure: tuple[str, str | None] | None = None) -> str:
    """report.html: the executed notebook without code, readable on its own (a failure shown first)."""
    import nbformat

    nb = copy.deepcopy(nb)
    if failure is not None:
        from kit.views.html import failure_block, stylesheet

        banner = nbformat.v4.new_code_cell(source="", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": stylesheet() + failure_block(failure[0], failure[1] or "")})])
        nb.cells.insert(0, banner)
    body, _ = _html_exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


def _html_exporter() -> Any:
    """nbconvert's exporter for report.html, built once per thread: building one loads and compiles its
    templates on first use (about as long as the export itself), and an export changes the exporter's
    state, so a batch's threads each keep their own."""
    exporter = getattr(_exporters, "html", None)
    if exporter is None:
        from nbconvert import HTMLExporter

        templates = Path(__file__).resolve().parent / "templates"
        exporter = _exporters.html = HTMLExporter(
            template_name="kit_report", extra_template_basedirs=[str(templates)], exclude_input=True,
            exclude_input_prompt=True, exclude_output_prompt=True)
    return exporter


def _with_target(params: InvestigationParameters, nb: Any) -> InvestigationParameters:
    """`params` with the instance and Region the notebook resolved (a scenario's), read from its outputs."""
    if params.instance_id and params.region:
        return params
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            target = output.get("metadata", {}).get(TARGET_METADATA)
            if isinstance(target, dict) and target.get("instance_id") and target.get("region"):
                return replace(params, instance_id=str(target["instance_id"]), region=str(target["region"]))
    return params


def _findings_after_run(path: Path | None, params: InvestigationParameters, error_name: str | None,
                        error_value: str | None) -> dict[str, Any]:
    """The findings.json this run's notebook wrote (`path`, None when it wrote none); when a cell failed,
    the error is added as a gap (undetermined if none)."""
    findings = json.loads(path.read_text(encoding="utf-8")) if path is not None and path.exists() else None
    if error_name is None and findings is not None:
        return findings
    gap = {"call": "kit:investigation-notebook", "error": error_name or "NoFindings",
           "impact": f"The investigation stopped before it finished: {error_value or 'no findings were written'}",
           "next_step": "open investigation.ipynb to see the failing cell, fix the cause, run again"}
    if findings is None:
        findings = failure_findings(params, gap["impact"])
    findings.setdefault("gaps", []).append(gap)
    return findings


def failure_findings(params: InvestigationParameters, reason: str) -> dict[str, Any]:
    """findings.json for a run that produced none: cause undetermined, nothing ruled out (when and by which
    kit it ran are still said)."""
    from kit import version
    from kit.diagnose.ticket import run_fields

    if not params.instance_id:
        reason += " (the scenario's instance was never resolved: i-00000000 stands in for it)"
    return {
        "schema": "kit.findings/1",
        "instance_id": params.instance_id or "i-00000000",
        "region": params.region or "us-east-1",
        "account_id": None,
        "verdict": {"cause": "undetermined", "denied_by": None, "principal_arn": None, "key_arn": None,
                    "confidence": "possible", "summary": f"No verdict: {reason}"},
        "ruled_out": [],
        "steps": [],
        "gaps": [],
        "remediation": [],
        **run_fields(None, version()),
    }
