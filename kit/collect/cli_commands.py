"""The exact AWS CLI commands behind every file of a cli: folder (contracts.md section 2).

The table itself is data (`cli_files.json`). `cli_commands` gives the commands for known ids (the support
engineer's checklist); `checklist` derives the ids from the files already in a folder (keys the volumes
use, the AMI, the organization chain, ...) and says which files are still to be fetched: these are the gaps'
`next_step`s.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import timedelta
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping, Sequence

from kit.aws_ids import instance_account, region_of_zone
from kit.collect.change_lookups import (ChangeLookup, chain_scp_ids, change_lookups, principal_policy_arns,
                                       moved_chain_lookups, source_chains)
from kit.collect.cloudtrail_window import PAGE_SIZE, CollectWindow, incident_time
from kit.collect.principal import (DEFAULT_KEY_EVENT, Principal, keys_in_kms_events, launching_principal,
                                   requested_keys, session_window, template_keys, template_reference)
from kit.frames.cloudtrail import LOGS_PREFIX, LOOKUP_PREFIX, lookup_event_record
from kit.frames.keyrefs import KeyResolver, key_id_of, region_of
from kit.frames.launch_paths import instance_links, launch_paths


CHANGE_LOOKBACK_DAYS = CollectWindow().change_lookback_days  # as live collection, by default
CHANGE_FILES = "cloudtrail.lookup-events.change-"
CHANGE_MAX_ITEMS = str(CollectWindow().change_max_pages * PAGE_SIZE)


@dataclass(frozen=True)
class FileSpec:
    """One row of the cli: folder table."""

    kind: str
    match: re.Pattern[str]
    file: str
    call: str
    shape: dict[str, str]
    impact: str
    argv: tuple[str, ...] = ()
    required: bool = False
    shape_any: bool = False
    items: dict[str, list[str]] = field(default_factory=dict)
    instance_lookup: tuple[str, ...] = ()
    key_lookup: tuple[str, ...] = ()
    kms_lookup: tuple[str, ...] = ()
    role_lookup: tuple[str, ...] = ()
    change_lookup: tuple[str, ...] = ()
    event_lookup: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleSession:
    """A role session whose creating AssumeRole* event is wanted: the role and a window around its creation."""

    role_name: str
    role_arn: str
    start: str  # ISO 8601
    end: str


@dataclass(frozen=True)
class CliCommand:
    """One AWS CLI command and the file its stdout goes to."""

    file_name: str
    argv: tuple[str, ...]  # starts with "aws"
    call: str  # "service:Operation"
    impact: str = ""
    account: str = ""  # "management": run with the organization's management account's credentials

    @property
    def command(self) -> str:
        """The command line, shell-quoted, ready to paste."""
        return shlex.join(self.argv) + " > " + shlex.quote(self.file_name)


@lru_cache(maxsize=1)
def file_specs() -> tuple[FileSpec, ...]:
    """The table of cli: files (kit/collect/cli_files.json)."""
    raw = json.loads(resources.files("kit.collect").joinpath("cli_files.json").read_text(encoding="utf-8"))
    return tuple(
        FileSpec(
            kind=f["kind"],
            match=re.compile(f["match"]),
            file=f["file"],
            call=f["call"],
            shape=f["shape"],
            impact=f["impact"],
            argv=tuple(f.get("argv", ())),
            required=bool(f.get("required", False)),
            shape_any=bool(f.get("shape_any", False)),
            items=f.get("items", {}),
            instance_lookup=tuple(f.get("instance_lookup", ())),
            key_lookup=tuple(f.get("key_lookup", ())),
            kms_lookup=tuple(f.get("kms_lookup", ())),
            role_lookup=tuple(f.get("role_lookup", ())),
            change_lookup=tuple(f.get("change_lookup", ())),
            event_lookup=tuple(f.get("event_lookup", ())),
        )
        for f in raw["files"]
    )


def spec(kind: str) -> FileSpec:
    """The table row of one kind of file."""
    for candidate in file_specs():
        if candidate.kind == kind:
            return candidate
    raise KeyError(kind)


def spec_for_file(name: str) -> tuple[FileSpec, str | None] | None:
    """The table row a file name belongs to and its qualifier, or None for an unknown name."""
    for candidate in file_specs():
        match = candidate.match.match(name)
        if match:
            return candidate, match.groupdict().get("qualifier")
    return None


def cli_commands(
    instance_id: str,
    region: str,
    key_ids: Iterable[str] = (),
    *,
    account_id: str | None = None,
    image_ids: Sequence[str] = (),
    snapshot_ids: Sequence[str] = (),
    autoscaling_group: str | None = None,
    scp_targets: Sequence[str] = (),
    scp_policy_ids: Sequence[str] = (),
    start_time: str | None = None,
    end_time: str | None = None,
    caller_identity: bool = True,
    kms_events: bool | None = None,
    ebs_defaults: bool = True,
    role_sessions: Sequence[RoleSession] = (),
    changes: Sequence[ChangeLookup] = (),
    changes_since: str | None = None,
    trails: Sequence[tuple[str, str]] = (),
    event_lookups: Sequence[str] = (),
    launch_template: tuple[str | None, str | None] = (None, None),
) -> list[CliCommand]:
    """Every AWS CLI command of the cli: table for one instance, in checklist order.

    `key_ids` are key ARNs (preferred: they work cross-account) or key ids (resolved in `region` and
    `account_id`). `kms_events`: also look up every KMS event (`cloudtrail.lookup-events.kms.json`); by default
    only when no key is known. `ebs_defaults`: ask for the Region's EBS encryption defaults. `role_sessions`:
    the role sessions whose creating AssumeRole* event to look up (session policies). `event_lookups`: event
    names to look up in CloudTrail's 90 days (launch calls tied to the instance by its fleet or Spot request,
    ModifyEbsDefaultKmsKeyId). `launch_template`: (id or name, version) of the template the launch used. `changes`: the look-ups
    for what changed (kit.collect.change_lookups), from `changes_since` (ISO 8601) to now. `trails`: (name, ARN) of
    each trail whose event selectors to read. `scp_targets` are the organization ids (account, OUs, root) whose parents and SCPs to
    list; with only `account_id` the walk starts at the account.
    """
    values: dict[str, Any] = {"instance_id": instance_id, "region": region}
    window: list[str] = []
    if start_time:
        window += ["--start-time", start_time]
    if end_time:
        window += ["--end-time", end_time]
    out = [_command(spec("instances"), values), _command(spec("volumes"), values)]
    if snapshot_ids:
        out.append(_command(spec("snapshots"), values, snapshot_ids=list(snapshot_ids)))
    if image_ids:
        out.append(_command(spec("images"), values, image_ids=list(image_ids)))
    if launch_template[0]:
        ref = launch_template[0]
        out.append(_command(spec("launch-template-versions"), dict(
            values, template=ref, template_version=launch_template[1] or "$Default",
            template_option="--launch-template-id" if ref.startswith("lt-") else "--launch-template-name")))
    if ebs_defaults:
        out.append(_command(spec("ebs-encryption-by-default"), values))
        out.append(_command(spec("ebs-default-kms-key-id"), values))
    resolver = KeyResolver(region, account_id)
    lookup = spec("lookup-events")
    key_lookups = []
    for ref in _unique(key_ids):
        key_arn = resolver.resolve(ref) or ref
        key_id = key_id_of(key_arn) or ref
        key_values = dict(values, key_arn=key_arn, key_id=key_id, key_region=region_of(key_arn) or region)
        for kind in ("key", "key-policy", "grants"):
            out.append(_command(spec(kind), key_values))
        if region_of(key_arn) in (None, region):  # CloudTrail of this Region names the key by its ARN
            key_lookups.append(_command(lookup, dict(key_values, qualifier=key_id), lookup=list(lookup.key_lookup),
                                        time_window=window))
    out.append(_command(spec("aliases"), values))
    out.append(_command(lookup, dict(values, qualifier=instance_id), lookup=list(lookup.instance_lookup),
                        time_window=window))
    out += key_lookups
    if kms_events or (kms_events is None and not key_lookups):  # no key known yet: KMS events name it
        out.append(_command(lookup, dict(values, qualifier="kms"), lookup=list(lookup.kms_lookup), time_window=window))
    for event_name in _unique(event_lookups):
        out.append(_command(lookup, dict(values, qualifier=event_name, event_name=event_name),
                            lookup=list(lookup.event_lookup), time_window=window))
    for session in role_sessions:
        session_values = dict(values, qualifier=session.role_name, role_arn=session.role_arn, start=session.start,
                              end=session.end)
        out.append(_command(lookup, session_values, lookup=list(lookup.role_lookup)))
    for change in changes:
        change_values = dict(values, qualifier=change.qualifier, region=change.region, attribute=change.attribute,
                             value=change.value, start=changes_since or "", max_items=CHANGE_MAX_ITEMS)
        argv = [a for a in lookup.change_lookup if changes_since or a not in ("--start-time", "{start}")]
        command = _command(lookup, change_values, lookup=argv)
        if change.in_management_account:  # Organizations changes: only the management account's history has them
            command = CliCommand(command.file_name, command.argv, command.call, account=change.account,
                                 impact=f"Changes to service control policies ({change.attribute}={change.value}) "
                                        "are recorded only in the organization's management account: run this "
                                        "with its credentials.")
        out.append(command)
    out.append(_command(spec("trails"), values))
    for trail_name, trail_arn in trails:  # (name, ARN) of each trail DescribeTrails listed
        out.append(_command(spec("event-selectors"), dict(values, trail_name=trail_name, trail_arn=trail_arn,
                                                           trail_region=region_of(trail_arn) or region)))
    out.append(_command(spec("authorization-details"), values))
    targets = list(_unique(scp_targets or ([account_id] if account_id else [])))
    for target in targets:
        if not target.startswith("r-"):  # the root has no parent
            out.append(_command(spec("org-parents"), dict(values, target_id=target)))
    for target in targets:
        out.append(_command(spec("org-policies-for-target"), dict(values, target_id=target)))
    for policy_id in _unique(scp_policy_ids):
        out.append(_command(spec("org-policy"), dict(values, policy_id=policy_id)))
    if autoscaling_group:
        out.append(_command(spec("scaling-activities"), dict(values, autoscaling_group=autoscaling_group)))
    if caller_identity:
        out.append(_command(spec("caller-identity"), values))
    return out


def checklist(documents: Mapping[str, Any], instance_id: str, region: str) -> list[CliCommand]:
    """The commands that apply to this instance given the files already read: ids are taken from them
    (the keys of its volumes, snapshots and AMI, the keys its launch request named, the default EBS key when
    EC2 may have picked it; its AMI; its Auto Scaling group; the organization chain from the account up to
    the root and the SCPs listed on the way; for a recorded MoveAccount of the account, the same above the parent
    it was moved from). Keys are chosen as the live collector chooses them."""
    facts = folder_facts(documents, instance_id, region)
    return cli_commands(
        instance_id,
        region,
        facts["key_arns"],
        account_id=facts["account_id"],
        image_ids=facts["image_ids"],
        snapshot_ids=facts["snapshot_ids"],
        autoscaling_group=facts["autoscaling_group"],
        scp_targets=facts["scp_targets"],
        scp_policy_ids=facts["scp_policy_ids"],
        ebs_defaults=facts["ebs_defaults"],
        role_sessions=facts["role_sessions"],
        changes=facts["changes"],
        changes_since=facts["changes_since"],
        trails=trails_listed(documents),
        event_lookups=facts["event_lookups"],
        launch_template=facts["launch_template"],
    )


def trails_listed(documents: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, ARN) of each trail in cloudtrail.describe-trails.json (none without the file)."""
    listed = (documents.get("cloudtrail.describe-trails.json") or {}).get("trailList") or []
    return [(str(t["Name"]), str(t.get("TrailARN") or t["Name"])) for t in listed
            if isinstance(t, dict) and isinstance(t.get("Name"), str) and t["Name"]]


def missing_commands(documents: Mapping[str, Any], instance_id: str, region: str) -> list[CliCommand]:
    """Checklist commands whose file is not among `documents` (CloudTrail counts as present when any
    lookup-events or log file is)."""
    has_cloudtrail = any(n.startswith(LOOKUP_PREFIX) or n.startswith(LOGS_PREFIX) for n in documents)
    missing = []
    for command in checklist(documents, instance_id, region):
        if command.file_name in documents:
            continue
        if command.call == "cloudtrail:LookupEvents" and has_cloudtrail:
            continue
        if command.file_name.startswith(CHANGE_FILES):  # what changed is asked for, not needed for the verdict
            continue
        missing.append(command)
    return missing


def folder_facts(documents: Mapping[str, Any], instance_id: str, region: str) -> dict[str, Any]:
    """Ids the checklist needs, read from the documents at hand."""
    instance = find_instance(documents.get("ec2.describe-instances.json"), instance_id) or {}
    account_id = instance_account(documents, instance_id)
    aliases = (documents.get("kms.list-aliases.json") or {}).get("Aliases") or []
    described = [
        (d.get("KeyMetadata") or {}).get("Arn")
        for n, d in documents.items()
        if n.startswith("kms.describe-key.") and isinstance(d, dict)
    ]
    resolver = KeyResolver(region, account_id, [a for a in described if a], aliases)
    refs: list[str] = []
    volumes = [
        v
        for v in (documents.get("ec2.describe-volumes.json") or {}).get("Volumes") or []
        if isinstance(v, dict) and any(a.get("InstanceId") == instance_id for a in v.get("Attachments") or [])
    ]
    snapshot_ids = sorted({v["SnapshotId"] for v in volumes if v.get("SnapshotId")})
    refs += [v["KmsKeyId"] for v in volumes if v.get("KmsKeyId")]
    refs += [s["KmsKeyId"] for s in (documents.get("ec2.describe-snapshots.json") or {}).get("Snapshots") or []
             if isinstance(s, dict) and s.get("KmsKeyId")]
    for image in (documents.get("ec2.describe-images.json") or {}).get("Images") or []:
        for mapping in image.get("BlockDeviceMappings") or [] if isinstance(image, dict) else []:
            ebs = mapping.get("Ebs") or {}
            if ebs.get("KmsKeyId"):
                refs.append(ebs["KmsKeyId"])
            if ebs.get("SnapshotId") and not volumes:
                snapshot_ids.append(ebs["SnapshotId"])
    records = _records(documents)
    links = instance_links(instance)
    requested, implicit = requested_keys(records, instance_id, links)
    refs += requested
    refs += template_keys(documents)
    # EC2 may have picked the key itself when the volumes are gone (or unknown) or the launch request
    # encrypts without naming a key: then the Region's defaults matter. An existing volume names its key.
    ebs_defaults = implicit or not volumes
    default = (documents.get("ec2.get-ebs-default-kms-key-id.json") or {}).get("KmsKeyId")
    event_lookups = [p.event_name for p in launch_paths().values() if p.lookup and links.get(p.lookup)]
    if default and ebs_defaults:
        refs.append(default)
        if not default.endswith("alias/aws/ebs"):
            event_lookups.append(DEFAULT_KEY_EVENT)
    refs += [arn for arn in described if arn]  # a key someone described is one the investigation uses
    key_arns = [arn for arn in (resolver.resolve(r) for r in refs) if arn]
    principal = launching_principal(records, instance_id, links)
    if not key_arns:  # nothing names a key we can resolve: KMS events about the launch do (as live chooses)
        key_arns = keys_in_kms_events(records, instance_id, principal)
    tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags") or [] if isinstance(t, dict)}
    targets, policy_ids = chain_scp_ids(documents, account_id)
    moved_targets, moved_ids = source_chains(documents, account_id)  # a MoveAccount's rollback: the chains it left
    volumes_gone = not volumes  # the launch's volumes are gone (or unknown): the AMI and snapshots tell
    details = documents.get("iam.get-account-authorization-details.json")
    kind, name = (principal.kind, principal.name) if principal else (None, None)
    since = incident_time(instance)
    return {
        "changes": change_lookups(region, list(_unique(key_arns)), kind, name,
                                  principal_policy_arns(details if isinstance(details, dict) else None, kind, name),
                                  ebs_default=ebs_defaults, instance_id=instance_id,
                                  scp_ids=policy_ids, scp_targets=tuple(targets))
                   + moved_chain_lookups(documents, account_id, targets),  # the chains it left, since the move
        "changes_since": ((since - timedelta(days=CHANGE_LOOKBACK_DAYS, minutes=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
                          if since else None),
        "account_id": account_id,
        "key_arns": list(_unique(key_arns)),
        "image_ids": [instance["ImageId"]] if instance.get("ImageId") and volumes_gone else [],
        "snapshot_ids": sorted(set(snapshot_ids)) if volumes_gone else [],
        "autoscaling_group": tags.get("aws:autoscaling:groupName"),
        "scp_targets": list(_unique(targets + moved_targets)),
        "scp_policy_ids": list(_unique(list(policy_ids or ()) + moved_ids)),
        "ebs_defaults": ebs_defaults,
        "role_sessions": _launching_sessions(principal),
        "event_lookups": event_lookups,
        "launch_template": template_reference(records, instance_id, instance, links),
    }


def _records(documents: Mapping[str, Any]) -> list[dict[str, Any]]:
    """CloudTrail records of the lookup-events and log files at hand."""
    out: list[dict[str, Any]] = []
    for name, document in documents.items():
        if name.startswith(LOOKUP_PREFIX):
            out += [r for r in (lookup_event_record(e) for e in (document or {}).get("Events") or []) if r]
        elif name.startswith(LOGS_PREFIX):
            out += [r for r in (document or {}).get("Records") or [] if isinstance(r, dict)]
    return out


def _launching_sessions(principal: Principal | None) -> list[RoleSession]:
    """The role session behind the latest RunInstances/StartInstances of the instance, if a role session
    launched it (as live collection finds it): its creating AssumeRole* event holds any session policy."""
    around = session_window(principal)
    if principal is None or around is None:
        return []
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return [RoleSession(principal.name, principal.arn, around.start.strftime(fmt), around.end.strftime(fmt))]


def find_instance(document: Any, instance_id: str | None) -> dict[str, Any] | None:
    """The instance dict (plus `_OwnerId` from its reservation) in a describe-instances document."""
    if not isinstance(document, dict):
        return None
    for reservation in document.get("Reservations") or []:
        if not isinstance(reservation, dict):
            continue
        for instance in reservation.get("Instances") or []:
            if isinstance(instance, dict) and (instance_id is None or instance.get("InstanceId") == instance_id):
                return dict(instance, _OwnerId=reservation.get("OwnerId"))
    return None


def region_from_zone(zone: str | None) -> str | None:
    """eu-west-1a -> eu-west-1; us-west-2-lax-1a -> us-west-2 (kit.aws_ids.region_of_zone)."""
    return region_of_zone(zone)


def _command(spec_: FileSpec, values: Mapping[str, Any], **lists: list[str]) -> CliCommand:
    argv = ["aws"]
    for item in spec_.argv:
        if item.startswith("{") and item.endswith("*}"):
            argv += [str(v).format(**values) for v in lists.get(item[1:-2], [])]
        else:
            argv.append(item.format(**values))
    argv += ["--output", "json"]
    return CliCommand(
        file_name=spec_.file.format(**values),
        argv=tuple(argv),
        call=spec_.call,
        impact=spec_.impact.format_map(_Defaulting(values)),
    )


class _Defaulting(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _unique(items: Iterable[str]) -> Iterable[str]:
    seen: set[str] = set()
    for item in items:
        if item and item not in seen:
            seen.add(item)
            yield item
