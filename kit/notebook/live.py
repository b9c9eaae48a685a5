"""An Output widget that re-renders itself: the notebook's analysis below the controls.

A `LiveSection` holds a function returning HTML; `refresh()` replaces the widget's outputs with a fresh
rendering. Given `inputs` (a function returning what the rendering depends on), a refresh whose inputs are the
very same objects as at the last rendering draws nothing (going back to an instance shown before, a control
that changes nothing for this section). Outputs are set directly (not captured with `with output:`), so re-rendering works from
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

    def __init__(self, render: Callable[[], str], name: str = "",
                 inputs: Callable[[], tuple[object, ...]] | None = None) -> None:
        self.render = render
        self.name = name
        self.inputs = inputs
        self.output = widgets.Output(layout=widgets.Layout(width=FULL_WIDTH))
        self.renders = 0
        self._drawn_from: tuple[object, ...] | None = None  # the inputs of the rendering on screen

    def refresh(self) -> None:
        """Render again and show the result (an error is shown in the section, not raised); nothing to do when
        the inputs are the ones on screen (`_same`)."""
        inputs = self.inputs() if self.inputs is not None else None
        drawn = self._drawn_from
        if inputs is not None and drawn is not None and len(inputs) == len(drawn) and all(
                _same(a, b) for a, b in zip(inputs, drawn)):
            return
        self._drawn_from = inputs
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

    def add(self, render: Callable[[], str], name: str = "",
            inputs: Callable[[], tuple[object, ...]] | None = None) -> LiveSection:
        """A new section, rendered once now (and again only when `inputs` change, if given)."""
        section = LiveSection(render, name, inputs)
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


_VALUES = (str, int, float, bool, bytes, tuple, frozenset, type(None))


def _same(a: object, b: object) -> bool:
    """The same input: the very same object, or equal immutable values (parameters as a tuple). Mutable or
    rich objects (evidence, frames, findings) count as the same only by identity: a new analysis, even an
    equal-looking one, is drawn again."""
    return a is b or (isinstance(a, _VALUES) and type(a) is type(b) and a == b)
