"""The what-if policy editor: change the identity or key policy, re-evaluate the failing request.

The Textarea holds one policy of the failing request's PolicySet as JSON; the button parses it
(kit.policy.parse_policy: a bad document is reported naming the statement and field), swaps it into a copy
of the PolicySet and asks kit.policy.what_if whether the request would now be allowed, and what else the
change would allow that was refused before. Nothing is ever sent to AWS.
"""

from __future__ import annotations

import dataclasses
import html
import json
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from kit.errors import KitError
from kit.views import html as blocks

if TYPE_CHECKING:
    from kit.notebook.investigation import Investigation

KEY_POLICY = "key-policy"


class WhatIfEditor:
    """Textarea + button re-evaluating the failing request with an edited policy."""

    def __init__(self, investigation: Investigation) -> None:
        self.investigation = investigation
        self.policy_choice = widgets.Dropdown(description="Policy", layout=widgets.Layout(width="620px"))
        self.editor = widgets.Textarea(layout=widgets.Layout(width="100%", height="280px"))
        self.button = widgets.Button(description="Re-evaluate", button_style="primary", icon="play")
        self.result = widgets.HTML(value="")
        self.last: Any = None  # the last kit.policy.WhatIf, for tests and for the curious
        self._load()
        self.policy_choice.observe(lambda _change: self._fill_editor(), names="value")
        self.button.on_click(self.evaluate)
        investigation.listeners.append(self._load)

    def widget(self) -> widgets.Widget:
        """Everything in one box, for `display`."""
        return widgets.VBox([self.policy_choice, self.editor, self.button, self.result])

    # -- behaviour ----------------------------------------------------------------------------------------

    def evaluate(self, _button: Any = None) -> None:
        """Parse the edited policy, swap it in, and show whether the failing request is allowed now."""
        request, before = self._request_and_policies()
        if request is None:
            self.result.value = '<p class="kit-muted">No authorization request failed: nothing to re-evaluate.</p>'
            return
        from kit.policy import parse_policy, what_if

        choice = self.policy_choice.value
        try:
            document = json.loads(self.editor.value)
            edited = parse_policy(document, _name_of(before, choice))
        except json.JSONDecodeError as exc:
            self.result.value = _error(f"not valid JSON: {exc}")
            return
        except KitError as exc:
            self.result.value = _error(str(exc))
            return
        after = _swapped(before, choice, edited)
        self.last = what_if(request, before, after)
        self.result.value = self._render(self.last)

    def _load(self) -> None:
        _request, policies = self._request_and_policies()
        options: list[tuple[str, str]] = []
        if policies is not None:
            for index, policy in enumerate(policies.identity):
                options.append((self.investigation.text(f"identity policy {policy.name}"), f"identity:{index}"))
            if policies.resource_policy is not None:
                options.append(("key policy", KEY_POLICY))
            if not policies.identity:
                options.append(("new identity policy", "identity:new"))
        self.policy_choice.options = options
        self.policy_choice.value = options[0][1] if options else None
        self._fill_editor()
        self.result.value = ""

    def _fill_editor(self) -> None:
        _request, policies = self._request_and_policies()
        choice = self.policy_choice.value
        if policies is None or not choice:
            self.editor.value = ""
            return
        if choice == KEY_POLICY:
            document = policies.resource_policy.document
        elif choice == "identity:new":
            document = {"Version": "2012-10-17", "Statement": []}
        else:
            document = policies.identity[int(choice.split(":")[1])].document
        self.editor.value = json.dumps(document, indent=2)

    def _request_and_policies(self) -> tuple[Any, Any]:
        findings = self.investigation.findings
        if findings is None:
            return None, None
        return getattr(findings, "request", None), getattr(findings, "policies", None)

    def _render(self, outcome: Any) -> str:
        decision = outcome.decision
        tone = "good" if outcome.allowed else "bad"
        verdict = "would be ALLOWED" if outcome.allowed else "would still be DENIED"
        text = self.investigation.text
        lines = "".join(f"<li>{blocks.text(text(line))}</li>" for line in decision.explanation)
        broadened = "".join(f"<li>{blocks.text(text(line))}</li>" for line in outcome.broadened)
        return (blocks.stylesheet() + f'<div class="kit-report"><div class="kit-banner kit-tone-{tone}">'
                f"<h2>With this policy the failing request {verdict}</h2>"
                f"<p>decided by <code>{blocks.text(decision.decided_by)}</code>"
                + (f" in <code>{blocks.text(decision.layer)}</code>" if decision.layer else "") + "</p>"
                f"<ul>{lines}</ul>"
                + (f"<p><b>The change also allows, beyond the failing request:</b></p><ul>{broadened}</ul>"
                   if broadened else "<p>The change allows nothing else the kit probes for.</p>")
                + "</div></div>")


def _name_of(policies: Any, choice: str) -> str:
    if choice == KEY_POLICY:
        return policies.resource_policy.name if policies.resource_policy else KEY_POLICY
    if choice == "identity:new":
        return "inline:what-if"
    return policies.identity[int(choice.split(":")[1])].name


def _swapped(policies: Any, choice: str, edited: Any) -> Any:
    """A copy of `policies` with the chosen policy replaced by `edited`."""
    if choice == KEY_POLICY:
        return dataclasses.replace(policies, resource_policy=edited)
    identity = list(policies.identity)
    if choice == "identity:new":
        identity.append(edited)
    else:
        identity[int(choice.split(":")[1])] = edited
    return dataclasses.replace(policies, identity=identity)


def _error(message: str) -> str:
    return f'<p style="color:#b71c1c"><b>Cannot evaluate:</b> {html.escape(message)}</p>'
