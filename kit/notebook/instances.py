"""The instances that failed to launch in one account and Region: the picker's table.

Read-only, through kit.collect's guarded clients (every operation outside the allow-list is refused before
it leaves the process) and a botocore paginator. Which instances count as failed is
kit.diagnose.state_reason.failed_to_launch, the rule `kit scan` uses too.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

COLUMNS = ["instance_id", "name", "state", "state_reason", "launch_time", "instance_type"]


def failed_instances(region: str, *, profile: str = "", role_arn: str = "") -> pd.DataFrame:
    """Instances in `region` that went pending, then stopped (or terminated) on a launch failure."""
    from kit.collect.clients import ReadOnlyClients, make_session
    from kit.diagnose.state_reason import FAILED_LAUNCH_STATES

    session = make_session(profile=profile or None, role_arn=role_arn or None, region=region)
    ec2 = ReadOnlyClients(session, region)("ec2")
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": list(FAILED_LAUNCH_STATES)}])
    instances = [instance for page in pages for reservation in page.get("Reservations", [])
                 for instance in reservation.get("Instances", [])]
    return failed_from_instances(instances)


def failed_from_instances(instances: list[dict[str, Any]]) -> pd.DataFrame:
    """The failed launches among describe-instances' Instances, newest first."""
    from kit.diagnose.state_reason import failed_to_launch, read_instance_state

    rows = []
    for instance in instances:
        read = read_instance_state(instance)
        if not failed_to_launch(read):
            continue
        tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags") or []}
        rows.append({"instance_id": instance.get("InstanceId"), "name": tags.get("Name") or "",
                     "state": instance.get("State", {}).get("Name"), "state_reason": read.effective or "",
                     "launch_time": pd.to_datetime(instance.get("LaunchTime"), utc=True),  # type: ignore[arg-type]  # None -> NaT
                     "instance_type": instance.get("InstanceType")})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values("launch_time", ascending=False, kind="stable").reset_index(drop=True)
