"""The widget stack itself, apart from the kit: the kernel's ipywidgets and JupyterLab's widget manager agree.

A scratch notebook written by the test (never committed) shows a Dropdown whose choice a kernel callback
echoes into an Output widget, and prints what the kernel sees of the simulated account. If this fails, the
investigation notebook's widgets cannot work either, whatever the kit does.
"""

from __future__ import annotations

import sys

import nbformat
import pytest
from browser_lab import LabServer
from browser_notebook import UPDATE_TIMEOUT_MS, WIDGET_TIMEOUT_MS, dropdown, open_notebook, run_all_cells, screenshot
from browser_notebook import widget_placeholders
from browser_tab import Tab
from playwright.sync_api import expect

from kit.simulate import SimulatedAccount

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PICKER = "Scratch pick"

SETUP = """\
import os
import sys

import ipywidgets as widgets
from IPython.display import display
"""
ENVIRONMENT = """\
print("endpoint:", os.environ.get("AWS_ENDPOINT_URL"))
print("prefix:", sys.prefix)
"""
WIDGETS = f"""\
pick = widgets.Dropdown(description={PICKER!r}, options=["alpha", "beta", "gamma"], value="alpha")
echo = widgets.HTML()
echo.add_class("scratch-echo")

def on_pick(change):
    echo.value = f"<b>picked {{change['new']}}</b>"

pick.observe(on_pick, names="value")
echo.value = "<b>picked alpha</b>"
display(widgets.VBox([pick, echo]))
"""


def scratch_notebook() -> nbformat.NotebookNode:
    """Three code cells (one left empty, as analysts leave them) under a heading."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                       "language": "python"}
    notebook.cells = [nbformat.v4.new_markdown_cell("# Scratch: the widget stack"),
                      nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(ENVIRONMENT),
                      nbformat.v4.new_code_cell(""), nbformat.v4.new_code_cell(WIDGETS)]
    return notebook


def test_a_dropdown_renders_as_a_select_and_its_callback_runs_in_the_kernel(
        tab: Tab, lab: LabServer, lab_sim: SimulatedAccount) -> None:
    page = tab.page
    nbformat.write(scratch_notebook(), lab.root_dir / "scratch-widgets.ipynb")
    open_notebook(page, lab.lab_url("scratch-widgets.ipynb"))
    run_all_cells(page)

    # The kernel runs in this virtual environment and sees the simulated account, as the investigation notebook will.
    stdout = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stdout"]')
    expect(stdout.filter(has_text="endpoint:")).to_have_text(f"endpoint: {lab_sim.endpoint_url}\n"
                                                             f"prefix: {sys.prefix}\n")

    select = dropdown(page, PICKER)
    expect(select).to_be_visible(timeout=WIDGET_TIMEOUT_MS)
    expect(select.locator("option")).to_have_text(["alpha", "beta", "gamma"])
    echo = page.locator(".jp-OutputArea-output .scratch-echo")
    expect(echo).to_have_text("picked alpha")
    assert widget_placeholders(page) == []
    screenshot(page, "widget-stack-1-rendered")

    select.select_option(label="gamma")
    expect(echo).to_have_text("picked gamma", timeout=UPDATE_TIMEOUT_MS)
    screenshot(page, "widget-stack-2-picked")

    assert tab.console.errors() == [], "the browser console shows errors:\n" + "\n".join(tab.console.errors())
