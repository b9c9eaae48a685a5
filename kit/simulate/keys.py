"""KMS keys of the scenarios, made on moto's KMS backends: customer managed keys with their policy, alias and
state, and the AWS managed key aws/ebs as AWS reports it (KeyManager AWS, its fixed policy)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from typing import Any

import yaml

from kit.simulate.placeholders import resolve


def scenario_key(spec: dict[str, Any], account: str, region: str, values: dict[str, str]) -> str:
    """A key of the scenario (`manager: AWS` is the account's aws/ebs) by ARN; reused by alias."""
    from moto.kms.models import kms_backends

    key_account = resolve(str(spec.get("account", "{{account}}")), values)
    if spec.get("manager") == "AWS":
        return aws_managed_ebs_key(key_account, region)
    kms = kms_backends[key_account][region]
    alias = spec["alias"]
    if kms.alias_exists(alias):
        return kms.keys[kms.get_key_id_from_alias(alias)].arn  # type: ignore[index]  # the alias exists
    policy = spec.get("policy", "default")
    document = key_policy_templates()[policy] if isinstance(policy, str) else policy
    document = resolve(document, dict(values, key_account=key_account))
    state = spec.get("state", "Enabled")
    with lazy_private_keys():
        key = kms.create_key(policy=json.dumps(document), key_usage="ENCRYPT_DECRYPT",
                             key_spec="SYMMETRIC_DEFAULT", description=spec.get("description", ""), tags=None,
                             origin="EXTERNAL" if state == "PendingImport" else "AWS_KMS")
    kms.create_alias(key.id, alias)
    if state == "Disabled":
        kms.disable_key(key.id)
    elif state == "PendingDeletion":
        kms.schedule_key_deletion(key.id, int(spec.get("pending_window_days", 7)))
    elif state == "PendingImport":
        key.key_state, key.enabled, key.key_material = "PendingImport", False, None  # type: ignore[assignment]  # no material until imported
    return key.arn


def aws_managed_ebs_key(account: str, region: str) -> str:
    """aws/ebs as AWS has it: KeyManager AWS, its fixed policy; also the Region's default EBS key."""
    from moto.ec2.models import ec2_backends
    from moto.kms.models import kms_backends

    kms = kms_backends[account][region]
    if kms.alias_exists("alias/aws/ebs"):   # (get_key_id_from_alias would make moto create its own)
        return kms.keys[kms.get_key_id_from_alias("alias/aws/ebs")].arn  # type: ignore[index]  # it exists
    policy = resolve(key_policy_templates()["aws-ebs"], {"key_account": account, "region": region})
    with lazy_private_keys():
        key = kms.create_key(policy=json.dumps(policy), key_usage="ENCRYPT_DECRYPT",
                             key_spec="SYMMETRIC_DEFAULT",
                             description="Default key that protects my EBS volumes when no other key is defined",
                             tags=None)
    key.key_manager = "AWS"
    kms.create_alias(key.id, "alias/aws/ebs")
    backend = ec2_backends[account][region]
    if not backend.default_kms_key_id:
        backend.default_kms_key_id = key.arn
    return key.arn


@contextmanager
def lazy_private_keys() -> Iterator[None]:
    """While creating symmetric keys, let moto defer the RSA key pair it makes for every key (0.3 s each)
    until something signs or verifies with it (never, for the EBS keys of the scenarios)."""
    from moto.kms import models as kms_models

    original = kms_models.generate_private_key
    kms_models.generate_private_key = lambda key_spec: LazyPrivateKey(original, key_spec)  # type: ignore
    try:
        yield
    finally:
        kms_models.generate_private_key = original


class LazyPrivateKey:
    """A stand-in for moto's private key object that makes the real one on first use."""

    def __init__(self, factory: Any, key_spec: str) -> None:
        self._factory, self._key_spec, self._key = factory, key_spec, None

    def __getattr__(self, name: str) -> Any:
        if self.__dict__.get("_key") is None:
            self.__dict__["_key"] = self._factory(self._key_spec)
        return getattr(self.__dict__["_key"], name)


def normalise_key_arn(key_id: str, account: str, region: str) -> str:
    """A key id, alias or ARN as the key ARN AWS reports (moto keeps whatever id it was given)."""
    from moto.kms.models import kms_backends

    if key_id.startswith("arn:") and ":key/" in key_id:
        return key_id
    kms = kms_backends[account][region]
    if key_id.startswith("alias/") or ":alias/" in key_id:
        target = kms.get_key_id_from_alias(key_id.split(":")[-1])
        return kms.keys[target].arn if target else key_id
    return kms.keys[key_id].arn if key_id in kms.keys else key_id


@cache
def key_policy_templates() -> dict[str, Any]:
    """Key policies as AWS writes them (kit/simulate/data/key_policies.yaml)."""
    return yaml.safe_load((resources.files("kit.simulate") / "data" / "key_policies.yaml").read_text())


@cache
def kms_error_templates() -> dict[str, dict[str, str]]:
    """KMS refusals as CloudTrail records them (kit/simulate/data/kms_errors.yaml)."""
    return yaml.safe_load((resources.files("kit.simulate") / "data" / "kms_errors.yaml").read_text())
