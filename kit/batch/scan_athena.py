"""`kit scan --cloudtrail-source athena:DATABASE.TABLE`: the organisation's launch failures from its trail, in
one Athena query across every account and Region the table holds (or the --account/--region given).

The query (kit.collect.cloudtrail_athena.launch_failures_query) returns the window's launch calls
(RunInstances, StartInstances) and the KMS calls EC2 made for a launch that KMS refused (invokedBy
ec2.amazonaws.com, an errorCode). An instance failed to launch when such a refusal names it (the grant for its
`aws:ec2-infrastructure` role, or the role itself as caller); its launch time is the latest successful launch
call for it before the refusal, its account that call's recipient account (else the refused call's caller
account). A failure CloudTrail does not record (a volume quota, no capacity: EC2 stops the instance with a
Client.* reason but logs no event for it) is not found this way; DescribeInstances (`kit scan --region`) finds
those. The parameter files are today's (kit.batch.scan.write_scan), each with the Athena source so `kit batch`
reads the instance's events from the same table; `scan-athena.json` keeps the query, its id and bytes scanned.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from kit.aws_ids import ACCOUNT_ID, EC2_INFRASTRUCTURE, REGION, ROLE_NAME
from kit.batch.scan import (FailedLaunch, ScanRequest, ScanResult, TargetResult, checked_org_role_arn, parse_time,
                            partition, write_scan)
from kit.errors import BadInput
from kit.params import PROFILE, AthenaSource, parse_athena_source

DEFAULT_DAYS = 1
MAX_DAYS = 90
LAUNCH_EVENTS = ("RunInstances", "StartInstances")


@dataclass
class AthenaScan:
    """One scan's query and what it found."""

    result: ScanResult
    query: dict[str, Any]


def failed_launches(records: list[dict[str, Any]], *, role_name: str = "",
                    cloudtrail_source: str = "") -> list[FailedLaunch]:
    """The instances whose launch KMS refused to EC2, from the scan query's records (see the module's doc)."""
    from kit.frames.cloudtrail import touched_resources

    launches: dict[str, list[dict[str, Any]]] = {}
    refusals: dict[str, dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: str(r.get("eventTime") or "")):
        identity = record.get("userIdentity") or {}
        if record.get("eventSource") == "ec2.amazonaws.com" and record.get("eventName") in LAUNCH_EVENTS:
            if not record.get("errorCode"):
                for instance in touched_resources(record)[0]:
                    launches.setdefault(instance, []).append(record)
        elif record.get("eventSource") == "kms.amazonaws.com" and record.get("errorCode") and (
                identity.get("invokedBy") == "ec2.amazonaws.com"
                or record.get("sourceIPAddress") == "ec2.amazonaws.com"):
            named = set(touched_resources(record)[0]) | set(EC2_INFRASTRUCTURE.findall(str(identity.get("arn") or "")))
            for instance in sorted(named):
                refusals.setdefault(instance, record)
    out = []
    for instance, refusal in refusals.items():
        refused_at = str(refusal.get("eventTime") or "")
        before = [r for r in launches.get(instance, []) if str(r.get("eventTime") or "") <= refused_at]
        launch = before[-1] if before else None
        caller = refusal.get("userIdentity") or {}
        launcher = (launch or {}).get("userIdentity") or {}
        account = ((launch or {}).get("recipientAccountId") or launcher.get("accountId") or caller.get("accountId")
                   or refusal.get("recipientAccountId"))
        region = str((launch or refusal).get("awsRegion") or "")
        account = account if isinstance(account, str) and ACCOUNT_ID.fullmatch(account) else None
        role_arn = (f"arn:{partition(region)}:iam::{account}:role/{role_name}"
                    if role_name and account and REGION.match(region) else "")
        out.append(FailedLaunch(
            instance_id=instance, region=region, account_id=account, state="launch refused (CloudTrail)",
            state_reason_code=str(refusal.get("errorCode")), state_reason_message=refusal.get("errorMessage"),
            effective_reason=f"kms:{refusal.get('eventName')} refused to EC2 ({refusal.get('errorCode')})",
            kind="kms-candidate", cause=None,
            failed_at=str((launch or refusal).get("eventTime") or "") or None, role_arn=role_arn,
            cloudtrail_source=cloudtrail_source))
    return out


def scan_athena(source: AthenaSource, request: ScanRequest, *, session: Any, region: str) -> AthenaScan:
    """Run the one query in `region`'s Athena and turn its records into a ScanResult (errors: a failed target)."""
    from kit.collect.clients import CallRecorder, ReadOnlyClients
    from kit.collect.cloudtrail_athena import AthenaReader, launch_failures_query
    from kit.collect.cloudtrail_window import TimeRange
    from kit.collect.fetcher import Fetcher

    scanned_at = datetime.now(timezone.utc)
    until = request.until or scanned_at
    since = request.since or until - timedelta(days=DEFAULT_DAYS)
    fetch = Fetcher(ReadOnlyClients(session, region, CallRecorder()))
    reader = AthenaReader(fetch, source)
    layout = reader.layout()
    if layout.account_injected and not request.accounts:
        raise BadInput("--account", f"the accounts to scan: {source.database}.{source.table} projects its "
                                    f"{layout.account_column} partition as `injected`, so a query must name them", None)
    query = launch_failures_query(source, layout, TimeRange(since, until), accounts=request.accounts,
                                  regions=request.regions)
    run = reader.run(query)
    target = TargetResult(account_id=None, region=region)
    record: dict[str, Any] = {"table": f"{source.database}.{source.table}", "workgroup": source.workgroup,
                              "query": query.sql, "execution_parameters": list(query.parameters),
                              "since": since.isoformat(), "until": until.isoformat()}
    if run is None:
        target.error = "; ".join(f"{g.call} {g.error}: {g.impact}" for g in fetch.gaps) or "the query failed"
    else:
        record.update(query_execution_id=run.query_execution_id, data_scanned_bytes=run.data_scanned_bytes,
                      rows=len(run.records), truncated=run.cut)
        target.instances_examined = len(run.records)
        target.failed = failed_launches(run.records, role_name=request.role_name,
                                        cloudtrail_source=source.to_source())
        if run.cut:
            target.error = "; ".join(f"{g.call} {g.error}: {g.impact}" for g in fetch.gaps)
    record["gaps"] = [g.to_dict() for g in fetch.gaps]
    return AthenaScan(ScanResult(request, [target], scanned_at.isoformat(timespec="seconds")), record)


def run_athena_scan(args: argparse.Namespace) -> int:
    """`kit scan --cloudtrail-source athena:...`: exit 0 when the query ran, 1 when it did not, 2 on bad input."""
    from kit.collect.clients import make_session

    source = parse_athena_source(args.cloudtrail_source, "--cloudtrail-source")
    for region in args.regions or ():
        if not REGION.match(region):
            raise BadInput("--region", "a Region code like eu-west-1", region)
    for account in args.accounts or ():
        if not ACCOUNT_ID.match(account):
            raise BadInput("--account", "a 12-digit AWS account id", account)
    if args.role_name and not ROLE_NAME.match(args.role_name):
        raise BadInput("--role-name", "an IAM role name (letters, digits and +=,.@_-, at most 64)", args.role_name)
    if args.profile and not PROFILE.match(args.profile):
        raise BadInput("--profile", "an AWS profile name", args.profile)
    since, until = parse_time("--since", args.since), parse_time("--until", args.until)
    if since and until and since > until:
        raise BadInput("--until", "a time after --since", args.until)
    if since and (until or datetime.now(timezone.utc)) - since > timedelta(days=MAX_DAYS):
        raise BadInput("--since", f"a time at most {MAX_DAYS} days before --until", args.since)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise BadInput("--out", "a folder (or a path where one can be created)", str(out))
    request = ScanRequest(regions=tuple(dict.fromkeys(args.regions or ())),
                          accounts=tuple(dict.fromkeys(args.accounts or ())), role_name=args.role_name or "",
                          since=since, profile=args.profile or "", until=until,
                          org_role_arn=checked_org_role_arn(getattr(args, "org_role_arn", None)))
    session = make_session(profile=args.profile or None, session_name="kit-scan")
    region = source.region or session.region_name or (request.regions[0] if request.regions else None)
    if not region:
        raise BadInput("--cloudtrail-source", "the Region of Athena: athena:DB.TABLE?region=R, AWS_REGION or the "
                       "profile's Region", None)
    found = scan_athena(source, request, session=session, region=region)
    written = write_scan(found.result, out)
    (out / "scan-athena.json").write_text(json.dumps(found.query, indent=2, default=str) + "\n", encoding="utf-8")
    target = found.result.targets[0]
    if target.error:
        print(f"kit scan: {target.error}", file=sys.stderr)
    for path in written:
        print(path)
    print(f"{len(found.result.instances)} failed launches in {source.database}.{source.table} "
          f"(one Athena query, {found.query.get('data_scanned_bytes')} bytes scanned); "
          f"summary: {out / 'scan-summary.json'}", file=sys.stderr)
    return 1 if found.query.get("query_execution_id") is None else 0
