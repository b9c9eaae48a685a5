"""The console check the browser tests rely on: errors and uncaught exceptions are caught, the allow-list is narrow."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_console import ALLOWLIST_PATH, Allowed, ConsoleLog, load_allowlist
from playwright.sync_api import BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PAGE = """<html><body><p id="ready">ready</p></body></html>"""


@pytest.fixture
def blank(chromium: BrowserContext) -> Iterator[Page]:
    page = chromium.new_page()
    try:
        page.set_content(PAGE)
        yield page
    finally:
        page.close()


def test_console_errors_and_uncaught_exceptions_are_errors_but_warnings_are_not(blank: Page) -> None:
    console = ConsoleLog(allowed=[])
    console.attach(blank)
    with blank.expect_console_message(lambda m: m.type == "error"):
        blank.evaluate("console.warn('only a warning'); console.error('widget view failed: boom')")
    with blank.expect_event("pageerror"):
        blank.evaluate("setTimeout(() => { throw new TypeError('uncaught in a widget callback') }, 0)")

    errors = console.errors()
    assert len(errors) == 2, errors
    assert errors[0].startswith("error: widget view failed: boom")
    assert errors[1].startswith("pageerror: TypeError: uncaught in a widget callback")
    assert any(line.startswith("warning: only a warning") for line in console.messages)


def test_an_allow_list_entry_hides_only_what_it_matches(blank: Page) -> None:
    console = ConsoleLog(allowed=[Allowed(re.compile(r"^error: known harmless noise"), why="a test")])
    console.attach(blank)
    with blank.expect_console_message(lambda m: m.text == "last"):
        blank.evaluate("console.error('known harmless noise'); console.error('a real failure'); "
                       "console.error('last')")
    assert [line.split(" @ ")[0] for line in console.errors()] == ["error: a real failure", "error: last"]


def test_every_allow_list_entry_says_why(tmp_path: Path) -> None:
    load_allowlist(ALLOWLIST_PATH)  # the real list loads (every entry has a reason)
    unexplained = tmp_path / "allow.yaml"
    unexplained.write_text("allow:\n  - pattern: 'Failed to load resource'\n")
    with pytest.raises(ValueError, match="does not say why"):
        load_allowlist(unexplained)
