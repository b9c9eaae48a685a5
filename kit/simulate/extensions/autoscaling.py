"""Auto Scaling DescribeScalingActivities (moto always answers none): the seeded launches' activities."""

from __future__ import annotations

from datetime import UTC, datetime

from kit.simulate.extensions.context import Context, Handler
from kit.simulate.wire import Request, Response, request_id, xml_elements, xml_response
from kit.simulate.world import world

NAMESPACE = "http://autoscaling.amazonaws.com/doc/2011-01-01/"


def describe_scaling_activities(request: Request, context: Context) -> Response:
    """One page of the activities, newest first, filtered by group name and activity ids."""
    group = request.params.get("AutoScalingGroupName", [None])[0]
    wanted = set(request.members("ActivityIds.member."))
    token, records = request.param("NextToken", "0"), request.param("MaxRecords", "100")
    start = int(token) if token.isdigit() else 0
    size = int(records) if records.isdigit() and int(records) > 0 else 100
    activities = scaling_activities(request.account, request.region, group, wanted)
    page = activities[start:start + size]
    members = "".join(f"<member>{xml_elements(a)}</member>" for a in page)
    next_token = f"<NextToken>{start + size}</NextToken>" if start + size < len(activities) else ""
    return xml_response(f'<DescribeScalingActivitiesResponse xmlns="{NAMESPACE}"><DescribeScalingActivitiesResult>'
                        f"<Activities>{members}</Activities>{next_token}</DescribeScalingActivitiesResult>"
                        f"<ResponseMetadata><RequestId>{request_id()}</RequestId></ResponseMetadata>"
                        "</DescribeScalingActivitiesResponse>")


def set_desired_capacity(request: Request, context: Context) -> Response:
    """SetDesiredCapacity: moto launches the instances; in a group with a seeded failing launch, each is that
    launch made again by the group's service-linked role, decided by the world's policies now
    (kit/simulate/relaunch.py), with its scaling activity."""
    from kit.simulate import moto_state, relaunch
    from kit.simulate.instances import scaling_activity

    account, region, group = request.account, request.region, request.param("AutoScalingGroupName")
    seeded = relaunch.group_launch(account, region, group)
    before = moto_state.instance_ids(account, region) if seeded else set()
    response = context.forward(request)
    if seeded is not None and response.ok:
        for instance_id in relaunch.new_instances(account, region, before):
            launch = relaunch.play(seeded, instance_id, context)
            moto_state.tag_instance(account, region, instance_id, {"aws:autoscaling:groupName": group})
            with world().lock:
                scaling_activity(group, account, region, instance_id, launch.failure, datetime.now(UTC))
    return response


HANDLERS: dict[str, Handler] = {"DescribeScalingActivities": describe_scaling_activities,
                                "SetDesiredCapacity": set_desired_capacity}


# ---- world -------------------------------------------------------------------------------------------------

def scaling_activities(account: str, region: str, group: str | None, activity_ids: set[str]) -> list[dict[str, str]]:
    """The world's Auto Scaling activities of that account and Region, newest first, of `group` (any if None)
    and among `activity_ids` (any if empty)."""
    return [a for a in reversed(world().activities.get((account, region), []))
            if (group is None or a["AutoScalingGroupName"] == group)
            and (not activity_ids or a["ActivityId"] in activity_ids)]
