"""The committed notebook: no outputs, python3 kernel, a parameters cell papermill reads, thin cells."""

from __future__ import annotations

import nbformat
import papermill

from kit.params import DEFAULTS, PARAMETERS
from kit.report.run import notebook_path


def test_committed_without_outputs_on_python3() -> None:
    nb = nbformat.read(str(notebook_path()), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_parameters_cell_matches_kit_params() -> None:
    nb = nbformat.read(str(notebook_path()), as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    inferred = papermill.inspect_notebook(str(notebook_path()))
    assert list(inferred) == list(PARAMETERS)
    for name, info in inferred.items():
        assert info["help"], f"{name} has no comment"
        assert eval(info["default"]) == DEFAULTS[name]  # noqa: S307 - literal defaults of our own notebook


def test_cells_are_thin_calls_into_kit() -> None:
    nb = nbformat.read(str(notebook_path()), as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    assert all(len(source.splitlines()) <= 3 for source in code)
    assert sum(1 for c in nb.cells if c.cell_type == "markdown") >= 10
