"""KMS key references as EC2 and KMS print them (key ARN, key id, alias name, alias ARN) resolved to key ARNs."""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

KEY_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):key/(?P<key_id>[A-Za-z0-9-]+)$")
ALIAS_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<alias>alias/.+)$")
KEY_ID = re.compile(r"^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


def key_id_of(key_arn: str) -> str | None:
    """The key id (uuid or mrk-...) of a key ARN, or of a bare key id; None otherwise."""
    match = KEY_ARN.match(key_arn or "")
    if match:
        return match.group("key_id")
    return key_arn if KEY_ID.match(key_arn or "") else None


def region_of(arn: str | None) -> str | None:
    """The Region field of an ARN, or None."""
    parts = (arn or "").split(":")
    return parts[3] or None if len(parts) > 5 else None


def account_of(arn: str | None) -> str | None:
    """The account field of an ARN, or None."""
    parts = (arn or "").split(":")
    return parts[4] or None if len(parts) > 5 else None


class KeyResolver:
    """Resolves key references using what the evidence knows: describe-key ARNs and list-aliases."""

    def __init__(
        self,
        region: str,
        account: str | None,
        key_arns: Iterable[str] = (),
        aliases: Iterable[Mapping[str, Any]] = (),
        partition: str = "aws",
    ) -> None:
        self.region = region
        self.account = account
        self.partition = partition
        self._by_id = {key_id_of(arn): arn for arn in key_arns if key_id_of(arn)}
        self._aliases: dict[str, str] = {}
        for alias in aliases:
            name, target, arn = alias.get("AliasName"), alias.get("TargetKeyId"), alias.get("AliasArn")
            if not name or not target:
                continue
            region = region_of(arn) or self.region
            account = account_of(arn) or self.account
            key_arn = self._by_id.get(target) or (
                f"arn:{partition}:kms:{region}:{account}:key/{target}" if account else None
            )
            if key_arn:
                self._aliases[name] = key_arn
                if arn:
                    self._aliases[arn] = key_arn

    def resolve(self, ref: str | None) -> str | None:
        """A key ARN for `ref` (key ARN, key id, alias name or alias ARN), or None when it cannot be known."""
        if not ref:
            return None
        if KEY_ARN.match(ref):
            return ref
        if ref in self._aliases:
            return self._aliases[ref]
        if ref.startswith("alias/"):
            return None
        alias = ALIAS_ARN.match(ref)
        if alias:
            return self._aliases.get(alias.group("alias")) if alias.group("account") == self.account else None
        if KEY_ID.match(ref):
            if ref in self._by_id:
                return self._by_id[ref]
            if self.account:
                return f"arn:{self.partition}:kms:{self.region}:{self.account}:key/{ref}"
        return None
