"""EC2 evidence: the instance, its volumes, and (when the volumes are gone) the AMI and its snapshots."""

from __future__ import annotations

from typing import Any

from kit.collect.fetcher import Fetcher


def describe_instance(fetch: Fetcher, instance_id: str) -> dict[str, Any] | None:
    """`ec2.describe-instances.json`; returns the instance, or None (with a gap) when it cannot be read."""
    params = {"InstanceIds": [instance_id]}
    document = fetch.fetch("ec2.describe-instances.json", "ec2", "DescribeInstances", params, target=instance_id)
    if document is None:
        return None
    instances = [i for r in document.get("Reservations") or [] for i in r.get("Instances") or []]
    found = [i for i in instances if i.get("InstanceId") == instance_id]
    if not found:
        fetch.skip("ec2", "DescribeInstances", params, error="InvalidInstanceID.NotFound",
                   impact=f"instance {instance_id} was not returned (terminated more than an hour ago, another "
                          f"Region or account?): its state, volumes and AMI are unknown")
        return None
    return found[0]


def collect_volumes(fetch: Fetcher, instance_id: str, instance: dict[str, Any] | None) -> list[dict[str, Any]]:
    """`ec2.describe-volumes.json`: volumes attached to the instance, plus any its block device mappings
    name that the attachment filter missed (merged into the one document); returns the volumes."""
    params = {"Filters": [{"Name": "attachment.instance-id", "Values": [instance_id]}]}
    document = fetch.fetch(None, "ec2", "DescribeVolumes", params, target=instance_id, page_size=500)
    volumes = list((document or {}).get("Volumes") or [])
    known = {v.get("VolumeId") for v in volumes}
    mapped = [m.get("Ebs", {}).get("VolumeId") for m in (instance or {}).get("BlockDeviceMappings") or []]
    missing = sorted({v for v in mapped if v and v not in known})
    if missing and document is not None:  # (refused by filter, refused by id too)
        extra = fetch.fetch(None, "ec2", "DescribeVolumes", {"VolumeIds": missing}, target=", ".join(missing))
        volumes += [v for v in (extra or {}).get("Volumes") or [] if v.get("VolumeId") not in known]
    if document is not None:
        fetch.store("ec2.describe-volumes.json", {"Volumes": volumes})
    return volumes


def collect_image_snapshots(fetch: Fetcher, instance: dict[str, Any] | None) -> list[dict[str, Any]]:
    """For a launch whose volumes are gone: `ec2.describe-images.json` and `ec2.describe-snapshots.json`.

    Returns the AMI's block device mappings (each `Ebs` with its snapshot's `KmsKeyId` when readable).
    """
    image_id = (instance or {}).get("ImageId")
    if not image_id:
        return []
    images = fetch.fetch("ec2.describe-images.json", "ec2", "DescribeImages", {"ImageIds": [image_id]},
                         target=image_id)
    mappings = [m for image in (images or {}).get("Images") or [] for m in image.get("BlockDeviceMappings") or []]
    snapshot_ids = sorted({m["Ebs"]["SnapshotId"] for m in mappings if m.get("Ebs", {}).get("SnapshotId")})
    if snapshot_ids:
        fetch.fetch("ec2.describe-snapshots.json", "ec2", "DescribeSnapshots", {"SnapshotIds": snapshot_ids},
                    target=", ".join(snapshot_ids))
    return mappings


def key_references(fetch: Fetcher) -> list[str]:
    """Every KMS key id/ARN/alias the EC2 documents name (volumes, snapshots, AMI mappings), in order."""
    refs: list[str | None] = []
    for volume in (fetch.documents.get("ec2.describe-volumes.json") or {}).get("Volumes") or []:
        refs.append(volume.get("KmsKeyId"))
    for snapshot in (fetch.documents.get("ec2.describe-snapshots.json") or {}).get("Snapshots") or []:
        refs.append(snapshot.get("KmsKeyId"))
    for image in (fetch.documents.get("ec2.describe-images.json") or {}).get("Images") or []:
        for mapping in image.get("BlockDeviceMappings") or []:
            refs.append((mapping.get("Ebs") or {}).get("KmsKeyId"))
    return [r for r in dict.fromkeys(refs) if r]


def encryption_by_default(fetch: Fetcher) -> bool | None:
    """`ec2.get-ebs-encryption-by-default.json`: whether new volumes are encrypted by default (None: unknown)."""
    document = fetch.fetch("ec2.get-ebs-encryption-by-default.json", "ec2", "GetEbsEncryptionByDefault")
    return (document or {}).get("EbsEncryptionByDefault")


def default_key(fetch: Fetcher) -> str | None:
    """`ec2.get-ebs-default-kms-key-id.json`: the key EBS picks when none is named (may be an alias)."""
    document = fetch.fetch("ec2.get-ebs-default-kms-key-id.json", "ec2", "GetEbsDefaultKmsKeyId")
    return (document or {}).get("KmsKeyId")
