"""EC2 frames: instances, volumes, snapshots, images, EBS encryption defaults."""

from __future__ import annotations

from typing import Any, Iterator

from kit.evidence import Evidence
from kit.frames.keyrefs import KeyResolver
from kit.frames.timestamps import iso


def instance_rows(evidence: Evidence) -> Iterator[dict[str, Any]]:
    """One row per instance of ec2.describe-instances."""
    document = evidence.document("ec2.describe-instances.json") or {}
    for reservation in document.get("Reservations") or []:
        for instance in reservation.get("Instances") or []:
            tags = tag_dict(instance.get("Tags"))
            state = instance.get("State") or {}
            reason = instance.get("StateReason") or {}
            mappings = [_mapping(m) for m in instance.get("BlockDeviceMappings") or []]
            yield {
                "instance_id": instance.get("InstanceId"),
                "account_id": reservation.get("OwnerId"),
                "region": evidence.region,
                "availability_zone": (instance.get("Placement") or {}).get("AvailabilityZone"),
                "state": state.get("Name"),
                "state_code": state.get("Code"),
                "state_reason_code": reason.get("Code"),
                "state_reason_message": reason.get("Message"),
                "state_transition_reason": instance.get("StateTransitionReason") or None,
                "launch_time": instance.get("LaunchTime"),
                "instance_type": instance.get("InstanceType"),
                "image_id": instance.get("ImageId"),
                "instance_lifecycle": instance.get("InstanceLifecycle"),
                "root_device_name": instance.get("RootDeviceName"),
                "root_device_type": instance.get("RootDeviceType"),
                "iam_instance_profile_arn": (instance.get("IamInstanceProfile") or {}).get("Arn"),
                "volume_ids": sorted({(m.get("Ebs") or {}).get("VolumeId") for m in mappings} - {None}),
                "block_device_mappings": mappings,
                "tags": tags,
                "name": tags.get("Name"),
                "autoscaling_group": tags.get("aws:autoscaling:groupName"),
                "spot_instance_request_id": instance.get("SpotInstanceRequestId"),
            }


def volume_rows(evidence: Evidence, keys: KeyResolver) -> Iterator[dict[str, Any]]:
    """One row per (volume, attachment) of ec2.describe-volumes."""
    document = evidence.document("ec2.describe-volumes.json") or {}
    for volume in document.get("Volumes") or []:
        base = {
            "volume_id": volume.get("VolumeId"),
            "encrypted": volume.get("Encrypted"),
            "kms_key_id": volume.get("KmsKeyId"),
            "key_arn": keys.resolve(volume.get("KmsKeyId")),
            "state": volume.get("State"),
            "size_gib": volume.get("Size"),
            "volume_type": volume.get("VolumeType"),
            "snapshot_id": volume.get("SnapshotId") or None,
            "availability_zone": volume.get("AvailabilityZone"),
            "create_time": volume.get("CreateTime"),
            "tags": tag_dict(volume.get("Tags")),
        }
        attachments = volume.get("Attachments") or [{}]
        for attachment in attachments:
            yield dict(
                base,
                instance_id=attachment.get("InstanceId"),
                device=attachment.get("Device"),
                attachment_state=attachment.get("State"),
                delete_on_termination=attachment.get("DeleteOnTermination"),
            )


def snapshot_rows(evidence: Evidence, keys: KeyResolver) -> Iterator[dict[str, Any]]:
    """One row per snapshot of ec2.describe-snapshots."""
    document = evidence.document("ec2.describe-snapshots.json") or {}
    for snapshot in document.get("Snapshots") or []:
        yield {
            "snapshot_id": snapshot.get("SnapshotId"),
            "volume_id": snapshot.get("VolumeId"),
            "owner_id": snapshot.get("OwnerId"),
            "encrypted": snapshot.get("Encrypted"),
            "kms_key_id": snapshot.get("KmsKeyId"),
            "key_arn": keys.resolve(snapshot.get("KmsKeyId")),
            "state": snapshot.get("State"),
            "start_time": snapshot.get("StartTime"),
            "volume_size_gib": snapshot.get("VolumeSize"),
            "description": snapshot.get("Description") or None,
        }


def image_rows(evidence: Evidence, keys: KeyResolver) -> Iterator[dict[str, Any]]:
    """One row per (image, EBS block device mapping) of ec2.describe-images."""
    document = evidence.document("ec2.describe-images.json") or {}
    for image in document.get("Images") or []:
        base = {
            "image_id": image.get("ImageId"),
            "owner_id": image.get("OwnerId"),
            "name": image.get("Name"),
            "state": image.get("State"),
            "public": image.get("Public"),
            "root_device_name": image.get("RootDeviceName"),
            "creation_date": image.get("CreationDate"),
        }
        mappings = [m for m in image.get("BlockDeviceMappings") or [] if m.get("Ebs")]
        if not mappings:
            yield base
        for mapping in mappings:
            ebs = mapping["Ebs"]
            yield dict(
                base,
                device_name=mapping.get("DeviceName"),
                snapshot_id=ebs.get("SnapshotId"),
                encrypted=ebs.get("Encrypted"),
                kms_key_id=ebs.get("KmsKeyId"),
                key_arn=keys.resolve(ebs.get("KmsKeyId")),
            )


def ebs_default_rows(evidence: Evidence, keys: KeyResolver) -> Iterator[dict[str, Any]]:
    """The Region's EBS encryption-by-default settings: one row when either document is present."""
    by_default = evidence.document("ec2.get-ebs-encryption-by-default.json")
    default_key = evidence.document("ec2.get-ebs-default-kms-key-id.json")
    if by_default is None and default_key is None:
        return
    key_id = (default_key or {}).get("KmsKeyId")
    yield {
        "region": evidence.region,
        "encryption_by_default": (by_default or {}).get("EbsEncryptionByDefault"),
        "default_kms_key_id": key_id,
        "default_key_arn": keys.resolve(key_id),
    }


LAUNCH_TEMPLATE_PREFIX = "ec2.describe-launch-template-versions."


def launch_template_volume_rows(evidence: Evidence, keys: KeyResolver) -> Iterator[dict[str, Any]]:
    """One row per block device mapping of each launch template version in the evidence."""
    for document in evidence.documents_with_prefix(LAUNCH_TEMPLATE_PREFIX).values():
        for version in (document or {}).get("LaunchTemplateVersions") or []:
            if not isinstance(version, dict):
                continue
            data = version.get("LaunchTemplateData") or {}
            base = {"launch_template_id": version.get("LaunchTemplateId"),
                    "launch_template_name": version.get("LaunchTemplateName"),
                    "version": version.get("VersionNumber"), "default_version": version.get("DefaultVersion"),
                    "image_id": data.get("ImageId"), "device_name": None, "encrypted": None, "kms_key_id": None,
                    "key_arn": None, "snapshot_id": None}
            mappings = [m for m in data.get("BlockDeviceMappings") or [] if isinstance(m, dict)]
            if not mappings:
                yield base
            for mapping in mappings:
                ebs = mapping.get("Ebs") or {}
                yield dict(base, device_name=mapping.get("DeviceName"), encrypted=ebs.get("Encrypted"),
                           kms_key_id=ebs.get("KmsKeyId"), key_arn=keys.resolve(ebs.get("KmsKeyId")),
                           snapshot_id=ebs.get("SnapshotId"))


def _mapping(mapping: dict[str, Any]) -> dict[str, Any]:
    """A block device mapping with its AttachTime as ISO 8601 UTC (sources print it differently)."""
    ebs = mapping.get("Ebs")
    if not isinstance(ebs, dict) or "AttachTime" not in ebs:
        return mapping
    return dict(mapping, Ebs=dict(ebs, AttachTime=iso(ebs["AttachTime"])))


def tag_dict(tags: Any) -> dict[str, str | None]:
    """EC2 Tags [{Key, Value}] as a dict."""
    return {t["Key"]: t.get("Value") for t in tags or [] if isinstance(t, dict) and "Key" in t}
