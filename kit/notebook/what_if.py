"""The what-if policy editor: change the identity or key policy, re-evaluate the failing request.

The Textarea holds one policy of the failing request's PolicySet as JSON, or (first, when the diagnosis
proposes one) the proposed fix from the remediation. The button parses it (kit.policy.parse_policy: a bad
document is reported naming the statement and field), swaps it into a copy of the PolicySet and asks
kit.policy.what_if whether the request would now be allowed, and what else the change would allow that was
refused before (shown in amber: an over-broad change). The diff against the current document is shown.
A request allowed only because a layer the evidence lacks was stood in for is "unknown", not "allowed".
Nothing is ever sent to AWS, and nothing is collected again.
"""

from __future__ import annotations

import dataclasses
import difflib
import html
import json
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from kit.errors import KitError
from kit.notebook.live import FULL_WIDTH
from kit.views import html as blocks

if TYPE_CHECKING:
    from kit.notebook.investigation import Investigation

KEY_POLICY = "key-policy"
FIX = "fix:"  # choice prefix: a proposed fix (index into findings.remediation)
FIX_LAYERS = ("identity-policy", "key-policy", "permissions-boundary", "scp")


class WhatIfEditor:
    """Textarea + button re-evaluating the failing request with an edited policy."""

    def __init__(self, investigation: Investigation) -> None:
        self.investigation = investigation
        self.policy_choice = widgets.Dropdown(description="Policy", layout=widgets.Layout(width="620px"))
        self.editor = widgets.Textarea(layout=widgets.Layout(width=FULL_WIDTH, height="280px"))
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
        fix = self._fix(choice)
        try:
            document = json.loads(self.editor.value)
            if fix is not None:
                from kit.diagnose.remediation.changes import apply_change

                parse_policy(document, fix.replaces or "inline:kit-remediation")  # names a bad statement
                after = apply_change(before, str(fix.layer), document, fix.replaces)
            else:
                after = _swapped(before, choice, parse_policy(document, _name_of(before, choice)))
        except json.JSONDecodeError as exc:
            self.result.value = _error(f"not valid JSON: {exc}")
            return
        except KitError as exc:
            self.result.value = _error(str(exc))
            return
        self.last = what_if(request, before, after)
        from kit.notebook.investigation import _stand_in_layers

        self.result.value = self._render(self.last, _stand_in_layers(after), self._diff(document))

    def _load(self) -> None:
        _request, policies = self._request_and_policies()
        options: list[tuple[str, str]] = []
        if policies is not None:
            for index, item in enumerate(self._remediation()):
                if item.kind in ("iam-policy", "key-policy") and item.layer in FIX_LAYERS and isinstance(
                        item.document, dict) and (item.replaces or item.layer == "identity-policy"):
                    mark = "verified" if item.verified else "not verified"
                    options.append((self.investigation.text(f"proposed fix: {item.title or item.layer} ({mark})"),
                                    f"{FIX}{index}"))
            for index, policy in enumerate(policies.identity):
                options.append((self.investigation.text(f"identity policy {policy.name}"), f"identity:{index}"))
            if policies.resource_policy is not None:
                unread = _stand_in(policies.resource_policy.name)
                options.append(("key policy (not readable: a stand-in; paste the real one)" if unread
                                else "key policy", KEY_POLICY))
            if not policies.identity:
                options.append(("new identity policy", "identity:new"))
        self.policy_choice.options = options
        self.policy_choice.value = options[0][1] if options else None
        self._fill_editor()

    def _fill_editor(self) -> None:
        _request, policies = self._request_and_policies()
        choice = self.policy_choice.value
        if policies is None or not choice:
            self.editor.value = ""
            self.result.value = ""
            return
        fix = self._fix(choice)
        if fix is not None:
            document = fix.document
        elif choice == KEY_POLICY:
            document = policies.resource_policy.document
        elif choice == "identity:new":
            document = {"Version": "2012-10-17", "Statement": []}
        else:
            document = policies.identity[int(choice.split(":")[1])].document
        self.editor.value = json.dumps(document, indent=2)
        from kit.notebook.summary import style

        self.result.value = (style() + '<div class="kit-report kit-live">' + self._diff(document)
                             + '<p class="kit-muted">Edit the document if needed, then Re-evaluate.</p></div>')

    def _remediation(self) -> list[Any]:
        findings = self.investigation.findings
        return list(getattr(findings, "remediation", None) or [])

    def _fix(self, choice: str | None) -> Any:
        """The remediation item a `fix:` choice names, or None."""
        if not choice or not choice.startswith(FIX):
            return None
        items = self._remediation()
        index = int(choice[len(FIX):])
        return items[index] if index < len(items) else None

    def current_document(self) -> dict[str, Any] | None:
        """The document the chosen policy has today in the evidence (None: a new policy)."""
        _request, policies = self._request_and_policies()
        choice = self.policy_choice.value
        if policies is None or not choice:
            return None
        fix = self._fix(choice)
        if fix is not None:
            if not fix.replaces:
                return None
            for policy in _all_policies(policies):
                if policy.name == fix.replaces:
                    return dict(policy.document)
            return None
        if choice == KEY_POLICY:
            return dict(policies.resource_policy.document) if policies.resource_policy else None
        if choice == "identity:new":
            return None
        return dict(policies.identity[int(choice.split(":")[1])].document)

    def _diff(self, edited: Any) -> str:
        """The edited document against the current one, as coloured unified-diff lines (escaped)."""
        current = self.current_document()
        before = json.dumps(current, indent=2, sort_keys=True).splitlines() if current is not None else []
        after = json.dumps(edited, indent=2, sort_keys=True).splitlines()
        lines = list(difflib.unified_diff(before, after, "current" if current is not None else "(new policy)",
                                          "edited", lineterm="", n=2))
        if not lines:
            return '<p class="kit-muted">No change against the current document.</p>'
        shown = []
        for line in lines:
            css = ("kit-hunk" if line.startswith(("@@", "---", "+++")) else "kit-add" if line.startswith("+")
                   else "kit-del" if line.startswith("-") else "")
            shown.append(f'<span class="{css}">{html.escape(self.investigation.text(line))}</span>' if css
                         else html.escape(self.investigation.text(line)) + "\n")
        return f'<p><b>Diff against the current document</b></p><div class="kit-diff">{"".join(shown)}</div>'

    def _request_and_policies(self) -> tuple[Any, Any]:
        findings = self.investigation.findings
        if findings is None:
            return None, None
        return getattr(findings, "request", None), getattr(findings, "policies", None)

    def _render(self, outcome: Any, stand_ins: list[str], diff: str) -> str:
        from kit.notebook.summary import style

        decision = outcome.decision
        text = self.investigation.text
        if outcome.allowed and stand_ins:  # only a stand-in for a layer the evidence lacks let it through
            tone, verdict = "unknown", "is UNKNOWN"
            reason = (f"<p>The layers the evidence shows allow it, but the {html.escape(', '.join(stand_ins))} "
                      "could not be read, so the evaluator cannot say whether AWS would allow it.</p>")
        else:
            tone = "good" if outcome.allowed else "bad"
            verdict = "would be ALLOWED" if outcome.allowed else "would still be DENIED"
            reason = (f"<p>decided by <code>{blocks.text(decision.decided_by)}</code>"
                      + (f" in <code>{blocks.text(decision.layer)}</code>" if decision.layer else "") + "</p>")
        lines = "".join(f"<li>{blocks.text(text(line))}</li>" for line in decision.explanation)
        broadened = "".join(f"<li>{blocks.text(text(line))}</li>" for line in outcome.broadened)
        if broadened:
            broad = ('<div class="kit-summary kit-amber" data-over-broad="true"><p class="kit-amber-text">'
                     f"Over-broad: the change also allows, beyond the failing request:</p><ul>{broadened}</ul>"
                     "<p>Narrow it (the key ARN as Resource, kms:GrantIsForAWSResource) before proposing it.</p></div>")
        else:
            broad = '<p>The change allows nothing else the kit probes for.</p>'
        amber = " kit-amber" if broadened and outcome.allowed else ""  # allowed, but more than the request
        return (blocks.stylesheet() + style() + f'<div class="kit-report kit-live"><div class="kit-banner kit-tone-{tone}{amber}">'
                f"<h2>With this policy the failing request {verdict}</h2>{reason}<ul>{lines}</ul></div>"
                f"{broad}{diff}</div>")


def _all_policies(policies: Any) -> list[Any]:
    """Every policy of a PolicySet, in no particular order."""
    found = list(policies.identity) + list(policies.session_policies) + [p for level in policies.scps for p in level]
    return found + [p for p in (policies.resource_policy, policies.boundary) if p is not None]


def _stand_in(name: str) -> bool:
    """A policy the diagnosis stood in for because the evidence lacks it (kit.diagnose.authorization)."""
    from kit.diagnose.authorization import STAND_IN_PREFIX

    return name.startswith(STAND_IN_PREFIX)


def _name_of(policies: Any, choice: str) -> str:
    if choice == KEY_POLICY:  # an edited stand-in is the analyst's document: evaluated as read
        name = policies.resource_policy.name if policies.resource_policy else KEY_POLICY
        return "what-if:key-policy" if _stand_in(name) else name
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
