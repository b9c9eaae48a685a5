"""The files of an evidence folder (a bundle or a cli: folder), read only from inside it: symbolic links are
never followed, so a link cannot show a file from elsewhere as evidence."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FolderFiles:
    """Regular files under a folder (sorted) and the symbolic links found there (refused or skipped by callers)."""

    regular: list[Path] = field(default_factory=list)
    links: list[Path] = field(default_factory=list)


def files_inside(folder: Path) -> FolderFiles:
    """Walk `folder` without following links; files and folders that are links are listed apart."""
    regular: list[Path] = []
    links: list[Path] = []
    for root, directories, files in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in list(directories):
            if (base / name).is_symlink():
                links.append(base / name)
                directories.remove(name)
        for name in files:
            path = base / name
            if path.is_symlink():
                links.append(path)
            elif path.is_file():
                regular.append(path)
    return FolderFiles(sorted(regular), sorted(links))
