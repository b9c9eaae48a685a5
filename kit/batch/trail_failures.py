"""Launch failures read from a trail (every account and Region of an organisation trail, in one pass): pure
functions over the events frame (kit.frames.cloudtrail.events_frame), no AWS.

A launch failed when EC2 was refused a KMS call it made for the launch: a kms.amazonaws.com event with an
errorCode (other than throttling) made by EC2 (`userIdentity.invokedBy` ec2.amazonaws.com: the launcher's
CreateGrant / GenerateDataKeyWithoutPlaintext through EC2, or the instance's hidden aws:ec2-infrastructure role's
Decrypt). EC2 then stops the instance (pending -> stopped, Client.InternalError); CloudTrail records no event for
that stop, so the refusal is the trail's evidence of it. The instance is the one the refused event names (the
grantee or the infrastructure session), else the one whose launch event touched the same volume, else the latest
RunInstances/StartInstances of the same principal in the same account and Region just before. Its launch time is
that launch event's time (the refusal's when no launch event is in the trail).

`record_may_fail` is the per-record test (dicts, for the archive reader's workers) and `NEEDLES` the byte-level
test before parsing that goes with it: a record it keeps contains every needle of one group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

LAUNCH_EVENTS = ("RunInstances", "StartInstances")
EC2_SERVICE = "ec2.amazonaws.com"
NOT_REFUSALS = ("ThrottlingException", "RequestLimitExceeded")
LAUNCH_LOOKBACK = timedelta(minutes=15)  # a launch's KMS calls follow its launch event within seconds
NEEDLES: tuple[tuple[bytes, ...], ...] = (
    (b'"RunInstances"',), (b'"StartInstances"',), (b'"errorCode"', b'"kms.amazonaws.com"', b'"ec2.amazonaws.com"'))


@dataclass(frozen=True)
class TrailFailure:
    """One instance whose launch EC2's refused KMS call ended."""

    account_id: str
    region: str
    instance_id: str
    launched_at: datetime
    refused_at: datetime
    operation: str       # kms:CreateGrant, ...
    error_code: str
    key_arn: str | None
    event_id: str


def record_may_fail(record: dict[str, Any]) -> bool:
    """Whether a record can matter to `launch_failures`: a launch event, or a KMS refusal EC2 got."""
    name = record.get("eventName")
    if name in LAUNCH_EVENTS:
        return record.get("eventSource") == EC2_SERVICE
    return _refusal(record.get("eventSource"), record.get("errorCode"),
                    (record.get("userIdentity") or {}).get("invokedBy") if isinstance(record.get("userIdentity"),
                                                                                        dict) else None)


def launch_failures(events: pd.DataFrame, since: datetime | None = None,
                    until: datetime | None = None) -> list[TrailFailure]:
    """Every instance whose launch EC2's refused KMS call ended, refused between `since` and `until`,
    one per (account, Region, instance) (the earliest refusal), sorted by account, Region, launch time."""
    if events.empty:
        return []
    launches = events[events["event_name"].isin(LAUNCH_EVENTS) & (events["event_source"] == EC2_SERVICE)
                      & events["error_code"].isna()]
    refused = events[[_refusal(s, e, i) for s, e, i in
                      zip(events["event_source"], events["error_code"], events["invoked_by"])]]
    found: dict[tuple[str, str, str], TrailFailure] = {}
    for row in refused.to_dict("records"):
        at: datetime = row["event_time"].to_pydatetime()
        if (since and at < since) or (until and at > until):
            continue
        for account, instance, launched in _instances(row, launches):
            key = (account, str(row["region"]), instance)
            if key in found and found[key].refused_at <= at:
                continue
            keys = list(row["key_arns"])
            found[key] = TrailFailure(account, str(row["region"]), instance, launched or at, at,
                                      f"kms:{row['event_name']}", str(row["error_code"]),
                                      str(keys[0]) if keys else None, str(row["event_id"]))
    return sorted(found.values(), key=lambda f: (f.account_id, f.region, f.launched_at, f.instance_id))


def _refusal(source: Any, error: Any, invoked_by: Any) -> bool:
    return source == "kms.amazonaws.com" and isinstance(error, str) and bool(error) and \
        error not in NOT_REFUSALS and invoked_by == EC2_SERVICE


def _instances(row: dict[Any, Any], launches: pd.DataFrame) -> list[tuple[str, str, datetime | None]]:
    """(account, instance, launch time) for the instance(s) a refused KMS event belongs to."""
    at = row["event_time"]
    before = launches[(launches["region"] == row["region"]) & (launches["event_time"] <= at)
                      & (launches["event_time"] >= at - LAUNCH_LOOKBACK)]
    caller = row["account_id"] if isinstance(row["account_id"], str) else row["recipient_account_id"]
    caller_account = str(caller)
    if len(row["instance_ids"]):
        out = []
        for instance in row["instance_ids"]:
            mine = before[[instance in ids for ids in before["instance_ids"]]]
            out.append(_with_launch(str(instance), mine, caller_account))
        return out
    volumes = list(row["volume_ids"])
    if volumes:
        mine = before[[any(v in ids for v in volumes) for ids in before["volume_ids"]]]
        if not mine.empty and len(mine.iloc[-1]["instance_ids"]) == 1:
            return [_with_launch(str(mine.iloc[-1]["instance_ids"][0]), mine, caller_account)]
    if isinstance(row["principal_arn"], str):
        mine = before[before["principal_arn"] == row["principal_arn"]]
        if not mine.empty and len(mine.iloc[-1]["instance_ids"]) == 1:
            return [_with_launch(str(mine.iloc[-1]["instance_ids"][0]), mine, caller_account)]
    return []


def _with_launch(instance: str, launches: pd.DataFrame, account: str) -> tuple[str, str, datetime | None]:
    if launches.empty:
        return account, instance, None
    last = launches.iloc[-1]
    return str(last["recipient_account_id"] or account), instance, last["event_time"].to_pydatetime()
