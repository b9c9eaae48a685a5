"""An Output widget that re-renders itself: the notebook's analysis below the controls.

A `LiveSection` holds a function returning HTML; `refresh()` replaces the widget's outputs with a fresh
rendering. Outputs are set directly (not captured with `with output:`), so re-rendering works from
widget callbacks, from tests without a kernel, and never leaks into another cell.
"""

from __future__ import annotations

import html
import traceback
from collections.abc import Callable

import ipywidgets as widgets

# A widget's full width: 100% minus the 2 px margin ipywidgets gives each side of a widget (a plain 100% makes
# every output 4 px wider than its area, with a horizontal scrollbar).
FULL_WIDTH = "calc(100% - 4px)"


class LiveSection:
    """One re-renderable block of the analysis."""

    def __init__(self, render: Callable[[], str], name: str = "") -> None:
        self.render = render
        self.name = name
        self.output = widgets.Output(layout=widgets.Layout(width=FULL_WIDTH))
        self.renders = 0

    def refresh(self) -> None:
        """Render again and show the result (an error is shown in the section, not raised)."""
        try:
            body = self.render()
        except Exception as exc:  # a broken section must not break the other sections or the callback
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            body = (f'<div class="kit-report"><div class="kit-banner kit-tone-unknown"><p><b>This section could not '
                    f"be drawn</b>: {html.escape(detail)}</p></div></div>")
        self.renders += 1
        if body == self.html:  # unchanged: nothing to send to the browser
            return
        self.output.outputs = ({"output_type": "display_data",
                                "data": {"text/html": body, "text/plain": f"[{self.name or 'section'}]"},
                                "metadata": {}},)

    @property
    def html(self) -> str:
        """The HTML currently shown (for tests and for copying)."""
        outputs = self.output.outputs
        return outputs[0]["data"]["text/html"] if outputs else ""


class LiveSections:
    """Every live section of one notebook, refreshed together when a control changes."""

    def __init__(self) -> None:
        self.sections: list[LiveSection] = []

    def add(self, render: Callable[[], str], name: str = "") -> LiveSection:
        """A new section, rendered once now."""
        section = LiveSection(render, name)
        section.refresh()
        self.sections.append(section)
        return section

    def refresh(self) -> None:
        """Re-render every section."""
        for section in self.sections:
            section.refresh()

    def named(self, name: str) -> LiveSection:
        """The (last) section called `name`."""
        for section in reversed(self.sections):
            if section.name == name:
                return section
        raise KeyError(name)
