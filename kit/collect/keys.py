"""KMS evidence for every key the launch touches: DescribeKey, GetKeyPolicy (same account), ListGrants.

Keys are named by whatever EC2 or CloudTrail gave (ARN, key id, alias name or alias ARN). DescribeKey
resolves each to its key ARN (also across accounts); when DescribeKey is refused, an alias is resolved from
`kms.list-aliases.json` instead, so the key's other calls are still made. Each document is qualified by the
key id (uuid). GetKeyPolicy cannot be called across accounts: that is recorded as a gap, not attempted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from kit.aws_ids import ALIAS_ARN, KEY_ARN, KEY_ID
from kit.collect.fetcher import Fetcher


@dataclass(frozen=True)
class Key:
    """A key as resolved: its ARN (None when unresolvable), id, account and Region."""

    reference: str
    arn: str | None
    key_id: str | None
    account_id: str | None
    region: str


def collect_keys(fetch: Fetcher, references: list[str], account_id: str | None,
                 aliases: dict[str, Any] | None) -> list[Key]:
    """Describe, read the policy of, and list the grants of every referenced key; returns the keys."""
    described = fetch.each(lambda ref: describe_key(fetch, ref, account_id, aliases), references)
    keys: dict[str, Key] = {}
    for key in described:
        keys.setdefault(key.key_id or key.reference, key)
    fetch.each(lambda key: policy_and_grants(fetch, key, account_id), [k for k in keys.values() if k.arn])
    return list(keys.values())


def describe_key(fetch: Fetcher, reference: str, account_id: str | None,
                 aliases: dict[str, Any] | None) -> Key:
    """`kms.describe-key.<key-id>.json` (in the key's own Region when the reference is an ARN)."""
    region = _region_of(reference) or fetch.region
    document = fetch.fetch(None, "kms", "DescribeKey", {"KeyId": reference}, target=reference, region=region)
    metadata = (document or {}).get("KeyMetadata") or {}
    if metadata.get("KeyId"):
        fetch.store(f"kms.describe-key.{metadata['KeyId']}.json", document)
        return Key(reference, metadata.get("Arn"), metadata["KeyId"], metadata.get("AWSAccountId"), region)
    return _resolve_without_describe(fetch, reference, account_id, aliases, region)


def policy_and_grants(fetch: Fetcher, key: Key, account_id: str | None) -> None:
    """`kms.get-key-policy.<key-id>.json` (same account only) and `kms.list-grants.<key-id>.json`."""
    policy_params = {"KeyId": key.arn, "PolicyName": "default"}
    if account_id and key.account_id and key.account_id != account_id:
        fetch.skip("kms", "GetKeyPolicy", policy_params, region=key.region, error="CrossAccountKey",
                   impact=f"key {key.arn} belongs to account {key.account_id}: KMS does not return a key policy "
                          f"to another account, so the key owner must run the command below and share the policy")
        calls: list[Callable[[], object]] = [lambda: None]
    else:
        calls = [lambda: fetch.fetch(f"kms.get-key-policy.{key.key_id}.json", "kms", "GetKeyPolicy",
                                     policy_params, target=key.arn or "", region=key.region)]
    calls.append(lambda: fetch.fetch(f"kms.list-grants.{key.key_id}.json", "kms", "ListGrants",
                                     {"KeyId": key.arn}, target=key.arn or "", region=key.region, page_size=100))
    fetch.together(*calls)


def _resolve_without_describe(fetch: Fetcher, reference: str, account_id: str | None,
                              aliases: dict[str, Any] | None, region: str) -> Key:
    match = KEY_ARN.match(reference)
    if match:
        return Key(reference, reference, match["key_id"], match["account"], match["region"])
    if KEY_ID.match(reference) and account_id:
        return Key(reference, _key_arn(region, account_id, reference), reference, account_id, region)
    alias = ALIAS_ARN.match(reference)
    alias_name = alias["alias"] if alias else reference
    for entry in (aliases or {}).get("Aliases") or []:
        if entry.get("AliasName") == alias_name and entry.get("TargetKeyId") and account_id:
            target = entry["TargetKeyId"]
            return Key(reference, _key_arn(region, account_id, target), target, account_id, region)
    return Key(reference, None, None, None, region)


def _key_arn(region: str, account_id: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:key/{key_id}"


def _region_of(reference: str) -> str | None:
    match = KEY_ARN.match(reference) or ALIAS_ARN.match(reference)
    return match["region"] if match else None

