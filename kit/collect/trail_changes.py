"""The change look-back (contracts.md section 3a) when the investigation reads CloudTrail from a trail (an
Athena table, a folder or an s3:// prefix of log files) instead of LookupEvents: the same look-ups
(kit.collect.change_lookups), run as one filter (kit.collect.change_filter) through the same source, so an
organisation trail also gives the management account's Organizations events (SCPs) and a key owner's own
events. The kept events land where every CloudTrail source lands (`cloudtrail-athena/<query id>.json`,
`cloudtrail-logs/change-lookback.json.gz`), so kit.frames and kit.diagnose.change read them unchanged."""

from __future__ import annotations

from datetime import datetime, timezone

from kit.collect.change_filter import change_filter, organization_ids
from kit.collect.change_lookups import ChangeLookup
from kit.collect.cloudtrail_athena import collect_athena_changes
from kit.collect.cloudtrail_logs import collect_archive_changes
from kit.collect.cloudtrail_window import TimeRange
from kit.collect.fetcher import Fetcher
from kit.params import is_athena_source


def collect_trail_changes(fetch: Fetcher, source: str, lookups: list[ChangeLookup], window: TimeRange, *,
                          account_id: str | None) -> int:
    """Run the look-back of `lookups` over `window` through `source`; returns the number of events kept.

    The management account (where an organisation trail records Organizations events) comes from a customer
    SCP's ARN, else from DescribeOrganization (one call, the look-back's own)."""
    scp_ids, targets, management = organization_ids(fetch.documents, account_id)
    if targets and not management:  # no customer SCP names it: ask (else every account's us-east-1 is read)
        described = fetch.fetch("organizations.describe-organization.json", "organizations", "DescribeOrganization")
        management = str(((described or {}).get("Organization") or {}).get("MasterAccountId") or "") or None
    change = change_filter(lookups, account_id=account_id, start=_iso(window.start), end=_iso(window.end),
                           scp_ids=scp_ids, organization_targets=targets, management_account=management)
    if is_athena_source(source):
        return collect_athena_changes(fetch, source, change)
    return collect_archive_changes(fetch, source, change)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
