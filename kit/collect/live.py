"""Live, read-only collection of one instance's evidence (AWS, or whatever AWS_ENDPOINT_URL names).

The calls, in dependency order; calls within a stage run concurrently on a small thread pool:
1. who is collecting, the instance, key aliases, IAM authorization details;
2. the instance's volumes (then, if they are gone, its AMI and snapshots), its CloudTrail events,
   Auto Scaling activities (when it belongs to a group), SCPs from the account up to the root; then the launch
   calls tied to it by its fleet or Spot request id (CreateFleet, RequestSpotInstances, RequestSpotFleet, looked
   up by event name) and the launch template version it was launched from;
3. EBS encryption by default and the default key, when EC2 may have picked the key (volumes gone, or a
   launch request encrypting without a key), and who made a customer managed key the default
   (ModifyEbsDefaultKmsKeyId in the 90 days before);
4. every key the launch touches (DescribeKey, GetKeyPolicy, ListGrants, its KMS events in the narrow
   window after the launch attempt), the launching principal's AWS managed policies, and for a role
   session the AssumeRole* event that created it (where a session policy would be).
Every error becomes a gap; every call is recorded in `evidence.calls`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3

from kit import version
from kit.aws_ids import INSTANCE_ID, REGION, instance_account
from kit.collect import identity, keys, storage
from kit.collect.clients import REACH_TIMEOUTS, UNANSWERED, CallRecorder, ReadOnlyClients, make_session
from kit.collect.change_lookups import (GLOBAL_REGION, ChangeLookup, chain_scp_ids, change_lookups,
                                       MAX_MOVE_SOURCES, management_lookup_commands, move_sources,
                                       LEFT_CHAIN_IMPACT, moved_chain_lookups,
                                       principal_policy_arns)
from kit.collect.cloudtrail_athena import collect_athena
from kit.collect.cloudtrail_logs import collect_log_archive
from kit.collect.cloudtrail_lookup import lookup_events
from kit.collect.cloudtrail_window import CollectWindow, TimeRange, incident_window, kms_window
from kit.collect.fetcher import Fetcher
from kit.collect.memo import ResponseMemo
from kit.collect.trail_changes import collect_trail_changes
from kit.collect.principal import (Principal, keys_in_kms_events, launching_principal, records_from_lookup,
                                   requested_keys, session_window, template_keys, template_reference,
                                   DEFAULT_KEY_EVENT)
from kit.collect.secrets import mask_secrets
from kit.errors import BadInput
from kit.evidence import Evidence
from kit.params import is_athena_source, parse_athena_source
from kit.frames.launch_paths import instance_links, launch_paths, record_names_instance

__all__ = ["CollectWindow", "collect_live"]

ASG_TAG = "aws:autoscaling:groupName"
DEFAULT_KEY_LOOKBACK = timedelta(days=90)  # as far back as LookupEvents reads


def collect_live(instance_id: str, region: str, *, session: boto3.Session | None = None,
                 window: CollectWindow | None = None, cloudtrail_source: str | None = None,
                 recorder: CallRecorder | None = None, memo: ResponseMemo | None = None,
                 org_session: boto3.Session | None = None) -> Evidence:
    """Collect every piece of evidence for `instance_id` in `region`, read-only; never raises for AWS errors.

    cloudtrail_source: None or "lookup" for CloudTrail LookupEvents, a folder or s3://bucket/prefix
    of CloudTrail log files, or athena:DATABASE.TABLE (kit.collect.cloudtrail_athena). recorder: one that
    already holds earlier calls (make_session's AssumeRole). memo: responses read by earlier collections in
    this process, reused (kit.collect.memo; the notebook's window changes and re-picks).
    org_session: a session in the organization's
    management account (`org_role_arn`), where the SCP changes' look-ups run (kit.collect.change_lookups).
    """
    if not isinstance(instance_id, str) or not INSTANCE_ID.match(instance_id):
        raise BadInput("instance_id", "an EC2 instance id like i-0123456789abcdef0", instance_id)
    if not isinstance(region, str) or not REGION.match(region):
        raise BadInput("region", "an AWS Region name like eu-west-1", region)
    window = window or CollectWindow()
    source = None if cloudtrail_source in (None, "", "lookup") else cloudtrail_source
    if source and is_athena_source(source):
        parse_athena_source(source)
    elif source and not source.startswith("s3://") and not Path(source).expanduser().is_dir():
        raise BadInput("cloudtrail_source", "lookup, a folder of CloudTrail log files, or s3://bucket/prefix",
                       source)
    started = datetime.now(timezone.utc)
    fetch = Fetcher(ReadOnlyClients(session or make_session(region=region), region, recorder or CallRecorder()),
                    memo=memo)
    org_fetch = Fetcher(ReadOnlyClients(org_session, GLOBAL_REGION, fetch.clients.recorder),
                        memo=memo) if org_session else None  # the memo keys its answers as the org session's caller
    facts = _Collection(fetch, instance_id, window, source, org_fetch).run()
    return mask_secrets(Evidence(
        instance_id=instance_id, region=region, documents=dict(sorted(fetch.documents.items())),
        gaps=list(fetch.gaps), source="live", collector_arn=facts.get("collector_arn"),
        collected_at=started.isoformat(timespec="seconds"),
        parameters={"kit_version": version(), "window": window.to_dict(),
                    "cloudtrail_source": cloudtrail_source or "lookup", **facts.get("derived", {})},
        calls=list(fetch.clients.recorder.calls)))


class _Collection:
    """One collection run: the stages, and what each learns for the next."""

    def __init__(self, fetch: Fetcher, instance_id: str, window: CollectWindow, source: str | None,
                 org_fetch: Fetcher | None = None) -> None:
        self.fetch = fetch
        self.org_fetch = org_fetch  # the management account's (SCP changes), when org_role_arn is given
        self.instance_id = instance_id
        self.window = window
        self.source = source
        self.outer = TimeRange(datetime.now(timezone.utc), datetime.now(timezone.utc))  # set by run()
        self.links: dict[str, str] = {}  # set by run(): kit.frames.launch_paths.instance_links

    def _unanswered(self) -> bool:
        """Whether the first call got no answer at all; if so, record why the instance could not be read."""
        errors = [g.error for g in self.fetch.gaps if g.call.startswith("sts:GetCallerIdentity")]
        if not errors or errors[-1] not in UNANSWERED:
            return False
        endpoint = self.fetch.clients("sts", reach=True).meta.endpoint_url
        self.fetch.skip("ec2", "DescribeInstances", {"InstanceIds": [self.instance_id]}, error="EndpointUnreachable",
                        impact=f"nothing was read: AWS did not answer at {endpoint} ({errors[-1]}, twice within "
                               f"{REACH_TIMEOUTS['connect_timeout']} s to connect and {REACH_TIMEOUTS['read_timeout']} s "
                               "to answer). Check AWS_ENDPOINT_URL and the Region, the network path or proxy "
                               "(HTTPS_PROXY) to that endpoint and any VPC endpoint, then run again")
        return True

    def run(self) -> dict[str, Any]:
        f = self.fetch
        caller = f.fetch("sts.get-caller-identity.json", "sts", "GetCallerIdentity", reach=True)
        if caller is None and self._unanswered():
            return {}  # nothing answers: one clear gap (instance unreadable), not minutes of retries per call
        instance, aliases, details = f.together(
            lambda: storage.describe_instance(f, self.instance_id),
            lambda: f.fetch("kms.list-aliases.json", "kms", "ListAliases", page_size=100),
            lambda: identity.authorization_details(f),
        )
        account_id = instance_account(f.documents, self.instance_id)
        outer = incident_window(instance, self.window)
        self.outer = outer

        _, records, _, _, _ = f.together(
            lambda: self._storage(instance),
            lambda: self._instance_events(outer, account_id),
            lambda: self._scaling_activities(instance),
            lambda: self._service_control_policies(account_id),
            lambda: trail_selectors(f),
        )
        links = self.links = instance_links(instance)
        records = records + self._path_events(outer, links)
        narrow = kms_window(_launch_events(records), outer, self.window)
        principal = launching_principal(records, self.instance_id, links)
        events_read = self.source or f"cloudtrail.lookup-events.{self.instance_id}.json" in f.documents
        if principal is None and events_read:  # (a refused lookup already has its gap)
            f.skip("cloudtrail", "LookupEvents",
                   {"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": self.instance_id}],
                    "StartTime": outer.start, "EndTime": outer.end},
                   error="NoLaunchEvent",
                   impact=f"no RunInstances/StartInstances event for {self.instance_id} between "
                          f"{outer.start.isoformat()} and {outer.end.isoformat()}: the launching principal is "
                          f"unknown (widen the window with --window-before/--window-after)")

        self._launch_template(records, instance, links)
        key_refs = self._key_references(records)
        found_keys, _, _ = f.together(
            lambda: self._keys(key_refs, account_id, aliases, narrow, principal, records),
            lambda: identity.aws_managed_policies(f, details, principal),
            lambda: self._session_events(principal),
        )
        changes = self._changes(found_keys, principal, details, outer, account_id)
        return {"collector_arn": (caller or {}).get("Arn"),
                "derived": {"account_id": account_id, "cloudtrail_window": outer.to_dict(),
                            "change_window": changes.to_dict() if changes else None,
                            "kms_window": narrow.to_dict(),
                            "launching_principal": principal.to_dict() if principal else None,
                            "keys": [k.arn or k.reference for k in found_keys]}}

    def _path_events(self, outer: TimeRange, links: dict[str, str]) -> list[dict[str, Any]]:
        """Launch calls tied to the instance by another id (its fleet, its Spot request): CloudTrail's lookup of
        the instance id does not return them, so they are looked up by event name in the incident window and
        only those naming that id are kept (kit/frames/launch_paths.yaml)."""
        if self.source:  # the log files already hold every event of the window
            return []
        out: list[dict[str, Any]] = []
        for path in launch_paths().values():
            if not path.lookup or not links.get(path.lookup):
                continue
            document = lookup_events(self.fetch, path.event_name, "EventName", path.event_name, outer,
                                     self.window.max_pages)
            out += [r for r in records_from_lookup(document or {})
                    if record_names_instance(r, self.instance_id, links)]
        return out

    def _launch_template(self, records: list[dict[str, Any]], instance: dict[str, Any] | None,
                         links: dict[str, str]) -> None:
        """The launch template version the launch used (its block device mappings may name the key): from the
        launch request, else the instance's aws:ec2launchtemplate tags."""
        ref, version = template_reference(records, self.instance_id, instance, links)
        if not ref:
            return
        params: dict[str, Any] = {"LaunchTemplateId" if ref.startswith("lt-") else "LaunchTemplateName": ref}
        params["Versions"] = [version or "$Default"]
        self.fetch.fetch(f"ec2.describe-launch-template-versions.{ref}.json", "ec2",
                         "DescribeLaunchTemplateVersions", params, target=ref)

    def _default_key_event(self, default: str, outer: TimeRange) -> None:
        """Who made a customer managed key the Region's default EBS key, and when: the ModifyEbsDefaultKmsKeyId
        events of the 90 days before the incident (CloudTrail's lookup horizon)."""
        if self.source or default.endswith("alias/aws/ebs"):
            return
        lookup_events(self.fetch, DEFAULT_KEY_EVENT, "EventName", DEFAULT_KEY_EVENT,
                      TimeRange(outer.end - DEFAULT_KEY_LOOKBACK, outer.end), self.window.max_pages)

    def _storage(self, instance: dict[str, Any] | None) -> None:
        volumes = storage.collect_volumes(self.fetch, self.instance_id, instance)
        if not volumes and instance:
            storage.collect_image_snapshots(self.fetch, instance)

    def _instance_events(self, outer: TimeRange, account_id: str | None) -> list[dict[str, Any]]:
        if self.source and is_athena_source(self.source):
            return collect_athena(self.fetch, self.source, instance_id=self.instance_id, account_id=account_id,
                                  region=self.fetch.region, window=outer)
        if self.source:
            return collect_log_archive(self.fetch, self.source, account_id, self.fetch.region, outer)
        document = lookup_events(self.fetch, self.instance_id, "ResourceName", self.instance_id, outer,
                                 self.window.max_pages)
        return records_from_lookup(document or {})

    def _changes(self, found: list[keys.Key], principal: Principal | None, details: dict[str, Any] | None,
                 outer: TimeRange, account_id: str | None) -> TimeRange | None:
        """What changed before the failure (kit.collect.change_lookups): the look-back queries, up to now, through
        the investigation's trail when it reads one (kit.collect.trail_changes), else LookupEvents, those for SCP
        changes in the management account (`org_fetch`) or a gap naming them."""
        if not self.window.change_lookback_days:
            return None
        f = self.fetch
        since = TimeRange(outer.start - timedelta(days=self.window.change_lookback_days), datetime.now(timezone.utc))
        kind, name = (principal.kind, principal.name) if principal else (None, None)
        no_organization = any(g.call == "organizations:ListParents" and g.error == "AWSOrganizationsNotInUseException"
                              for g in f.gaps)
        targets, scp_ids = chain_scp_ids(f.documents, account_id, no_organization=no_organization)
        lookups = change_lookups(f.region, [k.arn for k in found if k.arn], kind, name,
                                 principal_policy_arns(details, kind, name),
                                 ebs_default="ec2.get-ebs-default-kms-key-id.json" in f.documents,
                                 instance_id=self.instance_id, scp_ids=scp_ids, scp_targets=tuple(targets))
        if self.source:  # the same look-ups through the trail the investigation reads (kit.collect.trail_changes)
            collect_trail_changes(f, self.source, lookups, since,
                                  account_id=instance_account(f.documents, self.instance_id))
            self._moved_from(account_id, since)
            return since
        here = [q for q in lookups if not q.in_management_account]
        f.together(  # the management account's look-ups run beside this account's
            lambda: f.each(lambda q: lookup_events(f, q.qualifier, q.attribute, q.value, since,
                                                   self.window.change_max_pages, region=q.region), here),
            lambda: self._organization_changes([q for q in lookups if q.in_management_account], since))
        self._moved_from(account_id, since)
        return since

    def _moved_from(self, account_id: str | None, since: TimeRange) -> None:
        """For each recorded MoveAccount of the account: the SCP chain above the parent it left
        (kit.collect.identity.parent_chain_policies), read where the account's own chain is read (the
        management account when `org_fetch` is given), then the look-ups of that chain's changes since
        (kit.collect.change_lookups.moved_chain_lookups), so the move can be rolled back (kit.diagnose.change).
        What cannot be read there is a gap of its own (LEFT_CHAIN_IMPACT): it says nothing of the chain the
        account is in now."""
        sources = move_sources(self.fetch.documents, account_id)
        if not sources:
            return
        if len(sources) > MAX_MOVE_SOURCES:  # newest first: the walk reaches the older ones last, if ever
            self.fetch.skip("organizations", "ListParents", {"ChildId": sources[MAX_MOVE_SOURCES]},
                            error="MoveLimitReached", region=GLOBAL_REGION,
                            impact=LEFT_CHAIN_IMPACT.format(parent=sources[MAX_MOVE_SOURCES])
                            + f" (the account was moved from {len(sources)} parents in the look-back; only the "
                              f"{MAX_MOVE_SOURCES} latest were read)")
            sources = sources[:MAX_MOVE_SOURCES]
        there = Fetcher((self.org_fetch or self.fetch).clients)
        for source in sources:  # one after the other: their ancestors are shared
            before = len(there.gaps)
            identity.parent_chain_policies(there, source, known=self.fetch.documents)
            for gap in there.gaps[before:]:
                self.fetch.add_gap(replace(gap, impact=LEFT_CHAIN_IMPACT.format(parent=source)
                                           + f" ({gap.error})"))
        for document_name, document in there.documents.items():
            self.fetch.store(document_name, document)
        targets, _ = chain_scp_ids(self.fetch.documents, account_id)
        lookups = moved_chain_lookups(self.fetch.documents, account_id, targets)
        if lookups and not self.source:  # a trail source's one filter ran already (a known limit: docs/postmortem.md)
            self._organization_changes(lookups, since)

    def _service_control_policies(self, account_id: str | None) -> None:
        """The account's SCP chain (kit.collect.identity), read in the management account when `org_fetch` is
        given (AWS lets only it or a delegated administrator list parents and policies), its documents and gaps
        joining this collection's."""
        if self.org_fetch is None:
            identity.service_control_policies(self.fetch, account_id)
            return
        there = Fetcher(self.org_fetch.clients, memo=self.org_fetch.memo)
        identity.service_control_policies(there, account_id)
        for document_name, document in there.documents.items():
            self.fetch.store(document_name, document)
        for gap in there.gaps:
            self.fetch.add_gap(gap)

    def _organization_changes(self, lookups: list[ChangeLookup], since: TimeRange) -> None:
        """The SCP look-ups, run in the management account (its documents and gaps join this collection's);
        without its session, one gap with the commands to run there."""
        if not lookups:
            return
        f, org = self.fetch, self.org_fetch
        if org is None:
            commands = management_lookup_commands(lookups, since.start.strftime("%Y-%m-%dT%H:%M:%SZ"))
            f.skip("cloudtrail", "LookupEvents",
                   {"LookupAttributes": [{"AttributeKey": lookups[0].attribute, "AttributeValue": lookups[0].value}],
                    "StartTime": since.start},
                   error="ManagementAccountNotRead", region=lookups[0].region,
                   impact="changes to the service control policies above the account (AttachPolicy, DetachPolicy, "
                          "UpdatePolicy) are recorded only in the organization's management account, which was not "
                          "read: no SCP change can be named. Give org_role_arn (--org-role-arn), a read-only role "
                          "there, or run there: " + " ; ".join(commands))
            return
        org.each(lambda q: lookup_events(org, q.qualifier, q.attribute, q.value, since,
                                         self.window.change_max_pages, region=q.region), lookups)
        for document_name, document in org.documents.items():
            f.store(document_name, document)
        for gap in org.gaps:
            f.add_gap(gap)

    def _session_events(self, principal: Principal | None) -> None:
        """For a role session: the AssumeRole* event that created it (its session policy, if any), looked up
        by the role's ARN in the minutes around the session's creationDate."""
        around = session_window(principal)
        if self.source or principal is None or around is None:
            return
        lookup_events(self.fetch, principal.name, "ResourceName", principal.arn, around, 1)

    def _scaling_activities(self, instance: dict[str, Any] | None) -> None:
        group = next((t.get("Value") for t in (instance or {}).get("Tags") or [] if t.get("Key") == ASG_TAG), None)
        if group:
            self.fetch.fetch("autoscaling.describe-scaling-activities.json", "autoscaling",
                             "DescribeScalingActivities", {"AutoScalingGroupName": group}, target=group,
                             max_items=100, page_size=100)

    def _key_references(self, records: list[dict[str, Any]]) -> list[str]:
        """Keys of the volumes/snapshots/AMI and keys the launch request names; plus, when EC2 may have picked
        the key itself (the volumes are gone, or the request encrypts without naming a key), the Region's
        EBS encryption-by-default setting and default key. For volumes that exist the defaults are not read:
        an encrypted volume always names its key, and that key is what the next attach uses."""
        refs = storage.key_references(self.fetch)
        requested, implicit = requested_keys(records, self.instance_id, self.links)
        refs += requested
        volumes = self.fetch.documents.get("ec2.describe-volumes.json")  # None: unreadable, not gone
        if implicit or (volumes is not None and not volumes.get("Volumes")):
            _, default = self.fetch.together(lambda: storage.encryption_by_default(self.fetch),
                                             lambda: storage.default_key(self.fetch))
            if default:
                refs.append(default)
                self._default_key_event(default, self.outer)
        refs += template_keys(self.fetch.documents)
        return list(dict.fromkeys(refs))

    def _keys(self, refs: list[str], account_id: str | None, aliases: dict[str, Any] | None,
              narrow: TimeRange, principal: Principal | None, records: list[dict[str, Any]]) -> list[keys.Key]:
        f = self.fetch
        if self.source:  # the log files (or the Athena query) already hold the window's KMS events
            refs = refs or keys_in_kms_events(records, self.instance_id, principal)
            return keys.collect_keys(f, refs, account_id, aliases)
        if not refs:
            document = lookup_events(f, "kms", "EventSource", "kms.amazonaws.com", narrow, self.window.max_pages)
            refs = keys_in_kms_events(records_from_lookup(document or {}), self.instance_id, principal)
            return keys.collect_keys(f, refs, account_id, aliases)
        found = keys.collect_keys(f, refs, account_id, aliases)
        named = [k for k in found if k.arn and k.key_id]
        if len(named) > 1:
            # several keys: one query for every KMS event of the narrow window is fewer calls, unless the
            # account is so busy that the page bound cuts it; then each key's own events
            whole = lookup_events(f, "kms", "EventSource", "kms.amazonaws.com", narrow, self.window.max_pages,
                                  gap_when_cut=False)
            if whole is not None and not whole.get("NextToken"):
                return found
        f.each(lambda key: lookup_events(f, key.key_id or "", "ResourceName", key.arn or "", narrow,
                                         self.window.max_pages), named)
        return found


def _launch_events(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records as LookupEvents-style {EventName, EventTime} (what kms_window reads)."""
    return [{"EventName": r.get("eventName"), "EventTime": r.get("eventTime")} for r in records]


def trail_selectors(f: Fetcher) -> None:
    """The trails that cover this Region and each one's event selectors (whether KMS events are recorded)."""
    described = f.fetch("cloudtrail.describe-trails.json", "cloudtrail", "DescribeTrails")
    for trail in (described or {}).get("trailList") or []:
        name = trail.get("Name")
        if isinstance(name, str) and name:
            home = trail.get("HomeRegion") or None  # a multi-Region trail answers in its home Region
            f.fetch(f"cloudtrail.get-event-selectors.{name}.json", "cloudtrail", "GetEventSelectors",
                    {"TrailName": trail.get("TrailARN") or name}, region=home)
