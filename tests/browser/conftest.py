"""Fixtures of the browser tests: a simulated account, JupyterLab pointed at it, Debian's Chromium, one page per test.

Everything runs on 127.0.0.1 and is stopped when the tests end. The tests are marked `browser` and share one
xdist group, so under `make test` (`-n 2 --dist loadgroup`) one worker starts all of this once.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_console import ConsoleLog, load_allowlist
from browser_lab import LabServer, start_lab
from browser_notebook import screenshot
from playwright.sync_api import BrowserContext, Page, sync_playwright

from kit.simulate import SimulatedAccount

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (.ci/system-packages.txt); Playwright's download is not used
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium phones home at start, and this machine's closed network refuses its connections.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
ACTION_TIMEOUT_MS = 60_000  # default for clicks and selections on a loaded machine

# The scenarios the browser tests investigate: the seed incident, and another one to pick in the widget.
SEED_SCENARIO = "seed"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Remember each phase's report on the item, so the page fixture can screenshot a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def lab_sim() -> Iterator[SimulatedAccount]:
    """The simulated account the notebook investigates, seeded with the scenarios the tests need."""
    with SimulatedAccount(scenarios=[SEED_SCENARIO]) as sim:
        yield sim


@pytest.fixture(scope="session")
def lab(lab_sim: SimulatedAccount, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """`jupyter lab` on 127.0.0.1 with a token; its kernels see the simulated account's environment."""
    root = tmp_path_factory.mktemp("lab")
    server = start_lab(root / "notebooks", root / "state", lab_sim.environ())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Headless Debian Chromium with a fresh user-data dir."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium (listed in .ci/system-packages.txt)"
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, viewport=VIEWPORT)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def console() -> ConsoleLog:
    """The page's console, checked against tests/browser/console_allowlist.yaml."""
    return ConsoleLog(allowed=load_allowlist())


@pytest.fixture
def page(chromium: BrowserContext, lab: LabServer, console: ConsoleLog,
         request: pytest.FixtureRequest) -> Iterator[Page]:
    """A new tab; on failure it is screenshotted (FAILED-<test>.png) before it closes, then kernels stop."""
    tab = chromium.new_page()
    console.attach(tab)
    try:
        yield tab
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            screenshot(tab, f"FAILED-{_slug(request.node.name)}")
        tab.close()
        lab.shutdown_kernels()


def copy_notebook(source: Path, lab: LabServer, name: str) -> str:
    """Copy `source` into the server's root (the repository's copy is never opened) and return its lab URL."""
    shutil.copyfile(source, lab.root_dir / name)
    return lab.lab_url(name)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
