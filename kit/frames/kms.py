"""KMS frames: keys, key policy statements, grants, aliases."""

from __future__ import annotations

import json
from typing import Any, Iterator

from kit.evidence import Evidence
from kit.frames.cloudtrail import EC2_INFRASTRUCTURE
from kit.frames.keyrefs import KeyResolver, key_id_of, region_of


def described_key_arns(evidence: Evidence) -> list[str]:
    """ARNs of every key with a kms.describe-key document."""
    return sorted(
        {
            (doc.get("KeyMetadata") or {}).get("Arn")
            for doc in evidence.documents_with_prefix("kms.describe-key.").values()
            if isinstance(doc, dict)
        }
        - {None}  # type: ignore[arg-type]  # mypy does not narrow a set difference
    )


def aliases_of(evidence: Evidence) -> list[dict[str, Any]]:
    """The Aliases of kms.list-aliases ([] when absent)."""
    return list((evidence.document("kms.list-aliases.json") or {}).get("Aliases") or [])


def key_policies(evidence: Evidence, keys: KeyResolver) -> dict[str, dict[str, Any]]:
    """Readable key policies as dicts, by key ARN (files are named for the key id)."""
    out: dict[str, dict[str, Any]] = {}
    for name, document in evidence.documents_with_prefix("kms.get-key-policy.").items():
        key_id = name[len("kms.get-key-policy."):].removesuffix(".json")
        key_arn = keys.resolve(key_id)
        policy = (document or {}).get("Policy")
        if key_arn is None or policy is None:
            continue
        parsed = json.loads(policy) if isinstance(policy, str) else policy
        if isinstance(parsed, dict):
            out[key_arn] = parsed
    return out


def key_rows(evidence: Evidence, keys: KeyResolver, policies: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One row per described key."""
    aliases: dict[str, list[str | None]] = {}
    for alias in aliases_of(evidence):
        target = keys.resolve(alias.get("TargetKeyId")) if alias.get("TargetKeyId") else None
        if target:
            aliases.setdefault(target, []).append(alias.get("AliasName"))
    for document in evidence.documents_with_prefix("kms.describe-key.").values():
        meta = (document or {}).get("KeyMetadata") or {}
        arn = meta.get("Arn")
        if not arn:
            continue
        yield {
            "key_arn": arn,
            "key_id": meta.get("KeyId") or key_id_of(arn),
            "account": meta.get("AWSAccountId"),
            "region": region_of(arn),
            "key_manager": meta.get("KeyManager"),
            "key_state": meta.get("KeyState"),
            "enabled": meta.get("Enabled"),
            "deletion_date": meta.get("DeletionDate"),
            "pending_deletion_window_days": meta.get("PendingDeletionWindowInDays"),
            "origin": meta.get("Origin"),
            "key_spec": meta.get("KeySpec") or meta.get("CustomerMasterKeySpec"),
            "key_usage": meta.get("KeyUsage"),
            "multi_region": meta.get("MultiRegion"),
            "creation_date": meta.get("CreationDate"),
            "valid_to": meta.get("ValidTo"),
            "description": meta.get("Description") or None,
            "aliases": sorted(a for a in aliases.get(arn, []) if a),
            "policy_available": arn in policies,
            "policy": policies.get(arn),
        }


def key_policy_statement_rows(policies: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One row per statement of each key policy."""
    for key_arn, policy in policies.items():
        statements = policy.get("Statement") or []
        if isinstance(statements, dict):
            statements = [statements]
        for index, statement in enumerate(statements):
            if not isinstance(statement, dict):
                continue
            not_principal = "NotPrincipal" in statement
            not_action = "NotAction" in statement
            yield {
                "key_arn": key_arn,
                "index": index,
                "sid": statement.get("Sid"),
                "effect": statement.get("Effect"),
                "principals": principal_list(statement.get("NotPrincipal" if not_principal else "Principal")),
                "not_principal": not_principal,
                "actions": as_list(statement.get("NotAction" if not_action else "Action")),
                "not_action": not_action,
                "conditions": statement.get("Condition") or {},
                "statement": statement,
            }


def grant_rows(evidence: Evidence, keys: KeyResolver) -> Iterator[dict[str, Any]]:
    """One row per grant of every kms.list-grants document."""
    for name, document in evidence.documents_with_prefix("kms.list-grants.").items():
        file_key = name[len("kms.list-grants."):].removesuffix(".json")
        for grant in (document or {}).get("Grants") or []:
            constraints = grant.get("Constraints")
            context: dict[str, Any] = {}
            for part in ("EncryptionContextSubset", "EncryptionContextEquals"):
                context.update((constraints or {}).get(part) or {})
            grantee = grant.get("GranteePrincipal") or ""
            instance = EC2_INFRASTRUCTURE.findall(grantee)
            yield {
                "key_arn": keys.resolve(grant.get("KeyId")) or keys.resolve(file_key),
                "grant_id": grant.get("GrantId"),
                "name": grant.get("Name") or None,
                "grantee_principal": grant.get("GranteePrincipal"),
                "retiring_principal": grant.get("RetiringPrincipal"),
                "issuing_account": grant.get("IssuingAccount"),
                "operations": sorted(grant.get("Operations") or []),
                "constraints": constraints,
                "creation_date": grant.get("CreationDate"),
                "instance_id": instance[0] if instance else None,
                "volume_id": context.get("aws:ebs:id"),
            }


def alias_rows(evidence: Evidence, keys: KeyResolver) -> Iterator[dict[str, Any]]:
    """One row per alias of kms.list-aliases."""
    for alias in aliases_of(evidence):
        name = alias.get("AliasName")
        yield {
            "alias_name": name,
            "alias_arn": alias.get("AliasArn"),
            "target_key_id": alias.get("TargetKeyId"),
            "key_arn": keys.resolve(name) if alias.get("TargetKeyId") else None,
            "aws_managed": bool(name and name.startswith("alias/aws/")),
            "creation_date": alias.get("CreationDate"),
            "last_updated_date": alias.get("LastUpdatedDate"),
        }


def principal_list(value: Any) -> list[str]:
    """A Principal element flattened to a sorted list of strings ("*" for everyone)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    out: list[str] = []
    if isinstance(value, dict):
        for entries in value.values():
            out += as_list(entries)
    return sorted(set(out))


def as_list(value: Any) -> list[Any]:
    """A policy element that is one value or a list, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
