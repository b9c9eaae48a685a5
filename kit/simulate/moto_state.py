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


def role_session(account: str, access_key: str) -> tuple[str, dict[str, Any] | None] | None:
    """The role session an access key belongs to: (role ARN, the session policy it was created with, None
    without one); None when the key is not an assumed-role session's."""
    from moto.sts.models import sts_backends

    session = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
    if session is None:
        return None
    return str(session.role_arn), _document(session.policy) if session.policy else None


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


def instance_ids(account: str, region: str) -> set[str]:
    """Every instance id of the account and Region, in any state."""
    from moto.ec2.models import ec2_backends

    return {i.id for r in ec2_backends[account][region].reservations.values() for i in r.instances}


def instance_volumes(account: str, region: str, instance_id: str) -> dict[str, str]:
    """The instance's attached volumes, device name -> volume id."""
    instance = _instance(account, region, instance_id)
    return {} if instance is None else {device: bdm.volume_id for device, bdm in instance.get_block_device_mapping}


def tag_instance(account: str, region: str, instance_id: str, tags: dict[str, str]) -> None:
    """Add tags to the instance."""
    from moto.ec2.models import ec2_backends

    ec2_backends[account][region].create_tags([instance_id], tags)


def set_volume_key(account: str, region: str, volume_id: str, key_arn: str) -> None:
    """The volume encrypted with `key_arn` (as EC2 resolved its key at launch)."""
    from moto.ec2.models import ec2_backends

    volume = ec2_backends[account][region].volumes.get(volume_id)
    if volume is not None:
        volume.encrypted, volume.kms_key_id = True, key_arn


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


# ---- what decides a start: IAM, SCPs, keys ------------------------------------------------------------------

def _document(text: Any) -> dict[str, Any] | None:
    import json
    from urllib.parse import unquote

    if isinstance(text, dict):
        return text
    if not isinstance(text, str) or not text:
        return None
    for candidate in (text, unquote(text)):
        try:
            parsed = json.loads(candidate)
        except ValueError:
            continue
        return parsed if isinstance(parsed, dict) else None
    return None


def _managed_document(policy: Any) -> dict[str, Any] | None:
    for version in getattr(policy, "versions", []):
        if version.version_id == policy.default_version_id:
            return _document(version.document)
    return _document(getattr(policy, "document", None))


def identity_documents(account: str, kind: str, name: str) -> tuple[list[tuple[str, dict[str, Any]]],
                                                                      tuple[str, dict[str, Any]] | None]:
    """The IAM user's or role's policies as they are now: ([(name, document)] of inline, attached managed and
    (users) group policies, the permissions boundary (name, document) or None)."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["aws"]
    entity = backend.get_user(name) if kind == "user" else backend.get_role(name)
    holders: list[tuple[str, Any]] = [(f"inline:{name}", entity)]
    if kind == "user":
        holders += [(f"group:{g.name}", g) for g in backend.get_groups_for_user(name)]
    out: list[tuple[str, dict[str, Any]]] = []
    for label, holder in holders:
        for policy_name, text in dict(getattr(holder, "policies", {}) or {}).items():
            document = _document(text)
            if document is not None:
                out.append((f"{label}/{policy_name}", document))
        for arn, policy in dict(getattr(holder, "managed_policies", {}) or {}).items():
            document = _managed_document(policy)
            if document is not None:
                out.append((f"managed:{arn}", document))
    boundary = None
    boundary_arn = getattr(entity, "permissions_boundary_arn", None)
    if boundary_arn:
        document = _managed_document(backend.get_policy(boundary_arn))
        if document is not None:
            boundary = (f"boundary:{boundary_arn}", document)
    return out, boundary


def principal_tags(account: str, kind: str, name: str) -> dict[str, str]:
    """The IAM user's or role's tags as they are now ({key: value})."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["aws"]
    if kind == "user":
        tags = backend.list_user_tags(name)
    else:
        tags = backend.list_role_tags(name, None, 1000)[0]
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags}


def scp_levels(account: str) -> list[list[tuple[str, dict[str, Any]]]]:
    """The SCPs that apply to a member account now, one list per level, root first ([] outside an
    organization and for its management account)."""
    from moto.organizations.models import organizations_backends

    management = management_account_of(account)
    if management is None or management == account:
        return []
    backend = organizations_backends[management]["aws"]
    member = next((a for a in backend.accounts if a.id == account), None)
    if member is None:
        return []
    chain: list[Any] = [member]
    parent: str | None = member.parent_id
    while parent and len(chain) < 8:  # AWS allows five OU levels under the root
        node = next((ou for ou in backend.ou if ou.id == parent), None)
        if node is None or node in chain:
            break
        chain.append(node)
        parent = getattr(node, "parent_id", None)
    levels = []
    for node in reversed(chain):
        level = []
        for policy in getattr(node, "attached_policies", []):
            document = _document(policy.content)
            if policy.type == "SERVICE_CONTROL_POLICY" and document is not None:
                level.append((f"scp:{node.id}/{policy.id}", document))
        levels.append(level)
    return levels


def key_record(account: str, region: str, key_id: str) -> tuple[dict[str, Any] | None, str | None,
                                                                list[tuple[str, list[str], dict[str, Any]]]]:
    """A key's (policy, state, [(grantee principal, operations, constraints)]) now; (None, None, []) without
    that key."""
    from moto.kms.models import kms_backends

    key = kms_backends[account][region].keys.get(key_id)
    if key is None:
        return None, None, []
    grants = [(str(g.grantee_principal), list(g.operations or []), dict(g.constraints or {}))
              for g in key.grants.values()]
    return _document(key.policy), str(key.key_state), grants
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
