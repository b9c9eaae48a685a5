"""EC2: StartInstances as AWS answers it for failing and terminated instances, the default EBS key calls moto
lacks, and volumes' KmsKeyId as the key ARN after the calls that create volumes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kit.simulate import moto_state
from kit.simulate.extensions.context import Context, Handler
from kit.simulate.keys import normalise_key_arn
from kit.simulate.launch import Launch
from kit.simulate.logs import publish
from kit.simulate.trail import format_time
from kit.simulate.wire import Request, Response, error_response, request_id, xml_response
from kit.simulate.world import world

if TYPE_CHECKING:
    from kit.simulate.authorize import Session

NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"


def start_instances(request: Request, context: Context) -> Response:
    """StartInstances: IncorrectInstanceState for a terminated instance; a failing scenario instance answers
    pending and later stops with its StateReason; anything else is moto's."""
    account, region, ids = request.account, request.region, request.members("InstanceId.")
    for instance_id in ids:
        if moto_state.instance_state(account, region, instance_id) == "terminated":
            return error_response("ec2", "IncorrectInstanceState",
                                  f"The instance '{instance_id}' is not in a state from which it can be started.")
    failing = failing_launches(account, region, ids)
    succeeding = [launch for launch, replaying in failing
                  if not replaying and fixed_now(launch, launcher_session(request, launch))]
    failing = [(launch, replaying) for launch, replaying in failing if launch not in succeeding]
    response = context.forward(request)
    if response.ok:
        for launch in succeeding:
            start_fixed(launch)
    if not failing or not response.ok:
        return response
    start_failing(failing, context)
    return response.with_body(pending_answer(response.body, {launch.instance_id for launch, _ in failing}))


def get_ebs_default_kms_key_id(request: Request, context: Context) -> Response:
    """GetEbsDefaultKmsKeyId (moto has none). Never set, AWS answers alias/aws/ebs."""
    key_id = ebs_default_key(request.account, request.region)
    return _key_id_answer("GetEbsDefaultKmsKeyId", key_id)


def reset_ebs_default_kms_key_id(request: Request, context: Context) -> Response:
    """ResetEbsDefaultKmsKeyId (moto has none): back to aws/ebs, answered with its ARN."""
    key_arn = reset_ebs_default_key(request.account, request.region)
    return _key_id_answer("ResetEbsDefaultKmsKeyId", key_arn)


def creating_volumes(request: Request, context: Context) -> Response:
    """moto's answer to a call that creates volumes or snapshots, after which their KmsKeyId is the key ARN."""
    response = context.forward(request)
    normalise_volume_keys(request.account, request.region)
    return response


def launching(request: Request, context: Context) -> Response:
    """RunInstances, CreateFleet, RequestSpotInstances, RequestSpotFleet: moto's answer; when the call retries a seeded failing
    launch (its launcher, the same image or launch template: kit/simulate/relaunch.py), each instance it
    launched is decided by the world's policies now."""
    from kit.simulate import relaunch

    seeded = relaunch.retried_launch(request)
    before = moto_state.instance_ids(request.account, request.region) if seeded else set()
    response = context.forward(request)
    normalise_volume_keys(request.account, request.region)
    if seeded is not None and response.ok:
        for instance_id in relaunch.new_instances(request.account, request.region, before):
            relaunch.play(seeded, instance_id, context)
    return response


def describe_fleet_history(request: Request, context: Context) -> Response:
    """DescribeFleetHistory (moto has none): the instance-change events of the seeded EC2 Fleets since StartTime
    (AWS keeps 48 hours); InvalidFleetId.NotFound for a fleet the world does not know."""
    fleet_id = request.param("FleetId")
    launched = fleet_launches(request.account, request.region, fleet_id)
    if launched is None:
        return error_response("ec2", "InvalidFleetId.NotFound", f"The fleet ID '{fleet_id}' does not exist")
    start = request.param("StartTime")
    items = "".join(
        f"<item><eventInformation><eventSubType>launched</eventSubType><instanceId>{instance_id}</instanceId></eventInformation>"
        f"<eventType>instance-change</eventType><timestamp>{format_time(at)}</timestamp></item>"
        for instance_id, at in launched if not start or format_time(at) >= start[:19] + "Z")
    now = format_time(datetime.now(UTC))
    return xml_response(f'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeFleetHistoryResponse xmlns="{NAMESPACE}">'
                        f"<requestId>{request_id()}</requestId><fleetId>{fleet_id}</fleetId>"
                        f"<historyRecordSet>{items}</historyRecordSet><lastEvaluatedTime>{now}</lastEvaluatedTime>"
                        f"<startTime>{start}</startTime></DescribeFleetHistoryResponse>")


HANDLERS: dict[str, Handler] = {
    "DescribeFleetHistory": describe_fleet_history,
    "StartInstances": start_instances,
    "GetEbsDefaultKmsKeyId": get_ebs_default_kms_key_id,
    "ResetEbsDefaultKmsKeyId": reset_ebs_default_kms_key_id,
    "RunInstances": launching,
    "CreateFleet": launching,
    "RequestSpotInstances": launching,
    "RequestSpotFleet": launching,
    "CreateVolume": creating_volumes,
    "CopySnapshot": creating_volumes,
    "CreateSnapshot": creating_volumes,
    "CreateSnapshots": creating_volumes,
}


def _key_id_answer(action: str, key_id: str) -> Response:
    return xml_response(f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{NAMESPACE}">'
                        f"<requestId>{request_id()}</requestId><kmsKeyId>{key_id}</kmsKeyId></{action}Response>")


def pending_answer(body: bytes, instance_ids: set[str]) -> bytes:
    """Rewrite a StartInstances answer so the given instances report currentState pending (code 0)."""
    ET.register_namespace("", NAMESPACE)
    root = ET.fromstring(body)
    for item in root.iter(f"{{{NAMESPACE}}}item"):
        instance_id = item.findtext(f"{{{NAMESPACE}}}instanceId")
        state = item.find(f"{{{NAMESPACE}}}currentState")
        if instance_id in instance_ids and state is not None:
            state.find(f"{{{NAMESPACE}}}code").text = "0"      # type: ignore[union-attr]
            state.find(f"{{{NAMESPACE}}}name").text = "pending"  # type: ignore[union-attr]
    return bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))


# ---- world -------------------------------------------------------------------------------------------------

def failing_launches(account: str, region: str, instance_ids: list[str]) -> list[tuple[Launch, bool]]:
    """The seeded failing launches among the instances that are stopped, or pending (True: a replay is under
    way, AWS answers pending again)."""
    found = []
    for instance_id in instance_ids:
        launch = world().failures.get((account, region, instance_id))
        state = moto_state.instance_state(account, region, instance_id)
        if launch is not None and state in ("stopped", "pending"):
            found.append((launch, state == "pending"))
    return found


def start_failing(launches: list[tuple[Launch, bool]], context: Context) -> None:
    """Each launch pending now; those not already replaying stop with the scenario's StateReason after their
    last KMS call (+0.5 s), and the launch's events are appended with the new times."""
    at = datetime.now(UTC)
    for launch, replaying in launches:
        launch.set_pending()
        if not replaying:
            delay = max((c.after for c in launch.kms_calls), default=1.0) + 0.5
            context.later(delay, finish_failed_start, launch, at)


def fixed_now(launch: Launch, session: Session | None = None) -> bool:
    """A KMS-failing launch whose every KMS call the world's current policies and key states allow (kit.policy's
    evaluator decides: see kit/simulate/authorize.py); lookalike failures stay scripted."""
    from kit.simulate.authorize import decided_by_policies, start_allowed

    return decided_by_policies(launch) and start_allowed(launch, session)


def launcher_session(request: Request, launch: Launch) -> Session | None:
    """The launcher's own new session when one signs the start (an assumed session of the launcher's role),
    with the session policy it was created with; None for any other signer (the scripted session stands)."""
    from kit.simulate.authorize import Session

    found = moto_state.role_session(request.account, request.access_key)
    if found is None or launch.principal.kind == "user":
        return None
    role_arn, policy = found
    same_role = (role_arn.split(":")[4:5] == [launch.principal.account_id]
                 and role_arn.rsplit("/", 1)[-1] == launch.principal.name)
    return Session(policy) if same_role else None


def start_fixed(launch: Launch) -> None:
    """The start succeeds (moto started it): the instance is no longer a failing one, and EC2's grant is left
    on each key as a real start leaves it."""
    with world().lock:
        world().failures.pop((launch.account_id, launch.region, launch.instance_id), None)
        launch.create_grants(force=True)


def finish_failed_start(launch: Launch, at: datetime) -> None:
    """The replay's end: the launch's events in the trail, the instance in its final state."""
    with world().lock:
        publish(launch.timeline(at))
        launch.apply_final_state(at)


def fleet_launches(account: str, region: str, fleet_id: str) -> list[tuple[str, datetime]] | None:
    """The (instance id, launch time) of a seeded EC2 Fleet, or None when there is no such fleet."""
    return world().fleets.get((account, region, fleet_id))


def ebs_default_key(account: str, region: str) -> str:
    """The default EBS key as GetEbsDefaultKmsKeyId names it: alias/aws/ebs while it is aws/ebs (set on
    first read, as AWS's default is), else the key's ARN."""
    aws_managed = moto_state.aws_ebs_key_arn(account, region)
    if not moto_state.ebs_default_key(account, region):
        moto_state.set_ebs_default_key(account, region, aws_managed)
    key = moto_state.ebs_default_key(account, region)
    return "alias/aws/ebs" if key == aws_managed else key


def reset_ebs_default_key(account: str, region: str) -> str:
    """Set the default EBS key back to aws/ebs; its ARN."""
    aws_managed = moto_state.aws_ebs_key_arn(account, region)
    moto_state.set_ebs_default_key(account, region, aws_managed)
    return aws_managed


def normalise_volume_keys(account: str, region: str) -> None:
    """Every volume's and snapshot's KmsKeyId as the key ARN (moto keeps the id it was given)."""
    moto_state.rewrite_volume_keys(account, region, lambda key_id: normalise_key_arn(key_id, account, region))
