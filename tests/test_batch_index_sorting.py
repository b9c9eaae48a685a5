"""index.html in a real browser (Debian's headless Chromium), opened from disk with the network cut off:
clicking a column header sorts the incidents by it, a second click reverses the order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.batch.index import write_index

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _entry(instance: str, cause: str, account: str, status: str = "ok") -> dict:
    return {"name": instance, "instance_id": instance, "account_id": account, "region": "eu-west-1",
            "status": status, "cause": cause, "denied_by": None, "principal_arn": None, "key_arn": None,
            "confidence": "confirmed", "report": f"{instance}/report.html", "error": None}


def test_clicking_a_header_sorts_and_a_second_click_reverses(playwright_driver, tmp_path) -> None:
    assert CHROMIUM.exists(), "apt-get install chromium (.ci/system-packages.txt)"
    entries = [_entry("i-0000000000000000b", "kms-key-disabled", "444455556666"),
               _entry("i-0000000000000000c", "kms-grant-denied", "123456789012"),
               _entry("i-0000000000000000a", "volume-limit-exceeded", "999988887777", status="failed")]
    path = write_index({"counts": {"incidents": 3, "ok": 2, "failed": 1}, "incidents": entries}, tmp_path)

    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
    try:
        context = browser.new_context(offline=True)  # everything the page needs is inside it
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(path.as_uri())

        headers = page.eval_on_selector_all("#incidents thead th", "cells => cells.map(c => c.textContent.trim())")
        instance, cause = headers.index("Instance"), headers.index("Cause")

        def column(index: int) -> list[str]:
            return page.eval_on_selector_all(
                "#incidents tbody tr", f"rows => rows.map(r => r.cells[{index}].textContent.trim())")

        assert column(instance) == [e["instance_id"] for e in entries]  # summary order until clicked
        page.click("th:has-text('Cause')")
        causes = column(cause)
        assert causes == sorted(causes)
        assert column(instance) == ["i-0000000000000000c", "i-0000000000000000b", "i-0000000000000000a"]
        assert page.get_attribute("th:has-text('Cause')", "aria-sort") == "ascending"
        page.click("th:has-text('Cause')")
        assert column(cause) == sorted(causes, reverse=True)
        page.click("th:has-text('Instance')")
        assert column(instance) == sorted(e["instance_id"] for e in entries)
        assert page.get_attribute("th:has-text('Cause')", "aria-sort") is None
        assert errors == []
    finally:
        browser.close()
