"""The analyst's main path, in a real browser: open the investigation notebook in JupyterLab, run all cells,
read the seed incident's verdict, pick another failed instance in the widget, read its verdict.

The notebook is a copy (in the server's temp root) of notebooks/investigate_instance.ipynb with the seed
incident's instance and Region injected by papermill, as `kit investigate` and an analyst's parameters do.
It runs once for this module; the tests read it, and those that change a control change it back before
they end, so the tests do not depend on their order. One more test opens an unmodified copy (no parameters)
and picks the instance first, as the notebook's introduction tells the analyst to.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import papermill.iorw
import papermill.parameterize
import pytest
from browser_lab import LabServer
from browser_notebook import UPDATE_TIMEOUT_MS, WIDGET_TIMEOUT_MS, dropdown, object_reprs, open_notebook
from browser_notebook import run_all_cells, screenshot, widget_placeholders
from browser_tab import Tab, open_tab
from playwright.sync_api import BrowserContext, Locator, Page, expect

from kit.simulate import SeededScenario, SimulatedAccount

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "investigate_instance.ipynb"
SEED_SCENARIO = "seed"  # seeded by the lab_sim fixture
OTHER_SCENARIO = "key-disabled"  # another failed launch in the same account and Region, another cause
PICKER = "Instance"  # the instance picker's description (kit.notebook.controls)
VERDICT = ".jp-OutputArea-output .kit-banner[data-cause]"  # the verdict banner (kit.views.html.verdict_banner)


@dataclass
class Investigated:
    """The notebook, run in a tab, and the incidents it can show."""

    tab: Tab
    seed: SeededScenario
    other: SeededScenario
    original: bytes  # the repository's notebook before the run

    @property
    def page(self) -> Page:
        return self.tab.page

    def verdict(self) -> Locator:
        return self.page.locator(VERDICT)

    def picker(self) -> Locator:
        return dropdown(self.page, PICKER)


@pytest.fixture(scope="module")
def investigated(chromium: BrowserContext, lab: LabServer, lab_sim: SimulatedAccount) -> Iterator[Investigated]:
    """Open a parameterized copy of the investigation notebook on the seed incident and run all its cells."""
    seed = lab_sim.scenario(SEED_SCENARIO)
    other = lab_sim.seed(OTHER_SCENARIO)  # before the notebook runs, so the picker lists it
    original = NOTEBOOK.read_bytes()
    url = _parameterized_copy(lab, {"instance_id": seed.instance_id, "region": seed.region})
    with open_tab(chromium, lab, "investigation") as tab:
        open_notebook(tab.page, url)
        screenshot(tab.page, "investigation-1-opened")
        run_all_cells(tab.page)
        yield Investigated(tab=tab, seed=seed, other=other, original=original)


def test_run_all_shows_the_seed_verdict_and_a_real_instance_picker(investigated: Investigated) -> None:
    seed, other = investigated.seed, investigated.other
    verdict = investigated.verdict()
    expect(verdict).to_have_count(1, timeout=WIDGET_TIMEOUT_MS)
    _expect_verdict(verdict, seed.expected["cause"], seed.instance_id)
    screenshot(investigated.page, "investigation-2-seed-verdict", verdict)

    # A real control listing the failed instances, not "Loading widget..." or a text repr.
    picker = investigated.picker()
    expect(picker).to_be_visible(timeout=WIDGET_TIMEOUT_MS)
    assert widget_placeholders(investigated.page) == []
    expect(picker.locator("option", has_text=seed.instance_id)).to_have_count(1)
    expect(picker.locator("option", has_text=other.instance_id)).to_have_count(1)
    expect(picker).to_have_value(re.compile(re.escape(seed.instance_id)))
    picker.scroll_into_view_if_needed()  # the controls box is taller than the window: show it as the analyst sees it
    screenshot(investigated.page, "investigation-3-picker")
    _expect_clean_console(investigated.tab)


def test_picking_another_instance_changes_the_verdict_without_rerunning_cells(investigated: Investigated) -> None:
    seed, other = investigated.seed, investigated.other
    assert other.expected["cause"] != seed.expected["cause"], "pick a scenario whose verdict differs from the seed's"
    assert (other.region, other.account_id) == (seed.region, seed.account_id), "the picker lists one Region"
    verdict, picker = investigated.verdict(), investigated.picker()
    counts_before = _execution_counts(investigated.page)

    _pick(picker, other.instance_id)
    _expect_verdict(verdict, other.expected["cause"], other.instance_id, timeout=UPDATE_TIMEOUT_MS)
    screenshot(investigated.page, "investigation-4-other-verdict", verdict)
    screenshot(investigated.page, "investigation-5-page")

    _pick(picker, seed.instance_id)  # and back: the seed's verdict returns
    _expect_verdict(verdict, seed.expected["cause"], seed.instance_id, timeout=UPDATE_TIMEOUT_MS)
    assert _execution_counts(investigated.page) == counts_before, "picking an instance must not re-run cells"
    _expect_clean_console(investigated.tab)


def test_a_window_preset_re_investigates_and_shows_the_utc_bounds(investigated: Investigated) -> None:
    page, seed = investigated.page, investigated.seed
    outputs = page.locator(".jp-OutputArea-output")
    preset = outputs.get_by_role("button", name="±15 min", exact=True)
    window = outputs.get_by_text(re.compile(r"^\d+ min before, \d+ min after$"))
    bounds = outputs.locator(".kit-window")
    expect(window).to_have_text("60 min before, 30 min after", timeout=WIDGET_TIMEOUT_MS)
    expect(bounds).to_contain_text(re.compile(r"CloudTrail read from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d to "))
    first_bounds = bounds.inner_text()

    preset.click()
    expect(window).to_have_text("15 min before, 15 min after", timeout=UPDATE_TIMEOUT_MS)
    expect(bounds).not_to_have_text(first_bounds, timeout=UPDATE_TIMEOUT_MS)
    _expect_verdict(investigated.verdict(), seed.expected["cause"], seed.instance_id)
    preset.scroll_into_view_if_needed()
    screenshot(page, "investigation-7-window")

    for label, minutes in (("before (min)", "60"), ("after (min)", "30")):  # typed back, for the other tests
        box = outputs.locator(".widget-inline-hbox").filter(
            has=page.locator("label.widget-label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")))
        box.locator("input").fill(minutes)
        box.locator("input").press("Enter")
    expect(window).to_have_text("60 min before, 30 min after", timeout=UPDATE_TIMEOUT_MS)
    expect(bounds).to_have_text(first_bounds, timeout=UPDATE_TIMEOUT_MS)
    _expect_clean_console(investigated.tab)


def test_the_what_if_editor_re_evaluates_the_failing_request_with_an_edited_policy(
        investigated: Investigated) -> None:
    page, seed = investigated.page, investigated.seed
    editor = page.locator(".jp-OutputArea-output .widget-textarea textarea")
    re_evaluate = page.locator(".jp-OutputArea-output").get_by_role("button", name="Re-evaluate")
    outcome = page.locator(".jp-OutputArea-output").get_by_text(re.compile(r"^With this policy the failing request"))
    expect(editor).to_be_visible(timeout=WIDGET_TIMEOUT_MS)
    policy_choice = dropdown(page, "Policy")
    expect(policy_choice).to_have_value(re.compile(r"^proposed fix: "))  # the diagnosis' fix is loaded first
    fix_text = editor.input_value()
    identity = policy_choice.evaluate(
        "s => [...s.options].find(o => o.value.startsWith('identity policy ')).value")  # textContent has non-breaking spaces
    policy_choice.select_option(value=identity)  # the launcher's own policy, to type the fix by hand
    expect(editor).not_to_have_value(fix_text, timeout=UPDATE_TIMEOUT_MS)
    policy = json.loads(editor.input_value())

    re_evaluate.click()  # unchanged: the request that failed still fails
    expect(outcome).to_have_text(re.compile(r"would still be DENIED"), timeout=UPDATE_TIMEOUT_MS)

    # The seed article's fix, typed into the editor as the analyst would.
    policy["Statement"] = [*_statements(policy), {
        "Sid": "AllowEbsGrants", "Effect": "Allow", "Action": "kms:CreateGrant", "Resource": seed.expected["key_arn"],
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}]
    editor.fill(json.dumps(policy, indent=2))
    re_evaluate.click()
    expect(outcome).to_have_text(re.compile(r"would be ALLOWED"), timeout=UPDATE_TIMEOUT_MS)
    screenshot(page, "investigation-6-what-if", outcome.locator("xpath=ancestor::div[contains(@class,'kit-banner')][1]"))
    _expect_clean_console(investigated.tab)


def test_the_repository_notebook_is_never_modified(investigated: Investigated) -> None:
    assert NOTEBOOK.read_bytes() == investigated.original


def test_no_cell_shows_a_python_object_repr(investigated: Investigated) -> None:
    """A cell whose last expression returns a kit object shows `<kit... at 0x...>` under its widget."""
    reprs = object_reprs(investigated.page)
    assert reprs == [], "the analyst sees Python object reprs (end the cell with `;` or return None):\n" + \
        "\n".join(reprs)


def test_as_committed_the_notebook_lets_the_analyst_pick_the_instance_first(tab: Tab, lab: LabServer,
                                                                            lab_sim: SimulatedAccount) -> None:
    """No parameters at all (an unmodified copy): the Region comes from the environment, the instance is picked."""
    seed = lab_sim.scenario(SEED_SCENARIO)
    page = tab.page
    shutil.copyfile(NOTEBOOK, lab.root_dir / "as_committed.ipynb")
    open_notebook(page, lab.lab_url("as_committed.ipynb"))
    run_all_cells(page)
    picker = dropdown(page, PICKER)
    expect(picker).to_be_visible(timeout=WIDGET_TIMEOUT_MS)
    assert widget_placeholders(page) == []
    expect(page.locator(VERDICT)).to_have_count(0)  # nothing investigated yet

    _pick(picker, seed.instance_id)
    _expect_verdict(page.locator(VERDICT), seed.expected["cause"], seed.instance_id, timeout=UPDATE_TIMEOUT_MS)
    screenshot(page, "as-committed-picked-seed-verdict", page.locator(VERDICT))
    _expect_clean_console(tab)


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _parameterized_copy(lab: LabServer, parameters: dict[str, str], name: str = "investigate_instance.ipynb") -> str:
    """The repository's notebook with `parameters` injected (papermill), written into the server's root."""
    notebook = papermill.iorw.load_notebook_node(str(NOTEBOOK))  # as papermill reads it (cells get tags)
    notebook = papermill.parameterize.parameterize_notebook(notebook, parameters)
    papermill.iorw.write_ipynb(notebook, str(lab.root_dir / name))
    return lab.lab_url(name)


def _pick(picker: Locator, instance_id: str) -> None:
    """Choose the option naming `instance_id`, as the analyst does."""
    value = picker.locator("option", has_text=instance_id).get_attribute("value")
    picker.select_option(value=value)


def _expect_verdict(verdict: Locator, cause: str, instance_id: str, timeout: float = WIDGET_TIMEOUT_MS) -> None:
    """The banner names `cause` (its data-cause and its text) for `instance_id`."""
    expect(verdict).to_have_attribute("data-cause", cause, timeout=timeout)
    expect(verdict).to_contain_text(instance_id, timeout=timeout)
    expect(verdict).to_contain_text(re.compile(r"Verdict: \S"))
    expect(verdict).to_contain_text(cause)


def _execution_counts(page: Page) -> list[str]:
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()


def _expect_clean_console(tab: Tab) -> None:
    errors = tab.console.errors()
    assert errors == [], "the browser console shows errors:\n" + "\n".join(errors)
