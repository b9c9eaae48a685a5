"""Auto Scaling activities: what the group tried, and the launch error it got."""

from __future__ import annotations

from typing import Any, Iterator

from kit.aws_ids import INSTANCE_ID_IN_TEXT
from kit.evidence import Evidence


def activity_rows(evidence: Evidence) -> Iterator[dict[str, Any]]:
    """One row per activity of autoscaling.describe-scaling-activities."""
    document = evidence.document("autoscaling.describe-scaling-activities.json") or {}
    for activity in document.get("Activities") or []:
        text = " ".join(str(activity.get(k) or "") for k in ("Description", "Cause", "Details"))
        found = INSTANCE_ID_IN_TEXT.findall(text)
        yield {
            "activity_id": activity.get("ActivityId"),
            "auto_scaling_group_name": activity.get("AutoScalingGroupName"),
            "instance_id": found[0] if found else None,
            "status_code": activity.get("StatusCode"),
            "status_message": activity.get("StatusMessage"),
            "description": activity.get("Description"),
            "cause": activity.get("Cause"),
            "start_time": activity.get("StartTime"),
            "end_time": activity.get("EndTime"),
            "progress": activity.get("Progress"),
        }
