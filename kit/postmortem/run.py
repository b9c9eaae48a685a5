"""`kit postmortem DIR`: the postmortem notebook run headless on a batch folder, then `DIR/postmortem.html`
without code (nbconvert's HTMLExporter with `exclude_input`, as report.html).

papermill runs `postmortem.ipynb` (shipped in kit/notebooks/) with `batch_dir`; the executed notebook is
kept beside the page as `postmortem.ipynb`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import nbformat

from kit.errors import BadInput, KitError
from kit.report.files import write_text_atomically

NOTEBOOK_NAME = "postmortem.ipynb"
PAGE = "postmortem.html"


def notebook_path() -> Path:
    """The shipped postmortem notebook."""
    from kit.report.notebooks import notebooks_folder

    return notebooks_folder() / NOTEBOOK_NAME


def run_postmortem(batch_dir: str | Path, out: str | Path | None = None, *, kernel_name: str = "python3") -> Path:
    """Execute the postmortem notebook for `batch_dir`; write postmortem.html (and the executed notebook
    beside it). BadInput (exit 2) when `batch_dir` is not a batch folder; KitError when a cell fails
    (the page is still written, with the failure first)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from kit.postmortem.batch import read_batch
    from jupyter_client import KernelManager

    from kit.report.run import export_html, start_quiet_kernel

    folder = Path(batch_dir).resolve()
    read_batch(folder)  # the checks, before a kernel starts
    page = Path(out).resolve() if out else folder / PAGE
    if page.exists() and page.is_dir():
        raise BadInput("--out", "a file path for postmortem.html", str(page))
    page.parent.mkdir(parents=True, exist_ok=True)
    descriptor, staged = tempfile.mkstemp(dir=page.parent, prefix=".postmortem.", suffix=".ipynb")
    os.close(descriptor)
    executed = Path(staged)
    failure: tuple[str, str | None] | None = None
    km = KernelManager(kernel_name=kernel_name)
    start_quiet_kernel(km, cwd=str(folder))  # the kernel's own log lines stay out of the terminal
    try:
        papermill.execute_notebook(str(notebook_path()), str(executed), parameters={"batch_dir": str(folder)},
                                   kernel_name=kernel_name, progress_bar=False, km=km)
    except PapermillExecutionError as exc:
        failure = (exc.ename, exc.evalue)
    except BaseException:
        executed.unlink(missing_ok=True)
        raise
    finally:
        km.shutdown_kernel(now=True)
    try:
        nb = nbformat.read(str(executed), as_version=4)
    finally:
        executed.unlink(missing_ok=True)
    write_text_atomically(page.with_suffix(".ipynb"), nbformat.writes(nb) + "\n")
    write_text_atomically(page, export_html(nb, title=f"Postmortem of {folder.name}", failure=failure))
    if failure is not None:
        raise KitError(f"the postmortem notebook failed: {failure[0]}: {failure[1]} (page: {page})")
    return page


def run(args: argparse.Namespace) -> int:
    """`kit postmortem DIR [--out FILE]`."""
    page = run_postmortem(args.batch_dir, args.out)
    print(f"postmortem: {page}")
    return 0
