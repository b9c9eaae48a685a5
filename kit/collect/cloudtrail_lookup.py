"""CloudTrail LookupEvents, narrowed to the incident: one attribute per query, bounded window, bounded pages.

Queries (measured against the simulated account; see bench/collect.py):
- ResourceName = the instance id over the incident window: RunInstances/StartInstances/StopInstances
  (few events; they place the launch attempt in time and name the launching principal);
- ResourceName = the key ARN over the narrow KMS window after the launch attempt: CreateGrant,
  Decrypt, GenerateDataKeyWithoutPlaintext on that key (EC2's calls for the instance are among a handful);
- with several keys, EventSource = kms.amazonaws.com over the narrow window (one query for all keys), or,
  when the page bound cuts it (a busy account), each key's ResourceName query instead;
- only when no key is known (the volumes are gone and nothing names one): EventSource = kms.amazonaws.com
  over the narrow KMS window, whose errored events name the key.
A query that hits its page bound keeps the newest events and records a gap saying the bound cut it.
"""

from __future__ import annotations

from typing import Any

from kit.collect.cloudtrail_window import PAGE_SIZE, TimeRange
from kit.collect.fetcher import Fetcher
from kit.collect.redact import redact_lookup


def lookup_events(fetch: Fetcher, qualifier: str, attribute: str, value: str, window: TimeRange,
                  max_pages: int, *, gap_when_cut: bool = True, region: str | None = None) -> dict[str, Any] | None:
    """`cloudtrail.lookup-events.<qualifier>.json`: events with `attribute` = `value` inside `window`.

    When the page bound cuts the result: a gap says so, or (gap_when_cut=False, the caller narrows the
    query instead) the returned document keeps `NextToken` and nothing is stored.
    """
    params = {"LookupAttributes": [{"AttributeKey": attribute, "AttributeValue": value}],
              "StartTime": window.start, "EndTime": window.end}
    document = fetch.fetch(None, "cloudtrail", "LookupEvents", params, target=f"{attribute}={value}",
                           max_items=max_pages * PAGE_SIZE, page_size=PAGE_SIZE, region=region)
    if document is None:
        return None
    if document.get("NextToken") and not gap_when_cut:
        return document
    if document.pop("NextToken", None):
        fetch.skip("cloudtrail", "LookupEvents", params, error="PageLimitReached",
                   region=region, impact=f"more than {max_pages * PAGE_SIZE} events have {attribute}={value} between "
                          f"{window.start.isoformat()} and {window.end.isoformat()}; only the newest were read "
                          f"(narrow the window, or raise max_pages)")
    document.setdefault("Events", [])
    redact_lookup(document)
    fetch.store(f"cloudtrail.lookup-events.{qualifier}.json", document)
    return document
