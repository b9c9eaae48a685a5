"""The scenario's instance: its image (own or shared from another account), its volumes and keys, its
Auto Scaling group, encryption by default, and the Launch that plays its events and final state."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from kit.simulate.catalogue import Scenario
from kit.simulate.clients import Clients
from kit.simulate.keys import kms_error_templates, normalise_key_arn
from kit.simulate.launch import KmsCall, Launch
from kit.simulate.placeholders import resolve, tag_list
from kit.simulate.records import Principal
from kit.simulate.trail import format_time
from kit.simulate.world import world


def launch_instance(clients: Clients, scenario: Scenario, ordinal: int, account: str, region: str,
                    principal: Principal, image_id: str, snapshot_id: str, keys: dict[str, str],
                    values: dict[str, str], at: datetime, requester: Principal | None = None) -> Launch:
    """Run the instance with its volumes (keys as ARNs) and return its Launch (final state not yet applied)."""
    from moto.ec2.models import ec2_backends

    spec = scenario.spec
    ispec = spec["instance"]
    ec2 = clients("ec2", account, region)
    name = ispec.get("name", scenario.name) + ("" if ordinal == 1 else f"-{ordinal}")
    mappings, volumes = [], []
    for vspec in ispec.get("volumes") or []:
        volume: dict[str, Any] = {"device": vspec["device"], "size": vspec.get("size", 8),
                                  "encrypted": bool(vspec.get("encrypted", vspec.get("key") is not None))}
        if vspec.get("key"):  # named by its ARN, or (key_by: alias) by its alias name, as a launch may name it
            volume["request_key_id"] = (spec["keys"][vspec["key"]]["alias"] if vspec.get("key_by") == "alias"
                                        else keys[vspec["key"]])
        # where an encrypted volume's key comes from: named by the launch, the image's snapshot, or the default
        volume["key_source"] = ("request" if vspec.get("key") else
                                "image" if vspec.get("from_image") and snapshot_id else "default")
        if vspec.get("missing_snapshot"):
            volume.update(in_request=True, snapshot_id=vspec["missing_snapshot"], created=False)
            volumes.append(volume)
            continue
        ebs: dict[str, Any] = {"VolumeSize": volume["size"], "DeleteOnTermination": True, "VolumeType": "gp3",
                               "Encrypted": volume["encrypted"]}
        if volume.get("request_key_id"):
            ebs["KmsKeyId"] = volume["request_key_id"]
        if vspec.get("from_image") and snapshot_id:
            ebs["SnapshotId"] = snapshot_id
        mappings.append({"DeviceName": vspec["device"], "Ebs": ebs})
        volumes.append(volume)
    tags = {"Name": name, **{k: resolve(str(v), values) for k, v in (ispec.get("tags") or {}).items()}}
    how = ispec.get("launch", "start")
    used_template = None
    if ispec.get("launch_template") or how == "fleet":
        used_template = launch_template(clients, ispec.get("launch_template") or {"name": f"{name}-fleet"}, account,
                                   region, image_id, ispec.get("type", "t3.micro"), mappings)
        tags.update({"aws:ec2launchtemplate:id": used_template["id"],
                     "aws:ec2launchtemplate:version": used_template["version"]})
    fleet_id = f"fleet-{uuid.uuid4()}" if how == "fleet" else ""
    spot_request_id = f"sir-{uuid.uuid4().hex[:8]}" if how == "spot" else ""
    if fleet_id:
        tags["aws:ec2:fleet-id"] = fleet_id
    spot_fleet_request_id = f"sfr-{uuid.uuid4()}" if how == "spot-fleet" else ""
    if spot_fleet_request_id:
        tags["aws:ec2spot:fleet-request-id"] = spot_fleet_request_id
    response = ec2.run_instances(
        ImageId=image_id, InstanceType=ispec.get("type", "t3.micro"), MinCount=1, MaxCount=1,
        Placement={"AvailabilityZone": f"{region}a"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list(tags)},
                           {"ResourceType": "volume", "Tags": tag_list({"Name": name})}],
        **({"BlockDeviceMappings": mappings} if mappings else {}))
    instance_id = response["Instances"][0]["InstanceId"]
    backend = ec2_backends[account][region]
    instance = backend.get_instance(instance_id)
    instance.launch_time = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # type: ignore[assignment]  # moto prints the string as is
    if fleet_id:  # its history (DescribeFleetHistory, extensions/ec2.py)
        world().fleets.setdefault((account, region, fleet_id), []).append((instance_id, at))
    if spot_request_id:  # moto prints these attributes as SpotInstanceRequestId and InstanceLifecycle
        instance.spot_instance_request_id = spot_request_id  # type: ignore[attr-defined]  # moto serialises it
    if spot_request_id or spot_fleet_request_id:
        instance.lifecycle = "spot"
    if not mappings and ispec.get("volumes") is not None:
        for device in list(instance.block_device_mapping):       # the launch never got a volume
            volume_id = instance.block_device_mapping[device].volume_id
            backend.detach_volume(volume_id, instance_id, device)
            backend.delete_volume(volume_id)
    by_device = {device: bdm.volume_id for device, bdm in instance.get_block_device_mapping}
    for volume in volumes:
        if volume.get("created", True):
            volume["volume_id"] = by_device.get(volume["device"], "")
            moto_volume = backend.volumes[volume["volume_id"]]
            if moto_volume.kms_key_id:
                volume["key_arn"] = normalise_key_arn(moto_volume.kms_key_id, account, region)
                moto_volume.kms_key_id = volume["key_arn"]
    asg = ispec.get("autoscaling_group")
    if asg:
        autoscaling_group(clients, asg, account, region, image_id, ispec.get("type", "t3.micro"))
        backend.create_tags([instance_id], {"aws:autoscaling:groupName": asg})
        scaling_activity(asg, account, region, instance_id, spec["failure"], at)
    kms_calls = []
    for i, call in enumerate(spec.get("kms_calls") or []):
        error = None
        if call.get("error"):
            template = kms_error_templates()[call["error"]]
            error = (template["code"], call.get("message", template["message"]))
        volume = volumes[call.get("volume", 0)] if volumes else {}
        kms_calls.append(KmsCall(operation=call["operation"], by=call.get("by", "launcher"),
                                 key_arn=keys[call["key"]], volume_id=volume.get("volume_id", ""),
                                 error=error, after=float(call.get("after", 2 + i))))
    failure = resolve(spec["failure"], values)
    return Launch(
        scenario=scenario.name, account_id=account, region=region, instance_id=instance_id, principal=principal,
        launch=ispec.get("launch", "start"), image_id=image_id, instance_type=ispec.get("type", "t3.micro"),
        reservation_id=response.get("ReservationId", ""), volumes=volumes, kms_calls=kms_calls, failure=failure,
        stop_after=failure.get("stopped_by_principal_after"),
        service=principal.invoked_by,
        service_role_arn=principal.arn if principal.invoked_by else "",
        launch_event=ispec.get("launch_event", True), launch_template=used_template, fleet_id=fleet_id,
        spot_request_id=spot_request_id, requester=requester, spot_fleet_request_id=spot_fleet_request_id,
        fleet_role_arn=spot_fleet_role(clients, ispec.get("fleet_role"), account) if spot_fleet_request_id else "",
        fleet_errors=tuple(fleet_error(e) for e in ispec.get("fleet_errors") or ()) if fleet_id else (),
        failed_fleets=tuple({"fleet_id": f"fleet-{uuid.uuid4()}", "before": float(f.get("before", 60)),
                             "errors": [fleet_error(e) for e in f.get("errors") or ()]}
                            for f in ispec.get("failed_fleets") or ()) if fleet_id else (), group=asg or "")


def fleet_error(spec: dict[str, Any]) -> dict[str, str]:
    """One errorSet item of a CreateFleet answer: code, message, the override's instance type."""
    return {"code": str(spec["code"]), "message": str(spec["message"]), "instance_type": str(spec["instance_type"])}


def spot_fleet_role(clients: Clients, name: str | None, account: str) -> str:
    """The IAM role a Spot Fleet request names (IamFleetRole; it tags and terminates the fleet's instances, it
    does not launch them), created once with the Spot Fleet service as trusted principal."""
    iam = clients("iam", account)
    name = name or "aws-ec2-spot-fleet-tagging-role"
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"Service": "spotfleet.amazonaws.com"}}]}
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        tagging = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["ec2:DescribeImages", "ec2:DescribeSubnets", "ec2:RequestSpotInstances",
                                           "ec2:TerminateInstances", "ec2:DescribeInstanceStatus", "ec2:CreateTags",
                                           "ec2:RunInstances"], "Resource": "*"}]}
        iam.put_role_policy(RoleName=name, PolicyName="spot-fleet-tagging", PolicyDocument=json.dumps(tagging))
        return str(role["Arn"])


def launch_template(clients: Clients, spec: dict[str, Any], account: str, region: str, image_id: str,
                    instance_type: str, mappings: list[dict[str, Any]]) -> dict[str, str]:
    """The launch template the instance is launched from, carrying the volumes' block device mappings (and so
    their keys); created once per name, its version 1 used. {"id", "version"}."""
    ec2 = clients("ec2", account, region)
    name = spec["name"]
    found = ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name", "Values": [name]}])
    if found["LaunchTemplates"]:
        return {"id": found["LaunchTemplates"][0]["LaunchTemplateId"], "version": "1"}
    data: dict[str, Any] = {"ImageId": image_id, "InstanceType": instance_type}
    if mappings:
        data["BlockDeviceMappings"] = mappings
    created = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)["LaunchTemplate"]
    return {"id": created["LaunchTemplateId"], "version": "1"}


def encryption_by_default(clients: Clients, spec: dict[str, Any], account: str, region: str,
                          keys: dict[str, str]) -> None:
    """EBS encryption by default in the Region, with the scenario's key as the default key."""
    ec2 = clients("ec2", account, region)
    ec2.enable_ebs_encryption_by_default()
    if spec.get("key"):
        ec2.modify_ebs_default_kms_key_id(KmsKeyId=keys[spec["key"]])


def default_key_history(principal: Principal, spec: dict[str, Any], region: str, keys: dict[str, str],
                        at: datetime) -> list[dict[str, Any]]:
    """The CloudTrail records of whoever switched encryption by default on and set the default key,
    `days_ago` days before the launch (an account baseline, typically)."""
    from kit.simulate import records

    when = at - timedelta(days=float(spec.get("days_ago", 3)))
    out = [records.enable_ebs_encryption_by_default(principal, region, when)]
    if spec.get("key"):
        out.append(records.modify_ebs_default_kms_key_id(principal, region, when + timedelta(seconds=4),
                                                         keys[spec["key"]]))
    return out


def image(clients: Clients, spec: dict[str, Any] | None, account: str, region: str, keys: dict[str, str],
          values: dict[str, str]) -> tuple[str, str]:
    """(image id, its snapshot id): the Region's base image, or the scenario's image (shared when its owner is
    another account: moto lists only the caller's own images, so the consumer's backend gets it too)."""
    from moto.ec2.models import ec2_backends

    if not spec:
        return world().base_images[(account, region)], ""
    owner = resolve(str(spec.get("owner", "{{account}}")), values)
    owner_backend = ec2_backends[owner][region]
    found = [a for a in owner_backend.amis.values() if a.name == spec["name"] and a.owner_id == owner]
    if found:
        ami = found[0]
    else:
        image_id = clients("ec2", owner, region).register_image(
            Name=spec["name"], Description=spec.get("description", ""), RootDeviceName="/dev/xvda",
            Architecture="x86_64", VirtualizationType="hvm")["ImageId"]
        ami = as_seeded_image(owner_backend.amis[image_id], int(spec.get("size", 8)))
        if spec.get("snapshot_key"):
            ami.ebs_snapshot.encrypted = True
            ami.ebs_snapshot.kms_key_id = keys[spec["snapshot_key"]]
    snapshot = ami.ebs_snapshot
    if owner != account:
        if {"UserId": account} not in ami.launch_permissions:
            ami.launch_permissions.append({"UserId": account})
        snapshot.create_volume_permission_userids.add(account)
        consumer = ec2_backends[account][region]
        consumer.amis[ami.id] = ami           # moto lists only the caller's own images: show the shared one
        consumer.snapshots[snapshot.id] = snapshot
    return ami.id, snapshot.id


def as_seeded_image(ami: Any, size: int) -> Any:
    """An AMI as AWS describes one registered from an EBS snapshot: root /dev/xvda, its snapshot's size and
    encryption (moto ignores RootDeviceName and reports a fixed 15 GiB 'standard' mapping)."""
    ami.__class__ = _seeded_image_class()
    ami.root_device_name, ami.root_device_type = "/dev/xvda", "ebs"
    ami.ebs_snapshot.volume.size = size
    return ami


@cache
def _seeded_image_class() -> type:
    from moto.ec2.models.amis import Ami

    class SeededImage(Ami):
        """moto's Ami, describing its block device mapping from its snapshot."""

        @property
        def block_device_mappings(self) -> list[dict[str, Any]]:
            snapshot = self.ebs_snapshot
            return [{"DeviceName": self.root_device_name,
                     "Ebs": {"SnapshotId": snapshot.id, "VolumeSize": snapshot.volume.size,
                             "DeleteOnTermination": True, "VolumeType": "gp3",
                             "Encrypted": bool(snapshot.encrypted)}}]

    return SeededImage


def autoscaling_group(clients: Clients, name: str, account: str, region: str, image_id: str,
                      instance_type: str) -> None:
    """The Auto Scaling group (desired capacity 0: moto would launch instances) and its launch template."""
    autoscaling = clients("autoscaling", account, region)
    if autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]:
        return
    ec2 = clients("ec2", account, region)
    template = f"{name}-template"
    ec2.create_launch_template(LaunchTemplateName=template, LaunchTemplateData={
        "ImageId": image_id, "InstanceType": instance_type})
    autoscaling.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=4, DesiredCapacity=0,
                                          LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
                                          AvailabilityZones=[f"{region}a"])


def scaling_activity(group: str, account: str, region: str, instance_id: str, failure: dict[str, Any],
                     at: datetime) -> None:
    """The activity Auto Scaling records for the launch (moto records none)."""
    reason = (failure.get("state_reason") or {}).get("message", "")
    failed = failure["state"] in ("terminated", "stopped")
    activity = {
        "ActivityId": str(uuid.uuid4()),
        "AutoScalingGroupName": group,
        "AutoScalingGroupARN": f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:"
                               f"{uuid.uuid5(uuid.NAMESPACE_URL, group)}:autoScalingGroupName/{group}",
        "Description": f"Launching a new EC2 instance: {instance_id}",
        "Cause": (f"At {format_time(at - timedelta(seconds=10))} an instance was started in response to a "
                  "difference between desired and actual capacity, increasing the capacity from 0 to 1."),
        "StartTime": format_time(at),
        "EndTime": format_time(at + timedelta(seconds=40)),
        "StatusCode": "Cancelled" if failed else "Successful",
        "Progress": "100",
        "Details": json.dumps({"Subnet ID": "", "Availability Zone": f"{region}a"}),
    }
    if failed:
        activity["StatusMessage"] = ("Instance became unhealthy while waiting for instance to be in InService "
                                     f"state. Termination Reason: {reason}")
    world().activities.setdefault((account, region), []).append(activity)
