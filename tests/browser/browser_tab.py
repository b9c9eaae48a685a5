"""One browser tab of a test: the page and its console, closed (with the kernels it started) afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from browser_console import ConsoleLog, load_allowlist
from browser_lab import LabServer
from browser_notebook import screenshot, slug
from playwright.sync_api import BrowserContext, Page


@dataclass
class Tab:
    """One browser tab and what its console logged."""

    page: Page
    console: ConsoleLog


@contextmanager
def open_tab(chromium: BrowserContext, lab: LabServer, name: str) -> Iterator[Tab]:
    """A new tab recording its console; closed afterwards, with the kernels it started."""
    earlier_sessions = lab.session_ids()
    page = chromium.new_page()
    console = ConsoleLog(allowed=load_allowlist())
    console.attach(page)
    try:
        yield Tab(page=page, console=console)
    except BaseException:
        screenshot(page, f"FAILED-{slug(name)}")  # a failure while preparing the tab (a fixture's setup)
        raise
    finally:
        page.close()
        lab.shutdown_kernels(keep=earlier_sessions)
