"""`kit notebooks`: lists the notebooks the package ships and copies them, never overwriting a changed copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.cli import main
from kit.report.notebooks import shipped_notebooks


def test_the_investigation_notebook_is_shipped_inside_the_package() -> None:
    names = [path.name for path in shipped_notebooks()]
    assert "investigate_instance.ipynb" in names
    assert all("/kit/notebooks/" in str(path) for path in shipped_notebooks())


def test_copy_writes_every_notebook_and_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "nested" / "notebooks"
    assert main(["notebooks", "--copy", str(target)]) == 0
    for source in shipped_notebooks():
        assert (target / source.name).read_bytes() == source.read_bytes()
    assert main(["notebooks", "--copy", str(target)]) == 0, "an identical copy is not a clash"
    assert "jupyter lab" in capsys.readouterr().out


def test_copy_refuses_to_overwrite_a_changed_copy_without_force(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notebooks", "--copy", str(tmp_path)]) == 0
    edited = tmp_path / "investigate_instance.ipynb"
    edited.write_text("my own analysis")
    assert main(["notebooks", "--copy", str(tmp_path)]) == 2
    assert "--copy" in capsys.readouterr().err
    assert edited.read_text() == "my own analysis", "nothing was overwritten"
    assert main(["notebooks", "--copy", str(tmp_path), "--force"]) == 0
    assert edited.read_text() != "my own analysis"


def test_copy_onto_a_file_is_bad_input_naming_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "report.txt"
    a_file.write_text("x")
    assert main(["notebooks", "--copy", str(a_file)]) == 2
    assert "--copy: expected a folder" in capsys.readouterr().err


def test_listing_names_each_notebook_and_its_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notebooks"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in listed] == [p.name for p in shipped_notebooks()]
