"""A seeded failing launch made again: decided by the policies the world holds now, not by the script.

A launch that ended `terminated` cannot be started again; its launcher retries it. The simulator recognises a
retry as AWS sees one: a RunInstances, CreateFleet (instant), RequestSpotInstances or RequestSpotFleet signed
with the credentials of a seeded failing launch's launcher (an IAM user's access key, or an assumed session of
its role; for a Spot or Spot Fleet launch, of whoever requested it) for the same image or launch template, or a new launch by the
Auto Scaling group of a seeded launch (SetDesiredCapacity). moto runs the new instance; each KMS call the
launch makes (the seeded launch's calls, for the new instance's volumes, a volume whose key came from the
Region's default taking the default key as it is now) goes to kit.policy's evaluator as a start does
(kit/simulate/authorize.py). Allowed: the instance runs and EC2's grants are left on its keys. Refused: it
goes pending and ends terminated with the scenario's StateReason, and its events reach the trail.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kit.simulate import moto_state
from kit.simulate.extensions.context import Context
from kit.simulate.keys import kms_error_templates
from kit.simulate.launch import Launch
from kit.simulate.logs import publish
from kit.simulate.records import Principal
from kit.simulate.wire import Request
from kit.simulate.world import world

KINDS = {"RunInstances": "run", "CreateFleet": "fleet", "RequestSpotInstances": "spot",
         "RequestSpotFleet": "spot-fleet"}
REFUSAL = "no-identity-policy"   # a call the scenario did not script as refused, refused now


def retried_launch(request: Request) -> Launch | None:
    """The seeded failing launch this EC2 launch call retries (same launcher, same kind of call, same image or
    launch template), None when it retries none."""
    kind = KINDS.get(request.operation)
    if kind is None:
        return None
    account, region = request.account, request.region
    caller = moto_state.caller_arn(account, request.access_key)
    launches = list(world().failures.values())   # no lock: the seeder holds it while it calls RunInstances
    for launch in reversed(launches):
        if ((launch.account_id, launch.region) != (account, region) or launch.launch != kind or launch.group
                or not launch.failure.get("state") == "terminated"):
            continue
        if _is(caller, launch.requester or launch.principal) and _same_source(launch, request):
            return launch
    return None


def group_launch(account: str, region: str, group: str) -> Launch | None:
    """The seeded failing launch of that Auto Scaling group, None when it has none."""
    launches = list(world().failures.values())
    return next((launch for launch in reversed(launches)
                 if (launch.account_id, launch.region, launch.group) == (account, region, group)), None)


def play(seeded: Launch, instance_id: str, context: Context) -> Launch:
    """The new instance `instance_id` (moto launched it) as the seeded launch made again, decided by the world's
    policies now; the decided Launch (running, or pending and terminated shortly)."""
    from kit.simulate.authorize import decide_start
    from kit.simulate.extensions.ec2 import finish_failed_start

    account, region = seeded.account_id, seeded.region
    default_key = moto_state.ebs_default_key(account, region) or moto_state.aws_ebs_key_arn(account, region)
    again = seeded.retried(instance_id, moto_state.instance_volumes(account, region, instance_id), default_key)
    for volume in again.volumes:
        if volume.get("key_arn") and volume.get("volume_id"):
            moto_state.set_volume_key(account, region, volume["volume_id"], volume["key_arn"])
    template = kms_error_templates()[REFUSAL]
    decided = again.decided([d.allowed for d in decide_start(again)], (template["code"], template["message"]))
    at = datetime.now(UTC)
    if not decided.fails:
        with world().lock:
            publish(decided.timeline(at))
            decided.create_grants()
        return decided
    decided.set_pending()
    delay = max((c.after for c in decided.kms_calls), default=1.0) + 0.5
    context.later(delay, finish_failed_start, decided, at)
    return decided


def new_instances(account: str, region: str, before: set[str]) -> list[str]:
    """The instances of the account and Region that are not in `before`."""
    return sorted(moto_state.instance_ids(account, region) - before)


def _is(caller: str, principal: Principal) -> bool:
    """Whether the ARN moto knows for the caller's key is that principal (the user, or its role's session)."""
    kind = "user" if principal.kind == "user" else "role"
    return (caller.split(":")[4:5] == [principal.account_id] and f":{kind}/" in caller
            and caller.rsplit("/", 1)[-1] == principal.name)


def _same_source(launch: Launch, request: Request) -> bool:
    """The call launches from the seeded launch's launch template, or (without one) its image."""
    template = (launch.launch_template or {}).get("id", "")
    named = {value[0] for name, value in request.params.items()
             if name.endswith("LaunchTemplateId") or name.endswith("ImageId")}
    return (template in named) if template else launch.image_id in named
