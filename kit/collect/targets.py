"""Entry points other than an instance id: an Auto Scaling group (`--asg`), a fleet (`--fleet-id`) or a pasted
error text (`--error-text`), resolved to the instances that failed to launch, read-only.

- asg: the group's activities (DescribeScalingActivities) that launched an instance and did not succeed;
- fleet id: the instances tagged with it (aws:ec2:fleet-id, aws:ec2spot:fleet-request-id), plus the instances
  DescribeFleetHistory names for an EC2 Fleet (instant fleets have no history; that is no error); an EC2 Fleet
  that launched nothing is read from its CreateFleet record in CloudTrail (LookupEvents by event name): its
  error set (kit.frames.launch_paths.fleet_errors, each error told apart by kind) is what failed;
- error text: the instance ids it names (Terraform names one); otherwise the instances of the Region whose
  state reason has the codes the wording describes (kit/collect/error_texts.yaml).
Which instances count as failed launches is the diagnosis's rule (kit.diagnose.state_reason.failed_to_launch),
passed in by the caller as `failed` (kit.collect may not import kit.diagnose).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from importlib import resources
from typing import Any, Callable

import yaml
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from kit.aws_ids import INSTANCE_ID_IN_TEXT
from kit.collect.clients import CallRecorder, ReadOnlyClients, make_session
from kit.errors import BadInput
from kit.frames.launch_paths import fleet_errors, fleet_id_of, fleet_instance_ids
from kit.params import ASG_NAME, FLEET_ID, MAX_ERROR_TEXT, InvestigationParameters
FAILED_ACTIVITY = ("Failed", "Cancelled")
FLEET_TAGS = ("aws:ec2:fleet-id", "aws:ec2spot:fleet-request-id")
FAILED_STATES = ["stopping", "stopped", "shutting-down", "terminated"]
MAX_INSTANCES = 50
HISTORY_DAYS = 2  # EC2 Fleet events are kept 48 hours
FLEET_LOOKUP_DAYS = 90  # CloudTrail's event history
FLEET_LOOKUP_PAGES = 10  # CreateFleet records read at most (50 a page), newest first

Failed = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Wording:
    """One recognised error wording."""

    id: str
    source: str
    pattern: re.Pattern[str]
    state_reason_codes: tuple[str, ...]


@dataclass
class Resolution:
    """The failed instances an entry point resolves to (newest first), and what was read or not."""

    entry: str  # "asg", "fleet-id" or "error-text"
    value: str
    region: str
    instance_ids: list[str] = field(default_factory=list)
    wordings: list[str] = field(default_factory=list)  # error-text: the wordings recognised
    notes: list[str] = field(default_factory=list)  # calls refused or not answered, in words
    calls: list[dict[str, Any]] = field(default_factory=list)
    fleet_errors: list[dict[str, str]] = field(default_factory=list)  # fleet-id: the CreateFleet's error set
    fleet_event_id: str | None = None  # the CreateFleet record they come from

    @property
    def fleet_verdict(self) -> str | None:
        """A fleet that launched no instance: what its error set says, in words (None otherwise)."""
        if self.instance_ids or not self.fleet_errors:
            return None
        cited = "; ".join(f"{e['code']}{' for ' + e['instance_type'] if e.get('instance_type') else ''}: "
                          f"{e['kind_words']}" for e in self.fleet_errors)
        kinds = {e["kind"] for e in self.fleet_errors}
        if "kms" in kinds:
            then = " A KMS refusal: investigate the launch template's keys and the caller's KMS permissions."
        elif "other" in kinds:  # an error the kit does not classify may still be a KMS one in other words
            then = (" Some errors are not ones the kit classifies: read their messages before ruling KMS out "
                    "(a KMS refusal can surface as Client.InternalError).")
        else:
            then = " No KMS refusal among them: the fleet got no instance, nothing failed on KMS."
        return f"Fleet {self.value} launched no instance; CreateFleet answered: {cited}.{then}"

    def to_dict(self) -> dict[str, Any]:
        return {"entry": self.entry, "value": self.value, "region": self.region, "instance_ids": self.instance_ids,
                "wordings": self.wordings, "notes": self.notes, "fleet_errors": self.fleet_errors,
                "fleet_event_id": self.fleet_event_id, "fleet_verdict": self.fleet_verdict}


@cache
def wordings() -> tuple[Wording, ...]:
    """The error wordings of kit/collect/error_texts.yaml."""
    text = resources.files("kit.collect").joinpath("error_texts.yaml").read_text(encoding="utf-8")
    return tuple(Wording(str(w["id"]), str(w["source"]), re.compile(str(w["pattern"]), re.IGNORECASE),
                         tuple(w.get("state_reason_codes") or ()))
                 for w in (yaml.safe_load(text) or {}).get("wordings") or [])


def read_error_text(text: str) -> tuple[list[str], list[Wording]]:
    """(instance ids the text names, the wordings it matches); BadInput when it is neither."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_ERROR_TEXT:
        raise BadInput("--error-text", f"the error message as pasted (1 to {MAX_ERROR_TEXT} characters)", text)
    ids = list(dict.fromkeys(INSTANCE_ID_IN_TEXT.findall(text)))
    matched = [w for w in wordings() if w.pattern.search(text)]
    if not ids and not matched:
        raise BadInput("--error-text", "an EC2 launch failure message (e.g. 'Client.InternalError: Client error on "
                       "launch', Auto Scaling's 'Termination Reason: ...', Terraform's 'unexpected state "
                       "'terminated'', or the console's 'encrypted with an inaccessible AWS KMS key') or an "
                       "instance id", text)
    return ids, matched


def check_entry(asg: str = "", fleet_id: str = "", error_text: str = "") -> None:
    """BadInput naming the option unless each given entry point is well formed."""
    if asg and not ASG_NAME.match(asg):
        raise BadInput("asg", "an Auto Scaling group name (1 to 255 printable characters)", asg)
    if fleet_id and not FLEET_ID.match(fleet_id):
        raise BadInput("fleet_id", "an EC2 Fleet id (fleet-...) or a Spot Fleet request id (sfr-...)", fleet_id)
    if error_text:
        read_error_text(error_text)


def resolve(region: str, *, asg: str = "", fleet_id: str = "", error_text: str = "", failed: Failed,
            session: Any = None) -> Resolution:
    """The instances that failed to launch behind one entry point, newest first (at most 50)."""
    check_entry(asg, fleet_id, error_text)
    given = [(name, value) for name, value in (("asg", asg), ("fleet-id", fleet_id), ("error-text", error_text))
             if value]
    if len(given) != 1:
        raise BadInput("--asg/--fleet-id/--error-text", "exactly one of them", ", ".join(n for n, _ in given) or "none")
    entry, value = given[0]
    clients = ReadOnlyClients(session or make_session(region=region), region, CallRecorder())
    found = Resolution(entry, value, region)
    if entry == "asg":
        candidates = _from_activities(clients, asg, found)
    elif entry == "fleet-id":
        candidates = _from_fleet(clients, fleet_id, found)
    else:
        ids, matched = read_error_text(error_text)
        found.wordings = [w.id for w in matched]
        candidates = ids or _by_state_reason(clients, matched, found)
    instances = _describe(clients, candidates, found)
    failing = [i for i in instances if failed(i)]
    failing.sort(key=lambda i: str(i.get("LaunchTime") or ""), reverse=True)
    found.instance_ids = [str(i["InstanceId"]) for i in failing[:MAX_INSTANCES]]
    found.calls = list(clients.recorder.calls)
    return found


def resolve_parameters(params: InvestigationParameters, failed: Failed, *,
                       session: Any = None) -> tuple[list[InvestigationParameters], Resolution | None]:
    """The parameters of one investigation per failed instance behind the parameters' entry point (the
    parameters themselves when they name an instance), and the resolution (None without an entry point)."""
    from dataclasses import replace

    entry = params.entry_point
    if entry is None or params.instance_id:
        return [params], None
    found = resolve(params.region, asg=params.asg, fleet_id=params.fleet_id, error_text=params.error_text,
                    failed=failed, session=session)
    return [replace(params, instance_id=i, asg="", fleet_id="", error_text="") for i in found.instance_ids], found


def _from_activities(clients: ReadOnlyClients, group: str, found: Resolution) -> list[str]:
    """Instance ids of the group's launch activities that did not succeed, newest first."""
    ids: list[str] = []
    for page in _pages(clients, "autoscaling", "describe_scaling_activities", found,
                       AutoScalingGroupName=group, MaxRecords=100):
        for activity in page.get("Activities") or []:
            text = " ".join(str(activity.get(k) or "") for k in ("Description", "StatusMessage"))
            if activity.get("StatusCode") in FAILED_ACTIVITY or "Termination Reason" in text:
                ids += INSTANCE_ID_IN_TEXT.findall(str(activity.get("Description") or ""))
    if not ids and not found.notes:
        found.notes.append(f"no failed launch activity of Auto Scaling group {group} (DescribeScalingActivities "
                           "keeps six weeks)")
    return list(dict.fromkeys(ids))


def _from_fleet(clients: ReadOnlyClients, fleet_id: str, found: Resolution) -> list[str]:
    """Instances tagged with the fleet id, and those its EC2 Fleet history names."""
    ids: list[str] = []
    for tag in FLEET_TAGS:
        for page in _pages(clients, "ec2", "describe_instances", found,
                           Filters=[{"Name": f"tag:{tag}", "Values": [fleet_id]}]):
            ids += [i["InstanceId"] for r in page.get("Reservations") or [] for i in r.get("Instances") or []]
    if fleet_id.startswith("fleet-"):
        start = datetime.now(timezone.utc) - timedelta(days=HISTORY_DAYS)
        for page in _pages(clients, "ec2", "describe_fleet_history", found, quiet=True, FleetId=fleet_id,
                           StartTime=start):
            for record in page.get("HistoryRecords") or []:
                ids += INSTANCE_ID_IN_TEXT.findall(str((record.get("EventInformation") or {}).get("InstanceId")))
    if fleet_id.startswith("fleet-"):
        record = _create_fleet_record(clients, fleet_id, found)
        if record is not None:
            found.fleet_errors = fleet_errors(record)
            ids += [i for i in fleet_instance_ids(record) if i not in ids]
    return list(dict.fromkeys(ids))


def _create_fleet_record(clients: ReadOnlyClients, fleet_id: str, found: Resolution) -> dict[str, Any] | None:
    """The CreateFleet CloudTrail record whose answer names the fleet (newest first, a bounded read)."""
    import json

    client = clients("cloudtrail")
    start = datetime.now(timezone.utc) - timedelta(days=FLEET_LOOKUP_DAYS)
    try:
        pages = client.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateFleet"}], StartTime=start,
            PaginationConfig={"MaxItems": 50 * FLEET_LOOKUP_PAGES, "PageSize": 50})
        for page in pages:
            for event in page.get("Events") or []:
                try:
                    record = json.loads(str(event.get("CloudTrailEvent") or "{}"))
                except ValueError:
                    continue
                if isinstance(record, dict) and fleet_id_of(record) == fleet_id:
                    found.fleet_event_id = str(record.get("eventID") or event.get("EventId") or "")
                    return record
    except ClientError as exc:
        error = exc.response.get("Error", {})
        found.notes.append(f"cloudtrail:lookup_events (CreateFleet): {error.get('Code')} ({error.get('Message')})")
    except (BotoCoreError, ResponseParserError) as exc:
        found.notes.append(f"cloudtrail:lookup_events (CreateFleet): {exc}")
    return None


def _by_state_reason(clients: ReadOnlyClients, matched: list[Wording], found: Resolution) -> list[str]:
    """Instances of the Region that ended in a failed launch with one of the wordings' state reason codes."""
    codes = sorted({c for w in matched for c in w.state_reason_codes})
    ids: list[str] = []
    for page in _pages(clients, "ec2", "describe_instances", found,
                       Filters=[{"Name": "instance-state-name", "Values": FAILED_STATES},
                                {"Name": "state-reason-code", "Values": codes}]):
        ids += [i["InstanceId"] for r in page.get("Reservations") or [] for i in r.get("Instances") or []]
    return ids


def _describe(clients: ReadOnlyClients, ids: list[str], found: Resolution) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(ids), 100):
        for page in _pages(clients, "ec2", "describe_instances", found, InstanceIds=ids[start:start + 100]):
            out += [i for r in page.get("Reservations") or [] for i in r.get("Instances") or []]
    return out


def _pages(clients: ReadOnlyClients, service: str, method: str, found: Resolution, *, quiet: bool = False,
           **params: Any) -> list[dict[str, Any]]:
    """Every page of one read call; a refusal or an unsupported call becomes a note (quiet: not even that)."""
    client = clients(service)
    try:
        if client.can_paginate(method):
            return list(client.get_paginator(method).paginate(**params))
        return [getattr(client, method)(**params)]
    except ClientError as exc:
        if not quiet:
            error = exc.response.get("Error", {})
            found.notes.append(f"{service}:{method}: {error.get('Code')} ({error.get('Message')})")
    except (BotoCoreError, ResponseParserError) as exc:
        if not quiet:
            found.notes.append(f"{service}:{method}: {exc}")
    return []
