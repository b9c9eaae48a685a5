"""report.html as a reader opens it: at 1400x900 the verdict and the fix are on the first screen.

Each report is produced end to end (`kit demo`'s path: a fresh simulated account, the notebook run headless by
papermill, report.html written), then opened from disk in headless Chromium. Screenshots of the first screen and
of the whole page land in tests/browser/screenshots/ (report-<scenario>-first-screen.png, report-<scenario>.png).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_notebook import SCREENSHOTS
from playwright.sync_api import BrowserContext

from kit.report.demo import demo

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

FIRST_SCREEN = {"width": 1400, "height": 900}
SCENARIOS = {"seed": "kms-grant-denied", "insufficient-capacity": "insufficient-capacity",
             "cross-account-key": "kms-cross-account-key"}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """report.html of each scenario, produced the way `kit demo` produces it."""
    out = {}
    for scenario in SCENARIOS:
        folder = tmp_path_factory.mktemp(f"report-{scenario}")
        result = demo(scenario, str(folder))
        assert result.error_name is None, result.error_value
        out[scenario] = folder / "report.html"
    return out


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_verdict_and_fix_are_on_the_first_screen(chromium: BrowserContext, reports, scenario: str) -> None:
    page = chromium.new_page()
    try:
        page.set_viewport_size(FIRST_SCREEN)
        page.goto(reports[scenario].as_uri())
        banner = page.locator(".kit-banner[data-cause]")
        assert banner.get_attribute("data-cause") == SCENARIOS[scenario]
        fix = page.locator(".kit-fix")
        assert banner.count() == 1 and fix.count() == 1
        for name, element in (("verdict", banner), ("fix", fix)):
            box = element.bounding_box()
            assert box is not None, f"the {name} is not rendered"
            assert box["y"] >= 0 and box["y"] + min(box["height"], 120) <= FIRST_SCREEN["height"], (name, box)
        assert page.evaluate("window.scrollY") == 0
        verdict_box = banner.bounding_box()
        assert verdict_box is not None and verdict_box["y"] + verdict_box["height"] <= FIRST_SCREEN["height"]
        assert page.locator("script").count() == 0, "report.html runs no script"
        assert page.evaluate("document.documentElement.scrollWidth") <= FIRST_SCREEN["width"], "no sideways scroll"
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"report-{scenario}-first-screen.png"))
        page.screenshot(path=str(SCREENSHOTS / f"report-{scenario}.png"), full_page=True)
    finally:
        page.close()
