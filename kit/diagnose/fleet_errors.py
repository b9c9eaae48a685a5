"""A fleet's error set in the verdict: CreateFleet answers, per launch template override that launched nothing, an
error code and message (kit.frames.launch_paths.fleet_errors). The verdict cites them and says which kind each
is, so that a capacity error the fleet also reported is not taken for the cause of a KMS failure, and a KMS
refusal in the error set is not taken for a capacity problem."""

from __future__ import annotations

from typing import Any

from kit.frames.launch_paths import fleet_errors, fleet_instance_ids

MAX_CITED = 3


def fleet_error_note(launch_record: dict[str, Any] | None, instance_id: str) -> str | None:
    """One or two sentences for the verdict about the error set of the CreateFleet that launched the instance
    (None when the launch was not a CreateFleet or its error set is empty)."""
    if not launch_record or launch_record.get("eventName") != "CreateFleet":
        return None
    errors = fleet_errors(launch_record)
    if not errors:
        return None
    cited = "; ".join(_cite(e) for e in errors[:MAX_CITED])
    more = f" (and {len(errors) - MAX_CITED} more)" if len(errors) > MAX_CITED else ""
    launched = instance_id in fleet_instance_ids(launch_record)
    kms = [e for e in errors if e["kind"] == "kms"]
    count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
    if launched:
        head = (f"The CreateFleet call that launched this instance also answered {count} for other launch "
                f"template overrides: {cited}{more}.")
        tail = (" A KMS refusal there concerns the same launch template's keys." if kms else
                " No KMS refusal among them: they explain the instances the fleet did not launch, not this failure.")
        return head + tail
    return f"The CreateFleet call answered {count} and no instance id for them: {cited}{more}."


def _cite(error: dict[str, str]) -> str:
    where = f" for {error['instance_type']}" if error.get("instance_type") else ""
    return f"{error['code'] or 'an error'}{where}: {error['kind_words']}"
