"""What each step's status means for this incident: the cause, a symptom, fine, could not check, not applicable.

findings.json keeps the contract's status (pass | fail | unknown | skipped); `role` says what it means. A failing
step is *the cause* when it is the first failing step of the verdict cause's `shown_by` (kit/causes.yaml), *a
symptom* when the cause's kind is one its `symptom_of` lists (kit/diagnose/steps.yaml), and otherwise an
observation that does not matter here (an encrypted volume when the launch failed for want of capacity: fine).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from kit.causes import cause, kinds
from kit.diagnose.metadata import load_steps

StepRole = Literal["cause", "symptom", "fine", "unchecked", "not-applicable"]
ROLES: tuple[StepRole, ...] = ("cause", "symptom", "fine", "unchecked", "not-applicable")
# The words a reader sees for each role.
ROLE_WORDS: dict[str, str] = {"cause": "the cause", "symptom": "a symptom", "fine": "fine",
                              "unchecked": "could not check", "not-applicable": "not applicable"}


def step_roles(step_statuses: Sequence[tuple[str, str]], cause_id: str) -> list[StepRole]:
    """The role of each (step id, status), in order, for the verdict cause `cause_id`."""
    verdict = cause(cause_id)
    failing = [step_id for step_id, status in step_statuses if status == "fail"]
    the_cause = next((step_id for step_id in verdict.shown_by if step_id in failing), None)
    symptom_of = {str(s["id"]): set(s.get("symptom_of") or kinds()) for s in load_steps()}
    roles: list[StepRole] = []
    for step_id, status in step_statuses:
        if status == "pass":
            roles.append("fine")
        elif status == "unknown":
            roles.append("unchecked")
        elif status == "skipped":
            roles.append("not-applicable")
        elif step_id == the_cause:
            roles.append("cause")
        elif verdict.kind in symptom_of.get(step_id, set(kinds())):
            roles.append("symptom")
        else:
            roles.append("fine")
    return roles
