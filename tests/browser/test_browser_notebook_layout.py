"""The notebook as the analyst sees it at 1400x900 in JupyterLab: the verdict beside the instance picker (both on
screen together), no live output scrolling sideways (a rejected management-account role's error included), a
click on a row of the failed-instances table picking that instance, and the what-if editor's proposed fix with
its diff and an over-broad change in amber.
Screenshots of each land in tests/browser/screenshots/ for review.

The notebook is an unmodified copy of notebooks/investigate_instance.ipynb: nothing injected, the Region from
the environment, the instance picked in the browser.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_lab import LabServer
from browser_notebook import UPDATE_TIMEOUT_MS, WIDGET_TIMEOUT_MS, dropdown, open_notebook, run_all_cells, screenshot
from browser_tab import Tab, open_tab
from playwright.sync_api import BrowserContext, Page, expect

from kit.simulate import SimulatedAccount

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "investigate_instance.ipynb"
WINDOW = {"width": 1400, "height": 900}
SUMMARY = ".jp-OutputArea-output .kit-summary[data-cause]"  # the verdict beside the picker (kit.notebook.summary)
OTHER_SCENARIO = "key-pending-deletion"  # a second failed launch in the seed's Region, with another cause

# Elements inside the notebook's outputs whose content is wider than their box while they may scroll sideways:
# exactly the ones that show a horizontal scrollbar.
_SIDEWAYS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const found = [];
  for (const output of panel.querySelectorAll('.jp-OutputArea-output')) {
    for (const el of [output, ...output.querySelectorAll('*')]) {
      const overflow = getComputedStyle(el).overflowX;
      if ((overflow === 'auto' || overflow === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
        found.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} ${el.scrollWidth}>${el.clientWidth}`);
      }
    }
  }
  return found;
}
"""


@pytest.fixture(scope="module")
def notebook_tab(chromium: BrowserContext, lab: LabServer, lab_sim: SimulatedAccount) -> Iterator[Tab]:
    """An unmodified copy of the notebook, run all, at 1400x900."""
    try:
        lab_sim.scenario(OTHER_SCENARIO)
    except KeyError:
        lab_sim.seed(OTHER_SCENARIO)
    shutil.copyfile(NOTEBOOK, lab.root_dir / "layout.ipynb")
    with open_tab(chromium, lab, "layout") as tab:
        tab.page.set_viewport_size(WINDOW)
        open_notebook(tab.page, lab.lab_url("layout.ipynb"))
        run_all_cells(tab.page)
        yield tab


def _row(page: Page, instance_id: str):
    """The first cell (a button) of the failed-instances table row of `instance_id`."""
    return page.locator(".jp-OutputArea-output .widget-gridbox button", has_text=instance_id).first


def test_clicking_a_row_shows_the_verdict_beside_the_picker_on_one_screen(notebook_tab: Tab,
                                                                          lab_sim: SimulatedAccount) -> None:
    page, seed = notebook_tab.page, lab_sim.scenario("seed")
    summary = page.locator(SUMMARY)
    expect(page.locator(".jp-OutputArea-output .kit-summary").first).to_contain_text("No instance investigated yet",
                                                                                      timeout=WIDGET_TIMEOUT_MS)
    row = _row(page, seed.instance_id)
    expect(row).to_be_visible(timeout=WIDGET_TIMEOUT_MS)
    row.click()  # a click on the table row picks the instance
    expect(summary).to_have_attribute("data-cause", seed.expected["cause"], timeout=UPDATE_TIMEOUT_MS)
    picker = dropdown(page, "Instance")
    expect(picker).to_have_value(re.compile(re.escape(seed.instance_id)))

    picker.scroll_into_view_if_needed()
    pick_box, summary_box = picker.bounding_box(), summary.bounding_box()
    assert pick_box and summary_box
    assert summary_box["x"] >= pick_box["x"] + pick_box["width"] - 1, (pick_box, summary_box)  # to its right
    assert summary_box["y"] < pick_box["y"] + pick_box["height"], (pick_box, summary_box)  # at its height
    for box in (pick_box, summary_box):  # both on the screen at once: no scrolling to read the cause
        assert 0 <= box["y"] and box["y"] + min(box["height"], 120) <= WINDOW["height"], box
        assert box["x"] + box["width"] <= WINDOW["width"], box
    screenshot(page, "notebook-1400x900-verdict-beside-picker")

    other = lab_sim.scenario(OTHER_SCENARIO)
    _row(page, other.instance_id).click()
    expect(summary).to_have_attribute("data-cause", other.expected["cause"], timeout=UPDATE_TIMEOUT_MS)
    expect(picker).to_have_value(re.compile(re.escape(other.instance_id)))
    picker.scroll_into_view_if_needed()
    screenshot(page, "notebook-1400x900-other-instance")
    _row(page, seed.instance_id).click()
    expect(summary).to_have_attribute("data-cause", seed.expected["cause"], timeout=UPDATE_TIMEOUT_MS)


def test_no_live_output_scrolls_sideways_at_1400x900(notebook_tab: Tab, lab_sim: SimulatedAccount) -> None:
    page, seed = notebook_tab.page, lab_sim.scenario("seed")
    summary = page.locator(SUMMARY)
    if summary.count() == 0:
        _row(page, seed.instance_id).click()
    expect(summary).to_have_attribute("data-cause", re.compile(r"\S"), timeout=UPDATE_TIMEOUT_MS)
    expect(page.locator(".jp-OutputArea-output .kit-banner[data-cause]")).to_have_count(1, timeout=UPDATE_TIMEOUT_MS)
    wide = page.evaluate(_SIDEWAYS)
    assert wide == [], "live outputs with a horizontal scrollbar:\n" + "\n".join(wide)
    page.locator(".jp-OutputArea-output svg.kit-timeline-svg, .jp-OutputArea-output .kit-figure img").first \
        .scroll_into_view_if_needed()
    screenshot(page, "notebook-1400x900-timeline")


def test_a_bad_org_role_is_said_beside_its_field_without_sideways_scrolling(notebook_tab: Tab) -> None:
    page = notebook_tab.page
    field = page.locator(".jp-OutputArea-output .widget-text").filter(
        has=page.locator("label.widget-label", has_text=re.compile(r"^\s*Org role\s*$"))).locator("input")
    expect(field).to_be_visible(timeout=WIDGET_TIMEOUT_MS)
    assert field.get_attribute("placeholder", timeout=WIDGET_TIMEOUT_MS).startswith("arn:aws:iam::")
    field.fill("arn:aws:iam::1111:role/" + "OrganizationsChangeReader" * 4)  # long, and not 12 digits
    field.press("Enter")
    error = page.locator(".jp-OutputArea-output .kit-field-error")
    expect(error).to_contain_text("org_role_arn: expected an IAM role ARN", timeout=UPDATE_TIMEOUT_MS)
    wide = page.evaluate(_SIDEWAYS)
    assert wide == [], "live outputs with a horizontal scrollbar:\n" + "\n".join(wide)
    box, field_box = error.bounding_box(), field.bounding_box()
    assert box and field_box and box["x"] + box["width"] <= WINDOW["width"], box  # wrapped, on the screen
    screenshot(page, "notebook-1400x900-org-role-rejected", error)
    field.fill("")  # the role in use (none): the error goes
    field.press("Enter")
    expect(error).to_have_count(0, timeout=UPDATE_TIMEOUT_MS)


def test_what_if_loads_the_proposed_fix_and_marks_an_over_broad_change_amber(notebook_tab: Tab,
                                                                             lab_sim: SimulatedAccount) -> None:
    page, seed = notebook_tab.page, lab_sim.scenario("seed")
    summary = page.locator(SUMMARY)
    if summary.count() == 0 or summary.get_attribute("data-cause") != seed.expected["cause"]:
        _row(page, seed.instance_id).click()
        expect(summary).to_have_attribute("data-cause", seed.expected["cause"], timeout=UPDATE_TIMEOUT_MS)
    policy = dropdown(page, "Policy")
    expect(policy).to_have_value(re.compile(r"^proposed fix: "), timeout=UPDATE_TIMEOUT_MS)
    editor = page.locator(".jp-OutputArea-output .widget-textarea textarea")
    diff = page.locator(".jp-OutputArea-output .kit-diff")
    expect(diff).to_contain_text("kms:CreateGrant", timeout=UPDATE_TIMEOUT_MS)
    re_evaluate = page.locator(".jp-OutputArea-output").get_by_role("button", name="Re-evaluate")
    outcome = page.locator(".jp-OutputArea-output").get_by_text(re.compile(r"^With this policy the failing request"))

    re_evaluate.click()
    expect(outcome).to_have_text(re.compile(r"would be ALLOWED"), timeout=UPDATE_TIMEOUT_MS)
    expect(page.locator(".jp-OutputArea-output [data-over-broad]")).to_have_count(0)
    editor.scroll_into_view_if_needed()
    screenshot(page, "notebook-1400x900-what-if-proposed-fix")

    document = json.loads(editor.input_value())
    document["Statement"][0]["Resource"] = "*"  # every key: over-broad
    editor.fill(json.dumps(document, indent=2))
    re_evaluate.click()
    amber = page.locator(".jp-OutputArea-output .kit-amber[data-over-broad]")
    expect(amber).to_be_visible(timeout=UPDATE_TIMEOUT_MS)
    colour = amber.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(255, 243, 224)", colour  # the amber of kit/notebook/notebook.css
    amber.scroll_into_view_if_needed()
    screenshot(page, "notebook-1400x900-what-if-over-broad")
    policy.select_option(index=0)  # the proposed fix again, for whoever reads the page next
