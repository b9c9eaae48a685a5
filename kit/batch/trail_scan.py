"""`kit scan --cloudtrail-source DIR|s3://bucket/prefix`: the launch failures of every account and Region an
(organisation) trail holds, in one pass over its log files, without DescribeInstances in each account.

The archive reader (kit.collect.cloudtrail_logs.read_archive) chooses the files of the window by name, keeps only
the records kit.batch.trail_failures can use (a byte test, then a record test, in worker processes), and the
failures are found by the pure kit.batch.trail_failures.launch_failures over their events frame. The result is
the same ScanResult `kit scan` writes (one parameter file per instance, scan-summary.json); each parameter file
names the archive as its `cloudtrail_source`, so the investigation reads the same log files.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from kit.batch.scan import FailedLaunch, ScanRequest, ScanResult, TargetResult
from kit.batch.trail_failures import LAUNCH_EVENTS, LAUNCH_LOOKBACK, NEEDLES, launch_failures, record_may_fail
from kit.errors import BadInput

if TYPE_CHECKING:
    from kit.collect.clients import ReadOnlyClients

_PAIR = re.compile(r"(?:^|/)(\d{12})/CloudTrail/([\w-]+)/")


def scan_trail(request: ScanRequest) -> ScanResult:
    """Scan the request's CloudTrail archive (folder or s3://) for launch failures between since and until."""
    from kit.collect.clients import ReadOnlyClients, make_session
    from kit.collect.cloudtrail_logs import LogSelection, read_archive
    from kit.collect.cloudtrail_window import TimeRange
    from kit.collect.fetcher import Fetcher
    from kit.frames.cloudtrail import events_frame

    source = request.cloudtrail_source
    if source.startswith("athena:"):  # the Athena half of issue 13 (kit.collect.cloudtrail_athena) plugs in here
        raise BadInput("--cloudtrail-source", "a folder of CloudTrail log files or s3://bucket/prefix", source)
    scanned_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if request.since is None:
        raise BadInput("--since", "an ISO 8601 time: the start of the window to scan in the trail", None)
    until = request.until or datetime.now(timezone.utc)
    region = request.regions[0] if request.regions else "us-east-1"
    session = make_session(profile=request.profile or None, region=region) if source.startswith("s3://") else None
    fetch = Fetcher(ReadOnlyClients(session, region) if session is not None else _offline_clients(region))
    selection = LogSelection(TimeRange(request.since - LAUNCH_LOOKBACK, until),
                             frozenset(request.accounts) or None, frozenset(request.regions) or None)
    archive = read_archive(fetch, source, selection, needles=NEEDLES, keep=record_may_fail)
    events = events_frame(archive.records)
    failures = launch_failures(events, request.since, until)
    targets: dict[tuple[str, str], TargetResult] = {}
    for name in archive.opened:
        match = _PAIR.search("/" + name)
        if match:
            targets.setdefault((match[1], match[2]), TargetResult(match[1], match[2]))
    for failure in failures:
        target = targets.setdefault((failure.account_id, failure.region),
                                    TargetResult(failure.account_id, failure.region))
        target.failed.append(FailedLaunch(
            instance_id=failure.instance_id, region=failure.region, account_id=failure.account_id, state="",
            state_reason_code=None, state_reason_message=None,
            effective_reason=f"{failure.error_code} on {failure.operation} made by EC2 for the launch",
            kind="kms-candidate", cause=None, failed_at=failure.launched_at.isoformat(),
            role_arn=request.role_arn(failure.account_id, failure.region) if request.role_name else "",
            cloudtrail_source=source))
    launched = events[events["event_name"].isin(LAUNCH_EVENTS)]
    for (account, region), target in targets.items():
        mine = launched[(launched["recipient_account_id"] == account) & (launched["region"] == region)]
        target.instances_examined = len({i for ids in mine["instance_ids"] for i in ids})
    gaps = list(archive.gaps) + list(fetch.gaps)
    return ScanResult(request, sorted(targets.values(), key=lambda t: (t.account_id or "", t.region)), scanned_at,
                      gaps=[g.to_dict() for g in gaps],
                      archive={"files_chosen": archive.listed, "files_read": len(archive.opened),
                               "files_skipped": archive.skipped_files, "bytes_skipped": archive.skipped_bytes,
                               "integrity": archive.integrity.to_dict()["summary"] if archive.integrity else None})


def _offline_clients(region: str) -> ReadOnlyClients:
    """Clients for a local folder: never called (a folder costs no AWS call)."""
    import boto3

    from kit.collect.clients import ReadOnlyClients

    return ReadOnlyClients(boto3.Session(aws_access_key_id="none", aws_secret_access_key="none",
                                         region_name=region), region)
