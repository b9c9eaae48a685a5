"""`kit scan`: find the instances that failed to launch, across Regions and accounts, read-only.

An instance failed to launch by kit.diagnose.state_reason.failed_to_launch (the notebook's picker uses it
too): it is stopping, stopped, shutting-down or terminated and its state reason is one the diagnosis
classifies as a launch failure (a KMS candidate, or a named non-KMS cause such as the volume quota), not a
stop someone or something asked for. Each account is read through a role
assumed in it (sts:AssumeRole), with kit.collect's guarded read-only clients; every account/Region pair is
scanned concurrently, and one that cannot be read is reported and skipped. The result is one papermill
parameter file per instance (the notebook's parameter names) and `scan-summary.json`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from kit.aws_ids import ACCOUNT_ID, DESCRIBE_INSTANCES, REGION, ROLE_ARN, ROLE_NAME, instance_account
from kit.errors import BadInput
from kit.params import PROFILE, validate

SCHEMA = "kit.scan-summary/1"
MAX_WORKERS = 8


@dataclass(frozen=True)
class ScanRequest:
    """What to scan: Regions, accounts (each through `role_name`), failures since when."""

    regions: tuple[str, ...]
    accounts: tuple[str, ...] = ()
    role_name: str = ""
    since: datetime | None = None
    profile: str = ""
    until: datetime | None = None
    cloudtrail_source: str = ""  # a folder or s3:// prefix: scan the trail (kit.batch.trail_scan), any Region
    org_role_arn: str = ""  # the management account's role, written into every parameter file (SCP changes)

    @classmethod
    def from_args(cls, *, regions: Sequence[str] | None, accounts: Sequence[str] | None = None,
                  role_name: str | None = None, since: str | None = None, profile: str | None = None,
                  until: str | None = None, cloudtrail_source: str | None = None,
                  org_role_arn: str | None = None) -> ScanRequest:
        """Check the command line's values; BadInput names the option and what it takes."""
        if cloudtrail_source is not None and not (isinstance(cloudtrail_source, str) and cloudtrail_source.strip()):
            raise BadInput("--cloudtrail-source", "a folder of CloudTrail log files or s3://bucket/prefix",
                           cloudtrail_source)
        if not regions and not cloudtrail_source:
            raise BadInput("--region", "at least one Region code like eu-west-1", regions)
        for region in regions or ():
            if not isinstance(region, str) or not REGION.match(region):
                raise BadInput("--region", "a Region code like eu-west-1", region)
        for account in accounts or ():
            if not isinstance(account, str) or not ACCOUNT_ID.match(account):
                raise BadInput("--account", "a 12-digit AWS account id", account)
        if accounts and not role_name and not cloudtrail_source:
            raise BadInput("--role-name", "the name of a role to assume in each --account (e.g. a read-only "
                           "auditor role)", role_name)
        if role_name and not accounts:
            raise BadInput("--account", "at least one account id to assume --role-name in", None)
        if role_name and not ROLE_NAME.match(role_name):
            raise BadInput("--role-name", "an IAM role name (letters, digits and +=,.@_-, at most 64)", role_name)
        if profile and not PROFILE.match(profile):
            raise BadInput("--profile", "an AWS profile name", profile)
        start, end = parse_time("--since", since), parse_time("--until", until)
        if start and end and start > end:
            raise BadInput("--until", "a time after --since", until)
        if cloudtrail_source and start is None:
            raise BadInput("--since", "an ISO 8601 time: the start of the window to scan in the trail", since)
        return cls(regions=tuple(dict.fromkeys(regions or ())), accounts=tuple(dict.fromkeys(accounts or ())),
                   role_name=role_name or "", since=start, profile=profile or "", until=end,
                   cloudtrail_source=(cloudtrail_source or "").strip(), org_role_arn=checked_org_role_arn(org_role_arn))

    def role_arn(self, account: str, region: str) -> str:
        """The role to assume in `account` (partition from the Region)."""
        return f"arn:{partition(region)}:iam::{account}:role/{self.role_name}"


def checked_org_role_arn(value: str | None) -> str:
    """`--org-role-arn` checked (BadInput names it), or "" when not given."""
    if value and not ROLE_ARN.match(value):
        raise BadInput("--org-role-arn", "an IAM role ARN in the organization's management account like "
                       "arn:aws:iam::111122223333:role/OrgReader", value)
    return value or ""


@dataclass
class FailedLaunch:
    """An instance that failed to launch, as the scan saw it."""

    instance_id: str
    region: str
    account_id: str | None
    state: str
    state_reason_code: str | None
    state_reason_message: str | None
    effective_reason: str | None
    kind: str  # kms-candidate | cause
    cause: str | None  # for kind "cause": the contracts cause code the reason names
    failed_at: str | None  # ISO 8601: the instance's incident time (LaunchTime / transition time)
    role_arn: str = ""
    params_file: str = ""
    cloudtrail_source: str = ""  # set when the scan read a trail: the investigation reads it too

    def parameters(self, profile: str = "", org_role_arn: str = "") -> dict[str, Any]:
        """The notebook's parameters for this instance (only what differs from the defaults)."""
        values: dict[str, Any] = {"instance_id": self.instance_id, "region": self.region}
        if self.role_arn:
            values["role_arn"] = self.role_arn
        if org_role_arn:
            values["org_role_arn"] = org_role_arn
        if self.cloudtrail_source:
            values["cloudtrail_source"] = self.cloudtrail_source
        if profile:
            values["profile"] = profile
        validate(values, require_target=True)  # what is written is what `kit batch` accepts
        return values


@dataclass
class TargetResult:
    """One account/Region pair: read or not, what was examined, what failed to launch."""

    account_id: str | None  # None: the account of the default credentials
    region: str
    error: str | None = None
    instances_examined: int = 0
    failed: list[FailedLaunch] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "region": self.region, "status": "failed" if self.error else "ok",
                "error": self.error, "instances_examined": self.instances_examined,
                "failed_launches": len(self.failed)}


@dataclass
class ScanResult:
    """Every target's result, and all failed launches found (sorted by account, Region, time)."""

    request: ScanRequest
    targets: list[TargetResult]
    scanned_at: str
    gaps: list[dict[str, Any]] = field(default_factory=list)  # a trail scan's: files skipped, integrity findings
    archive: dict[str, Any] | None = None  # a trail scan's: files chosen, read, skipped

    @property
    def instances(self) -> list[FailedLaunch]:
        found = [f for t in self.targets for f in t.failed]
        return sorted(found, key=lambda f: (f.account_id or "", f.region, f.failed_at or "", f.instance_id))


def scan(request: ScanRequest, *, workers: int = MAX_WORKERS) -> ScanResult:
    """Scan every (account, Region) pair concurrently; a pair that cannot be read gets an error, not a raise."""
    scanned_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    accounts: list[str | None] = list(request.accounts) or [None]
    pairs = [(account, region) for account in accounts for region in request.regions]
    sessions = _Sessions(request)
    with ThreadPoolExecutor(max(1, min(workers, len(pairs))), thread_name_prefix="kit-scan") as pool:
        targets = list(pool.map(lambda pair: _scan_target(request, sessions, *pair), pairs))
    return ScanResult(request, targets, scanned_at)


def write_scan(result: ScanResult, out: Path) -> list[Path]:
    """Write one parameter file per failed launch and `scan-summary.json` into `out`; returns the files."""
    out.mkdir(parents=True, exist_ok=True)
    _remove_previous(out)
    written: list[Path] = []
    refused: list[dict[str, Any]] = []
    for failed in result.instances:
        try:  # everything from AWS that becomes a path or YAML is checked first (ids, Region, role ARN)
            parameters = failed.parameters(result.request.profile, result.request.org_role_arn)
        except BadInput as err:
            refused.append({"instance_id": failed.instance_id, "region": failed.region,
                            "account_id": failed.account_id, "error": str(err)})
            continue
        account = failed.account_id if failed.account_id and ACCOUNT_ID.fullmatch(failed.account_id) else None
        name = f"{account or 'account'}-{failed.region}-{failed.instance_id}.yaml"
        path = out / name
        header = _comment(f"kit scan {result.scanned_at}: {failed.instance_id} in {failed.region}"
                          f"{', account ' + failed.account_id if failed.account_id else ''} is {failed.state or 'failed to launch'}: "
                          f"{failed.effective_reason or failed.state_reason_code or 'no state reason'} "
                          f"({failed.kind}{': ' + failed.cause if failed.cause else ''}) at "
                          f"{failed.failed_at or 'unknown time'}")
        header += "# papermill parameters of the investigation notebook; run: kit batch <files> --out DIR\n"
        body = yaml.safe_dump(parameters, sort_keys=False, default_flow_style=False)
        path.write_text(header + body, encoding="utf-8")
        failed.params_file = name
        written.append(path)
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "scanned_at": result.scanned_at,
        "since": result.request.since.isoformat() if result.request.since else None,
        "until": result.request.until.isoformat() if result.request.until else None,
        "regions": list(result.request.regions),
        "accounts": list(result.request.accounts),
        "role_name": result.request.role_name or None,
        "targets": [t.to_dict() for t in result.targets],
        "skipped": [t.to_dict() for t in result.targets if t.error],
        "instances": [asdict(f) for f in result.instances if f.params_file],
        "refused": refused,  # failed launches whose ids from AWS could not be written safely
    }
    if result.request.cloudtrail_source:
        summary["cloudtrail_source"] = result.request.cloudtrail_source
        summary["archive"] = result.archive
        summary["gaps"] = result.gaps
    (out / "scan-summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return written


def _comment(text: str) -> str:
    """One YAML comment line: line breaks and other control characters from AWS fields become spaces."""
    return "# " + _CONTROL.sub(" ", text) + "\n"


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def _remove_previous(out: Path) -> None:
    """Remove the parameter files a previous scan wrote into `out` (listed in its summary), nothing else."""
    previous = out / "scan-summary.json"
    try:
        listed = [i.get("params_file") for i in json.loads(previous.read_text(encoding="utf-8")).get("instances", [])]
    except (OSError, ValueError, AttributeError):
        return
    for name in listed:
        if isinstance(name, str) and name and Path(name).name == name and name.endswith(".yaml"):
            (out / name).unlink(missing_ok=True)


def parse_time(option: str, value: str | None) -> datetime | None:
    """`--since`/`--until` as an aware UTC datetime (ISO 8601; a date alone means its midnight UTC)."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(option, "an ISO 8601 time like 2024-05-01T10:00:00Z", value) from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def partition(region: str) -> str:
    """The AWS partition of a Region."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def launch_failure(instance: dict[str, Any]) -> tuple[Any, datetime | None] | None:
    """(the diagnosis's reading of the state reason, the failure time) when `instance` failed to launch."""
    from kit.collect.cloudtrail_window import incident_time
    from kit.diagnose.state_reason import failed_to_launch, read_instance_state

    reading = read_instance_state(instance)
    if not failed_to_launch(reading):
        return None
    return reading, incident_time(instance)


class _Sessions:
    """One session per account (the role assumed once, whatever the number of Regions)."""

    def __init__(self, request: ScanRequest) -> None:
        self.request = request
        self._sessions: dict[str | None, Any] = {}
        self._errors: dict[str | None, str] = {}
        self._locks: dict[str | None, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, account: str | None, region: str) -> Any:
        """The session for `account`; raises (the same error each time) when it cannot be had."""
        from kit.collect.clients import make_session

        with self._lock:
            lock = self._locks.setdefault(account, threading.Lock())
        with lock:
            if account in self._errors:
                raise _Unreadable(self._errors[account])
            if account not in self._sessions:
                role = self.request.role_arn(account, region) if account else None
                try:
                    self._sessions[account] = make_session(profile=self.request.profile or None, role_arn=role,
                                                           region=region, session_name="kit-scan")
                except Exception as exc:  # noqa: BLE001 - this account is skipped, the others are scanned
                    what = f"cannot assume {role}" if role else "cannot get credentials"
                    self._errors[account] = f"{what}: {_error_text(exc)}"
                    raise _Unreadable(self._errors[account]) from exc
            return self._sessions[account]


class _Unreadable(Exception):
    pass


def _scan_target(request: ScanRequest, sessions: _Sessions, account: str | None, region: str) -> TargetResult:
    from kit.collect.clients import ReadOnlyClients
    from kit.diagnose.state_reason import FAILED_LAUNCH_STATES

    target = TargetResult(account_id=account, region=region)
    try:
        session = sessions.get(account, region)
        ec2 = ReadOnlyClients(session, region)("ec2")
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": list(FAILED_LAUNCH_STATES)}])
        for page in pages:
            for reservation in page.get("Reservations") or []:
                for instance in reservation.get("Instances") or []:
                    target.instances_examined += 1
                    owner = instance_account({DESCRIBE_INSTANCES: {"Reservations": [reservation]}},
                                             instance.get("InstanceId") or "") or account
                    found = _failed_launch(request, instance, owner, account, region)
                    if found is not None:
                        target.failed.append(found)
    except _Unreadable as exc:
        target.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - every AWS or network error skips this pair, reported
        target.error = f"cannot read ec2:DescribeInstances: {_error_text(exc)}"
        target.failed.clear()
    return target


def _failed_launch(request: ScanRequest, instance: dict[str, Any], owner: str | None, account: str | None,
                   region: str) -> FailedLaunch | None:
    failure = launch_failure(instance)
    if failure is None:
        return None
    reading, failed_at = failure
    if request.since and (failed_at is None or failed_at < request.since):
        return None
    if request.until and (failed_at is None or failed_at > request.until):
        return None
    reason = instance.get("StateReason") or {}
    return FailedLaunch(
        instance_id=instance["InstanceId"], region=region, account_id=owner, state=reading.state or "",
        state_reason_code=reason.get("Code"), state_reason_message=reason.get("Message"),
        effective_reason=reading.effective, kind=reading.kind, cause=reading.cause,
        failed_at=failed_at.isoformat() if failed_at else None,
        role_arn=request.role_arn(account, region) if account else "")


def _error_text(exc: BaseException, limit: int = 300) -> str:
    """The AWS error code and message (or the exception), on one line, bounded."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response["Error"]
        text = f"{error.get('Code', type(exc).__name__)}: {error.get('Message', '')}".strip().rstrip(":")
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
