"""The instances that failed to launch in one account and Region: the picker's table.

Read-only, through kit.collect's guarded clients (every operation outside the allow-list is refused before
it leaves the process) and a botocore paginator. An instance counts as failed when it is stopped or
terminated with a state reason kit.diagnose reads as a launch failure (a KMS candidate or a named cause).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

COLUMNS = ["instance_id", "name", "state", "state_reason", "launch_time", "instance_type"]
FAILED_KINDS = frozenset({"kms-candidate", "cause"})


def failed_instances(region: str, *, profile: str = "", role_arn: str = "") -> pd.DataFrame:
    """Instances in `region` that went pending, then stopped (or terminated) on a launch failure."""
    from kit.collect.clients import ReadOnlyClients, make_session

    session = make_session(profile=profile or None, role_arn=role_arn or None, region=region)
    ec2 = ReadOnlyClients(session, region)("ec2")
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": ["stopped", "terminated", "stopping", "shutting-down"]}])
    instances = [instance for page in pages for reservation in page.get("Reservations", [])
                 for instance in reservation.get("Instances", [])]
    return failed_from_instances(instances)


def failed_from_instances(instances: list[dict[str, Any]]) -> pd.DataFrame:
    """The failed launches among describe-instances' Instances, newest first."""
    from kit.diagnose.state_reason import read_state_reason

    rows = []
    for instance in instances:
        reason = instance.get("StateReason") or {}
        read = read_state_reason(instance.get("State", {}).get("Name"), reason.get("Code"), reason.get("Message"),
                                 instance.get("StateTransitionReason"))
        if read.kind not in FAILED_KINDS:
            continue
        tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags") or []}
        rows.append({"instance_id": instance.get("InstanceId"), "name": tags.get("Name") or "",
                     "state": instance.get("State", {}).get("Name"), "state_reason": read.effective or "",
                     "launch_time": pd.to_datetime(instance.get("LaunchTime"), utc=True),  # type: ignore[arg-type]  # None -> NaT
                     "instance_type": instance.get("InstanceType")})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values("launch_time", ascending=False, kind="stable").reset_index(drop=True)
