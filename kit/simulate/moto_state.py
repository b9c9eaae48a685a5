"""The one place the extensions reach into moto's backends and private fields (moto 5.2.5).

A moto upgrade that renames a backend or a field changes this module only. Each function imports moto when
called, so importing this module imports no moto.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def account_of_access_key(access_key: str) -> str:
    """The account moto gives a request signed with `access_key` (its default account for unknown keys)."""
    from moto.iam.models import get_account_id_from

    return str(get_account_id_from(access_key))


def caller_arn(account: str, access_key: str) -> str:
    """The ARN moto knows for an access key: the assumed role, the IAM user, or moto's default user."""
    from moto.iam.models import iam_backends

    key = iam_backends[account]["aws"].access_keys.get(access_key)
    if key is not None and getattr(key, "role_arn", None):
        return str(key.role_arn)
    if key is not None and key.user_name:
        return f"arn:aws:iam::{account}:user/{key.user_name}"
    return f"arn:aws:sts::{account}:user/moto"


# ---- EC2 ---------------------------------------------------------------------------------------------------

def _instance(account: str, region: str, instance_id: str) -> Any:
    from moto.ec2.models import ec2_backends

    for reservation in ec2_backends[account][region].reservations.values():
        for instance in reservation.instances:
            if instance.id == instance_id:
                return instance
    return None


def instance_state(account: str, region: str, instance_id: str) -> str | None:
    """The instance's state name (pending, running, stopped, terminated, ...), None if there is none."""
    instance = _instance(account, region, instance_id)
    return None if instance is None else str(instance._state.name)


def set_instance_pending(account: str, region: str, instance_id: str) -> None:
    """Pending (code 0), no StateReason, no StateTransitionReason."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.instances import StateReason

    instance = ec2_backends[account][region].get_instance(instance_id)
    instance._state.name, instance._state.code = "pending", 0
    instance._reason = ""
    instance.state_reason = StateReason()


def set_instance_final_state(account: str, region: str, instance_id: str, state: str,
                             reason: tuple[str, str] | None, transition_reason: str) -> None:
    """Stop, terminate or start the instance; with `reason` (code, message) set StateReason and
    StateTransitionReason, without one a running instance gets neither."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.instances import StateReason

    instance = ec2_backends[account][region].get_instance(instance_id)
    if state == "stopped":
        instance.stop()
    elif state == "terminated":
        instance.terminate()
    else:
        instance.start()
    if reason:
        instance.state_reason = StateReason(reason[1], reason[0])
        instance._reason = transition_reason
    elif state == "running":
        instance.state_reason = StateReason()
        instance._reason = ""


def ebs_default_key(account: str, region: str) -> str:
    """EC2's default EBS key setting ("" when never set)."""
    from moto.ec2.models import ec2_backends

    return str(ec2_backends[account][region].default_kms_key_id or "")


def set_ebs_default_key(account: str, region: str, key_arn: str) -> None:
    """Set EC2's default EBS key."""
    from moto.ec2.models import ec2_backends

    ec2_backends[account][region].default_kms_key_id = key_arn


def aws_ebs_key_arn(account: str, region: str) -> str:
    """The ARN of the account's aws/ebs key (moto creates it if it is missing)."""
    from moto.kms.models import kms_backends

    kms = kms_backends[account][region]
    return str(kms.keys[str(kms.get_key_id_from_alias("alias/aws/ebs"))].arn)


def rewrite_volume_keys(account: str, region: str, rewrite: Callable[[str], str]) -> None:
    """Replace the KmsKeyId of every volume and snapshot that does not hold an ARN by `rewrite(key_id)`."""
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[account][region]
    resources: list[Any] = [*backend.volumes.values(), *backend.snapshots.values()]
    for resource in resources:
        if resource.kms_key_id and not str(resource.kms_key_id).startswith("arn:"):
            resource.kms_key_id = rewrite(resource.kms_key_id)


# ---- KMS and Organizations ---------------------------------------------------------------------------------

def key_policy(account: str, region: str, key_id: str) -> str | None:
    """The key policy of a key (by id) in that account and Region, None if there is no such key."""
    from moto.kms.models import kms_backends

    key = kms_backends[account][region].keys.get(key_id)
    return None if key is None else str(key.policy)


def management_account_of(account: str) -> str | None:
    """The Organizations management account moto knows for a member (or management) account."""
    from moto.organizations.models import organizations_backends

    masters = organizations_backends.master_accounts
    return str(masters[account][0]) if account in masters else None


# ---- S3 and Athena (the simulated Athena reads the trail buckets) ----------------------------------------

def s3_objects(bucket_name: str, prefix: str) -> list[tuple[str, int, Callable[[], bytes]]] | None:
    """(key, size, read) of every object under `prefix` in `bucket_name`, whichever account owns it; None when
    there is no such bucket."""
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(bucket_name)
    if owner is None:
        return None
    partition, account = owner
    bucket = s3_backends[account][partition].buckets.get(bucket_name)
    if bucket is None:
        return None
    out: list[tuple[str, int, Callable[[], bytes]]] = []
    for name, key in list(bucket.keys.items()):
        if name.startswith(prefix) and key is not None and not getattr(key, "is_delete_marker", False):
            out.append((name, int(key.size), _reader(key)))
    return sorted(out, key=lambda item: item[0])


def _reader(key: Any) -> Callable[[], bytes]:
    return lambda: bytes(key.value)


def athena_workgroup(account: str, region: str, name: str) -> dict[str, Any] | None:
    """The Configuration of an Athena workgroup in moto's backend (`primary` always exists); None if unknown."""
    from moto.athena.models import athena_backends

    group = athena_backends[account][region].work_groups.get(name)
    return dict(group.configuration or {}) if group is not None else None
