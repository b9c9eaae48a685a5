"""What an analyst does with a notebook in JupyterLab, as Playwright steps with bounded waits on concrete conditions."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

# Upper bounds for a loaded 2-core machine; each wait returns as soon as its condition holds.
OPEN_TIMEOUT_MS = 120_000  # JupyterLab's front end loads and the kernel starts
RUN_ALL_TIMEOUT_MS = 300_000  # every cell of a notebook has run
WIDGET_TIMEOUT_MS = 60_000  # a widget view appears once its output is there
UPDATE_TIMEOUT_MS = 180_000  # a widget callback re-runs an investigation and re-renders

SCREENSHOTS = Path(__file__).with_name("screenshots")

ERROR_OUTPUT = '[data-mime-type="application/vnd.jupyter.error"]'
# What an output shows instead of a widget: @jupyter-widgets/jupyterlab-manager's placeholder and error texts,
# or (no widget manager at all) the widget's text/plain repr such as "VBox(children=(...".
WIDGET_PLACEHOLDERS = re.compile(r"^\s*(Loading widget\.\.\.|Error displaying widget"
                                 r"|(VBox|HBox|Box|Dropdown|Output|HTML|Text|Textarea|Button|IntSlider)\()")
OBJECT_REPR = re.compile(r"<[\w.]+( object)? at 0x[0-9a-f]+>")

# True once every non-empty code cell shows an execution count, or any cell shows an error output (Run All stops
# there, so the remaining cells would never be counted). Counts are read from the prompts the analyst sees.
_ALL_RAN_OR_ERROR = """
() => {
  const notebook = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!notebook) return false;
  if (notebook.querySelector('[data-mime-type="application/vnd.jupyter.error"]')) return true;
  const cells = [...notebook.querySelectorAll('.jp-CodeCell')];
  const pending = cells.filter(cell => {
    const code = (cell.querySelector('.cm-content')?.textContent || '').trim();
    const prompt = (cell.querySelector('.jp-InputArea-prompt')?.textContent || '').trim();
    return code !== '' && !/^\\[\\d+\\]:$/.test(prompt);
  });
  return cells.length > 0 && pending.length === 0;
}
"""


def open_notebook(page: Page, url: str) -> Locator:
    """Open `url` (a lab/tree address) and wait until the notebook is shown and its kernel is idle."""
    page.goto(url, timeout=OPEN_TIMEOUT_MS)
    panel = page.locator(".jp-NotebookPanel").first
    expect(panel).to_be_visible(timeout=OPEN_TIMEOUT_MS)
    idle = page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
    dialog = page.locator(".jp-Dialog")
    # A dialog here (kernel choice, trust, error) is something the analyst would have to answer: a failure.
    expect(idle.or_(dialog).first).to_be_visible(timeout=OPEN_TIMEOUT_MS)
    assert not dialog.is_visible(), f"JupyterLab asks something on opening the notebook: {dialog.inner_text()}"
    expect(page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle$"))).to_be_visible(
        timeout=OPEN_TIMEOUT_MS)
    return panel


def run_all_cells(page: Page) -> None:
    """Run > Run All Cells, as the analyst does, and wait until every cell ran (or one failed)."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(_ALL_RAN_OR_ERROR, timeout=RUN_ALL_TIMEOUT_MS, polling=500)
    errors = page.locator(f".jp-NotebookPanel:not(.lm-mod-hidden) {ERROR_OUTPUT}")
    assert errors.count() == 0, "a cell failed:\n" + "\n---\n".join(errors.all_inner_texts())
    # The last cell's outputs may still be arriving; the kernel going idle again means they are all there.
    expect(page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')).to_be_visible(
        timeout=RUN_ALL_TIMEOUT_MS)


def widget_placeholders(page: Page) -> list[str]:
    """Outputs showing a widget that did not render (placeholder or error text instead of a control)."""
    outputs = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output").all_inner_texts()
    return [text for text in outputs if WIDGET_PLACEHOLDERS.search(text)]


def object_reprs(page: Page) -> list[str]:
    """Outputs that show a bare Python object repr (`<module.Thing at 0x...>`): noise the analyst should not see."""
    outputs = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output").all_inner_texts()
    return [text.strip() for text in outputs if OBJECT_REPR.fullmatch(text.strip())]


def dropdown(page: Page, description: str) -> Locator:
    """The <select> of the ipywidgets Dropdown labelled `description`, inside a notebook output."""
    box = page.locator(".jp-OutputArea-output .widget-dropdown").filter(
        has=page.locator("label.widget-label", has_text=re.compile(rf"^\s*{re.escape(description)}\s*$")))
    return box.locator("select")


def slug(name: str) -> str:
    """`name` as a file name (test ids carry brackets and slashes)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def screenshot(page: Page, name: str, target: Locator | None = None) -> Path:
    """Save a PNG of the page (or of `target`, scrolled into view) under tests/browser/screenshots/."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if target is not None:
        target.scroll_into_view_if_needed()
        target.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path))
    return path
