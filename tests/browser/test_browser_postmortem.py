"""The postmortem pages in a real browser at 1400x900, opened from disk: index.html opens with the group
blocks (the first screen), its filter narrows the incident table, hostile tags run nothing; postmortem.html
opens with the narrative and shows the failures-over-time picture. Screenshots of both for review.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from browser_notebook import screenshot
from playwright.sync_api import BrowserContext

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SCENARIOS = ("seed", "hostile-tags", "key-disabled")  # each notebook seeds its own simulated account
SCREEN = {"width": 1400, "height": 900}


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kit batch on three scenario parameter files, then kit postmortem on the folder."""
    params = tmp_path_factory.mktemp("postmortem-params")
    files = []
    for name in SCENARIOS:
        path = params / f"{name}.yaml"
        path.write_text(f"scenario: {name}\n")
        files.append(str(path))
    out = tmp_path_factory.mktemp("postmortem-batch")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for command in (["batch", *files, "--out", str(out), "--jobs", "2"], ["postmortem", str(out)]):
        result = subprocess.run([sys.executable, "-m", "kit", *command], env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
    return out


def _page(chromium: BrowserContext, path: Path):
    page = chromium.new_page()
    page.set_viewport_size(SCREEN)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.goto(path.as_uri())
    return page, problems


def test_index_opens_with_the_groups_and_filters_the_incidents(chromium: BrowserContext, batch_dir: Path) -> None:
    page, problems = _page(chromium, batch_dir / "index.html")
    try:
        first = page.locator("section.kit-group").first
        box = first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= SCREEN["height"]  # a whole group on the first screen
        assert page.locator("section.kit-group").count() == 2  # grant denied (seed, hostile-tags); key disabled
        rows = page.locator("#incidents tbody tr")
        assert rows.count() == 3
        page.fill("#filter", "key-disabled")
        assert page.locator("#incidents tbody tr:not([hidden])").count() == 1
        page.fill("#filter", "")
        page.select_option("#group-filter", "g1")
        assert page.locator("#incidents tbody tr:not([hidden])").count() == 2
        assert "<script>alert(1)</script>" in page.locator("#incidents").inner_text()  # shown as text
        page.select_option("#group-filter", "")
        screenshot(page, "postmortem-index")
        assert problems == []
    finally:
        page.close()


def test_postmortem_html_opens_with_the_narrative_and_the_picture(chromium: BrowserContext, batch_dir: Path) -> None:
    page, problems = _page(chromium, batch_dir / "postmortem.html")
    try:
        impact = page.locator(".kit-narrative h3", has_text="Impact")
        box = impact.bounding_box()
        assert box is not None and box["y"] < SCREEN["height"]
        assert "3 instances failed to launch" in page.locator(".kit-narrative").inner_text()
        picture = page.locator("img[src^='data:image/png']")
        assert picture.count() >= 1 and picture.first.evaluate("img => img.naturalWidth") > 500
        screenshot(page, "postmortem-page")
        assert problems == []
    finally:
        page.close()
