"""The change look-back (contracts.md section 3a) as a filter over a CloudTrail trail: the events the
LookupEvents look-ups of kit.collect.change_lookups would return, for an Athena table or a log archive.

Each look-up becomes one `ChangeMatch`: a ResourceName look-up keeps the write events whose request or
response names the value (a key by its id, which both its ARN and a bare `keyId` contain), an EventName look-up
the write events of that name (the launcher's and its managed policies' look-ups: IAM's events only); each in
the look-up's Region and in the accounts whose files can hold it (the
instance's account; a key's own account too, which an organisation trail also holds). The organisation's
service control policies add the Organizations events (AttachPolicy, UpdatePolicy, DetachPolicy, MoveAccount)
that name an SCP in force or a target above the account (the account, its OUs, the root), in the management
account's us-east-1, where an organisation trail records them. Only write events are kept (`readOnly` not
true): the look-back is for changes and earlier launches, never for a key's thousands of Decrypt calls.

Light on purpose (no boto3, no pandas): archive worker processes import it to run `keep_change`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from kit.collect.change_lookups import GLOBAL_REGION, ChangeLookup

ORGANIZATIONS_SOURCE = "organizations.amazonaws.com"
IAM_SOURCE = "iam.amazonaws.com"
IAM_QUALIFIERS = ("change-iam-", "change-policy-")  # the launcher's and its managed policies' look-ups
ORGANIZATION_QUALIFIERS = ("change-scp-", "change-org-")  # SCP ids and the targets they attach to
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class ChangeMatch:
    """Write events in `accounts` (empty: any) and `regions` that name `needle` in their request or response,
    or whose name is `event_name`; `event_source`, when set, narrows it to one service."""

    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    needle: str | None = None
    event_name: str | None = None
    event_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in {"accounts": list(self.accounts), "regions": list(self.regions),
                                  "needle": self.needle, "event_name": self.event_name,
                                  "event_source": self.event_source}.items() if v not in (None, [])}


@dataclass(frozen=True)
class ChangeFilter:
    """The look-back: its matches and its time range (ISO 8601 UTC, `YYYY-MM-DDTHH:MM:SSZ`, inclusive)."""

    matches: tuple[ChangeMatch, ...]
    start: str
    end: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "matches": [m.to_dict() for m in self.matches]}

    def regions(self) -> tuple[str, ...]:
        """Every Region a match reads."""
        return tuple(sorted({r for m in self.matches for r in m.regions}))

    def accounts(self) -> tuple[str, ...] | None:
        """Every account a match reads; None when some match reads any account."""
        if any(not m.accounts for m in self.matches):
            return None
        return tuple(sorted({a for m in self.matches for a in m.accounts}))

    def pairs(self) -> frozenset[tuple[str | None, str]]:
        """(account or None for any, Region) pairs whose log files can hold a kept event."""
        return frozenset((account, region) for m in self.matches for region in m.regions
                         for account in (m.accounts or (None,)))

    def needles(self) -> tuple[tuple[bytes, ...], ...]:
        """The archive's byte test (kit.collect.log_parse): a file can hold a kept event only if it holds
        every needle of one group. A value with `/` is tested by its last segment (a writer may escape `/`).
        A match narrowed to one service anchors on its quoted event source (a top-level value of the record,
        rarer than a launcher's name, which every call it makes carries in its userIdentity)."""
        groups: list[tuple[bytes, ...]] = []
        for match in self.matches:
            if match.event_name:
                groups.append((f'"{match.event_name}"'.encode(),))
            elif match.needle and match.event_source:
                groups.append((f'"{match.event_source}"'.encode(), match.needle.rsplit("/", 1)[-1].encode()))
            elif match.needle:
                groups.append((match.needle.rsplit("/", 1)[-1].encode(),))
        return tuple(dict.fromkeys(groups))


def change_filter(lookups: list[ChangeLookup], *, account_id: str | None, start: str, end: str,
                  scp_ids: tuple[str, ...] = (), organization_targets: tuple[str, ...] = (),
                  management_account: str | None = None) -> ChangeFilter:
    """The trail filter for `lookups` (kit.collect.change_lookups) and the organisation's SCPs.

    scp_ids / organization_targets: the SCPs in force and the targets they may be attached to (the account,
    its OUs, the root); management_account: where Organizations records them (None: any account)."""
    home: tuple[str, ...] = (account_id,) if account_id and _ACCOUNT.match(account_id) else ()
    matches: list[ChangeMatch] = []
    for lookup in lookups:
        if lookup.attribute == "EventName":
            matches.append(ChangeMatch(home, (lookup.region,), event_name=lookup.value))
            continue
        if lookup.attribute != "ResourceName" or not lookup.value:
            continue
        if lookup.qualifier.startswith(ORGANIZATION_QUALIFIERS):  # an SCP or a target: the management
            continue  # account's events (added below, with the organisation's other ids)
        value, accounts = lookup.value, home
        if value.startswith("arn:") and ":key/" in value:
            owner = value.split(":")[4]
            accounts = tuple(dict.fromkeys(accounts + ((owner,) if _ACCOUNT.match(owner) else ())))
            value = value.rsplit("/", 1)[-1]
        source = IAM_SOURCE if lookup.qualifier.startswith(IAM_QUALIFIERS) else None  # its changes are IAM's
        matches.append(ChangeMatch(accounts if home else (), (lookup.region,), needle=value, event_source=source))
    scps = list(scp_ids) + [q.value for q in lookups if q.qualifier.startswith(ORGANIZATION_QUALIFIERS)]
    management = (management_account,) if management_account and _ACCOUNT.match(management_account) else ()
    for value in dict.fromkeys([*scps, *organization_targets]):
        if value:
            matches.append(ChangeMatch(management, (GLOBAL_REGION,), needle=value, event_source=ORGANIZATIONS_SOURCE))
    return ChangeFilter(tuple(dict.fromkeys(matches)), start, end)


def keep_change(change: ChangeFilter, record: dict[str, Any]) -> bool:
    """Whether the look-back keeps `record` (module level: archive workers run it)."""
    if record.get("readOnly") in (True, "true"):
        return False
    when = record.get("eventTime")
    if not isinstance(when, str) or not change.start <= when[:19] + "Z" <= change.end:
        return False
    account, region = record.get("recipientAccountId"), record.get("awsRegion")
    text: str | None = None
    for match in change.matches:
        if (match.accounts and account not in match.accounts) or region not in match.regions:
            continue
        if match.event_source and record.get("eventSource") != match.event_source:
            continue
        if match.event_name:
            if record.get("eventName") == match.event_name:
                return True
            continue
        if text is None:
            text = _named_text(record)
        if match.needle and match.needle in text:
            return True
    return False


def _named_text(record: dict[str, Any]) -> str:
    """The request and response as text (what the Athena query's strpos reads)."""
    parts = []
    for name in ("requestParameters", "responseElements"):
        value = record.get(name)
        if value is None:
            continue
        parts.append(value if isinstance(value, str) else json.dumps(value, separators=(",", ":")))
    return "\n".join(parts)


def organization_ids(documents: dict[str, Any], account_id: str | None) -> tuple[tuple[str, ...], tuple[str, ...],
                                                                                 str | None]:
    """From the collected Organizations documents: the SCP ids in force, the targets above the account (the
    account itself, its OUs, the root) and the management account (from a customer SCP's ARN)."""
    targets = [account_id] if account_id else []
    policies: list[str] = []
    management: str | None = None
    for name, document in sorted(documents.items()):
        if not isinstance(document, dict):
            continue
        if name.startswith("organizations.list-parents."):
            targets += [str(p.get("Id")) for p in document.get("Parents") or [] if isinstance(p, dict) and p.get("Id")]
        elif name.startswith("organizations.list-policies-for-target."):
            for policy in document.get("Policies") or []:
                if isinstance(policy, dict) and policy.get("Id"):
                    policies.append(str(policy["Id"]))
                    management = management or _management(policy.get("Arn"))
        elif name.startswith("organizations.describe-policy."):
            summary = (document.get("Policy") or {}).get("PolicySummary") or {}
            management = management or _management(summary.get("Arn"))
    if len(targets) <= 1 and not policies:
        return (), (), None  # not in an organisation (or its SCPs unreadable): nothing to look for
    return tuple(dict.fromkeys(policies)), tuple(dict.fromkeys(targets)), management


def _management(arn: Any) -> str | None:
    """The management account of `arn:aws:organizations::<account>:policy/o-.../...` (AWS managed: None)."""
    parts = str(arn or "").split(":")
    return parts[4] if len(parts) > 5 and _ACCOUNT.match(parts[4]) else None
