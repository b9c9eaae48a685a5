"""EC2 state reasons: the effective reason (message prefix) and what it means for the diagnosis."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from kit.causes import state_reasons

StateReasonKind = Literal["kms-candidate", "cause", "not-a-launch-failure", "running", "unknown"]
_PREFIX = re.compile(r"^\s*((?:Client|Server)\.[A-Za-z0-9.]+)\s*:")
_USER_INITIATED = re.compile(r"User initiated(?: \((?P<when>[^)]*)\))?", re.IGNORECASE)


@dataclass(frozen=True)
class StateReason:
    """StateReason read the way the seed's step 1 reads it, without trusting the code alone."""

    state: str | None  # State.Name
    code: str | None  # StateReason.Code (secondary)
    message: str | None  # StateReason.Message
    transition: str | None  # StateTransitionReason
    effective: str | None  # message prefix before ':' when it names a reason, else the code
    kind: StateReasonKind
    cause: str | None  # contracts cause code when kind == "cause"
    lookalike: str | None  # the lookalike the reason confirms
    meaning: str

    @property
    def disagrees(self) -> bool:
        """Code and message prefix name different reasons."""
        return bool(self.code and self.effective and self.code != self.effective)

    @property
    def user_initiated(self) -> bool:
        """StateTransitionReason says a user (or automation) initiated the last transition."""
        return bool(self.transition and _USER_INITIATED.search(self.transition))


def read_state_reason(state: Any, code: Any, message: Any, transition: Any) -> StateReason:
    """Classify an instance's state and state reason (values may be None / pandas NA)."""
    state, code, message, transition = (_text(v) for v in (state, code, message, transition))
    match = _PREFIX.match(message or "")
    effective = match.group(1) if match else code
    if state in ("running", "pending"):
        return StateReason(state, code, message, transition, effective, "running", None, None,
                           f"the instance is {state}")
    entry = reason_table().get(effective or "") if effective else None
    if entry is None and code and code != effective:
        entry = reason_table().get(code)
    if entry is None:
        meaning = "no state reason recorded" if not effective else f"unrecognised state reason {effective}"
        return StateReason(state, code, message, transition, effective, "unknown", None, None, meaning)
    return StateReason(state, code, message, transition, effective, entry["kind"], entry.get("cause"),
                       entry.get("lookalike"), entry.get("meaning", ""))


@lru_cache(maxsize=1)
def reason_table() -> dict[str, dict[str, Any]]:
    """Effective reason -> {kind, cause, lookalike, meaning}, from the cause table (kit/causes.yaml)."""
    return {code: {"kind": r.kind, "cause": r.cause if r.kind == "cause" else None, "lookalike": r.lookalike,
                   "meaning": r.meaning} for code, r in state_reasons().items()}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    text = str(value).strip()
    return text or None


# -- "failed to launch": the one rule the notebook's instance picker and `kit scan` share ----------------

# An instance whose launch failed is stopping or stopped (EBS-backed) or shutting-down or terminated
# (instance store, or terminated by Auto Scaling); stopping and shutting-down are a failure in progress.
FAILED_LAUNCH_STATES = ("stopping", "stopped", "shutting-down", "terminated")
FAILED_LAUNCH_KINDS = ("kms-candidate", "cause")  # read_state_reason kinds that mean "the launch failed"


def read_instance_state(instance: dict[str, Any]) -> StateReason:
    """read_state_reason of one describe-instances Instance (State, StateReason, StateTransitionReason)."""
    reason = instance.get("StateReason") or {}
    return read_state_reason((instance.get("State") or {}).get("Name"), reason.get("Code"), reason.get("Message"),
                             instance.get("StateTransitionReason"))


def failed_to_launch(reading: StateReason) -> bool:
    """True when the reading is a launch that failed: a state in FAILED_LAUNCH_STATES (a stop or termination,
    done or under way) with a state reason the diagnosis reads as a launch failure (a KMS candidate or a named
    cause), not a stop someone or something asked for."""
    return reading.state in FAILED_LAUNCH_STATES and reading.kind in FAILED_LAUNCH_KINDS
