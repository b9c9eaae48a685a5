"""Fixtures of the browser tests: a simulated account, JupyterLab pointed at it, Debian's Chromium, browser tabs.

Everything runs on 127.0.0.1 and is stopped when the tests end. The tests are marked `browser` and share one
xdist group, so under `make test` (`-n 2 --dist loadgroup`) one worker starts all of this once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_lab import LabServer, start_lab
from browser_notebook import SCREENSHOTS, screenshot, slug
from browser_tab import Tab, open_tab
from playwright.sync_api import BrowserContext, Playwright
from playwright.sync_api import Error as PlaywrightError

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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """When a browser test fails, screenshot every open tab (FAILED-<test>-<n>.png) while it still shows why."""
    report = yield
    if report.when == "call" and report.failed:
        context = getattr(item, "funcargs", {}).get("chromium")
        shown = [p for p in (context.pages if context is not None else []) if p.url != "about:blank"]
        for number, open_page in enumerate(shown):
            with contextlib.suppress(PlaywrightError):  # a crashed tab must not hide the failure itself
                screenshot(open_page, f"FAILED-{slug(item.name)}-{number}")
    return report


@pytest.fixture(scope="session", autouse=True)
def fresh_screenshots() -> None:
    """Screenshots of earlier runs go, so the folder shows this run only."""
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()


@pytest.fixture(scope="session")
def lab_sim() -> Iterator[SimulatedAccount]:
    """The simulated account the notebook investigates, seeded with the seed incident (tests seed more)."""
    with SimulatedAccount(scenarios=["seed"]) as sim:
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
def chromium(playwright_driver: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Headless Debian Chromium with a fresh user-data dir (on the process's one Playwright driver)."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium (listed in .ci/system-packages.txt)"
    profile = tmp_path_factory.mktemp("chromium-profile")
    context = playwright_driver.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, viewport=VIEWPORT)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def tab(chromium: BrowserContext, lab: LabServer, request: pytest.FixtureRequest) -> Iterator[Tab]:
    """A fresh tab for one test."""
    with open_tab(chromium, lab, request.node.name) as new_tab:
        yield new_tab


