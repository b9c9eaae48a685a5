"""`kit notebooks`: the notebooks the package ships, listed or copied where an analyst's JupyterLab can open them."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import kit
from kit.errors import BadInput


def notebooks_folder() -> Path:
    """kit/notebooks/ inside the installed package (a checkout's notebooks/ links there)."""
    return Path(kit.__file__).resolve().parent / "notebooks"


def shipped_notebooks() -> list[Path]:
    """The .ipynb files inside the installed package (kit/notebooks/), sorted by name."""
    return sorted(notebooks_folder().glob("*.ipynb"))


def copy_notebooks(destination: str | Path, *, force: bool = False) -> list[Path]:
    """Copy every shipped notebook into `destination` (created if missing); never overwrite without `force`."""
    folder = Path(destination)
    if folder.exists() and not folder.is_dir():
        raise BadInput("--copy", "a folder (or a path where one can be created)", str(folder))
    sources = shipped_notebooks()
    targets = [folder / source.name for source in sources]
    clashes = [t for s, t in zip(sources, targets) if t.exists() and t.read_bytes() != s.read_bytes()]
    if clashes and not force:
        raise BadInput("--copy", "a folder without changed copies of the notebooks (or --force to overwrite)",
                       ", ".join(str(c) for c in clashes))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for source, target in zip(sources, targets):
            shutil.copyfile(source, target)
    except OSError as exc:
        raise BadInput("--copy", "a folder this user may write", f"{folder} ({exc.strerror})") from exc
    return targets


def run(args: argparse.Namespace) -> int:
    """List the shipped notebooks, or copy them with --copy DIR."""
    if args.copy is None:
        for notebook in shipped_notebooks():
            print(f"{notebook.name}\t{notebook}")
        return 0
    copied = copy_notebooks(args.copy, force=args.force)
    for path in copied:
        print(f"copied: {path}")
    print(f"open them with: jupyter lab {Path(args.copy)}")
    return 0
