"""`make test` makes sure the system programs the tests need are there (tools/system-packages), or stops first
with one line naming what to install; `.ci/run` does nothing the README's command does not."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "system-packages"
LIST = ROOT / ".ci" / "system-packages.txt"


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A folder an unprivileged user can read (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="kit-syspkg-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def _run_unprivileged(script: Path, package_list: Path) -> subprocess.CompletedProcess[str]:
    """Run the script as a user who may not install (nobody, when the tests run as root)."""
    command = ["bash", str(script), str(package_list)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to run the script as an unprivileged user"
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})


def _copy(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    path.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def test_missing_package_without_root_stops_with_one_line_naming_it(world_readable_dir: Path) -> None:
    script = _copy(world_readable_dir, "system-packages", SCRIPT.read_text())
    packages = _copy(world_readable_dir, "packages.txt",
                     "# comment\nbash bash\nno-such-package-xyz /nonexistent/bin/xyz\n")
    done = _run_unprivileged(script, packages)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "apt-get install -y no-such-package-xyz" in lines[0]
    assert "bash" not in lines[0].split("install -y", 1)[1].split("(")[0], "a present package is not asked for"


def test_everything_present_is_silent_success(world_readable_dir: Path) -> None:
    script = _copy(world_readable_dir, "system-packages", SCRIPT.read_text())
    packages = _copy(world_readable_dir, "packages.txt", "coreutils /bin/ls\nbash bash\n")
    done = _run_unprivileged(script, packages)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_the_package_list_names_what_the_tests_look_for() -> None:
    entries = [line.split() for line in LIST.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert all(len(entry) == 2 for entry in entries), "each line: <debian-package> <file-or-command>"
    probes = dict(entries)
    browser_conftest = (ROOT / "tests" / "browser" / "conftest.py").read_text()
    assert probes["chromium"] in browser_conftest, "the browser tests look for Chromium where the list checks"
    assert {"nodejs", "npm"} <= probes.keys(), "the differential policy test runs node and npm"


def test_make_test_checks_system_packages_before_anything_else() -> None:
    makefile = (ROOT / "Makefile").read_text()
    test_rule = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert test_rule.split(":", 1)[1].split()[0] == "system-packages"
    assert "\t@tools/system-packages" in makefile


def test_ci_runs_only_the_readme_test_command() -> None:
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert [c for c in commands if not c.startswith(("set ", "cd "))] == ["make test"]
    assert "make test" in (ROOT / "README.md").read_text()
