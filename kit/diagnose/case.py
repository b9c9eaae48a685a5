"""The facts of one case, read from the evidence's frames once and shared by every step.

A `Case` answers the questions the steps ask (which volumes, which keys, who launched, which KMS calls
failed) from the frames of `kit.frames`; it decides nothing. Everything is computed lazily and cached.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from kit.diagnose.authorization import (Authorization, authorize, creategrant_request, infrastructure_policies,
                                       infrastructure_request, policies_for)
from kit.diagnose.kms_events import KmsFailure, kms_failures_for
from kit.diagnose.principal import Launcher, launcher_from, with_launch_path
from kit.diagnose.state_reason import StateReason, read_state_reason
from kit.evidence import Evidence, Gap
from kit.frames.launch_paths import (MAPPING_PATHS, instance_links, launch_event_names, launch_template_of,
                                    record_names_instance, request_mappings)

if TYPE_CHECKING:
    from kit.evidence import Gap
    from kit.frames import Frames
    from kit.frames.policies import PrincipalPolicies

KeyUseSource = Literal["volume", "image-snapshot", "launch-request", "default-key", "launch-template"]
LAUNCH_EVENTS = launch_event_names()  # RunInstances, StartInstances, CreateFleet, Spot requests (launch_paths.yaml)
STOP_EVENTS = ("StopInstances", "TerminateInstances")
# the ids an Organizations gap's next step (an AWS CLI command) names: the child, target or policy it could not read
ORGANIZATIONS_ID_ARGUMENT = re.compile(r"--(?:child-id|target-id|policy-id) (\S+)")


@dataclass(frozen=True)
class KeyUse:
    """One encrypted volume (or volume-to-be) and the key that protects it."""

    key_arn: str | None  # resolved key ARN; None when only an unresolvable id/alias is known
    key_ref: str | None  # the key as the evidence names it (ARN, id, alias)
    volume_id: str | None
    snapshot_id: str | None
    source: KeyUseSource
    implicit_default: bool  # the Region's default EBS key, picked without being named


class Case:
    """Evidence + frames, seen from one instance."""

    def __init__(self, evidence: Evidence, frames: Frames) -> None:
        self.evidence = evidence
        self.frames = frames
        self.instance_id = evidence.instance_id
        self.region = evidence.region

    # ---- the instance ---------------------------------------------------------------------------------

    @cached_property
    def instance_rows(self) -> pd.DataFrame:
        frame = self.frames.instances
        return frame[frame["instance_id"] == self.instance_id]

    @cached_property
    def instance(self) -> dict[str, Any] | None:
        """The instance's row of the instances frame, or None when describe-instances does not show it."""
        rows = self.instance_rows
        return _clean(rows.iloc[0].to_dict()) if len(rows) else None

    @cached_property
    def account_id(self) -> str | None:
        """The instance's account (reservation owner), else the collector's, else the launch events'."""
        from kit.aws_ids import instance_account

        return instance_account(self.evidence.documents, self.instance_id, collector_arn=self.evidence.collector_arn,
                                launch_event_accounts=[e.get("recipient_account_id") for e in self.launch_events])

    @cached_property
    def _instance_account(self) -> str | None:
        return (self.instance or {}).get("account_id")

    @cached_property
    def state_reason(self) -> StateReason:
        row = self.instance or {}
        return read_state_reason(row.get("state"), row.get("state_reason_code"), row.get("state_reason_message"),
                                 row.get("state_transition_reason"))

    # ---- volumes and keys -----------------------------------------------------------------------------

    @cached_property
    def volume_rows(self) -> pd.DataFrame:
        """describe-volumes rows attached to the instance (or named in its block device mappings)."""
        frame = self.frames.volumes
        named = set((self.instance or {}).get("volume_ids") or [])
        return frame[(frame["instance_id"] == self.instance_id).fillna(False) | frame["volume_id"].isin(named)]

    @cached_property
    def volumes_known(self) -> bool:
        """Whether describe-volumes was read for this instance (an empty answer is still an answer)."""
        return self.evidence.document("ec2.describe-volumes.json") is not None

    @cached_property
    def image_rows(self) -> pd.DataFrame:
        image_id = (self.instance or {}).get("image_id")
        frame = self.frames.images
        return frame[frame["image_id"] == image_id] if image_id else frame.iloc[0:0]

    @cached_property
    def snapshot_rows(self) -> pd.DataFrame:
        wanted = set(self.image_rows["snapshot_id"].dropna()) | set(self.volume_rows["snapshot_id"].dropna())
        frame = self.frames.snapshots
        return frame[frame["snapshot_id"].isin(wanted)]

    @cached_property
    def ebs_defaults(self) -> dict[str, Any] | None:
        frame = self.frames.ebs_defaults
        return _clean(frame.iloc[0].to_dict()) if len(frame) else None

    @cached_property
    def default_key_arn(self) -> str | None:
        defaults = self.ebs_defaults or {}
        return defaults.get("default_key_arn") or self._resolve_key(defaults.get("default_kms_key_id"))

    @cached_property
    def launch_request_mappings(self) -> list[dict[str, Any]]:
        """blockDeviceMapping items of the request that launched the instance (RunInstances, a Spot or Spot
        Fleet request), if recorded."""
        for event in reversed(self.launch_events):
            if event.get("event_name") in MAPPING_PATHS:
                return request_mappings(event.get("record"))
        return []

    @cached_property
    def key_uses(self) -> list[KeyUse]:
        """Every encrypted volume of the launch and its key: from the volumes when they exist, otherwise
        from the AMI's snapshots, the RunInstances request and the default EBS key. A default key the
        evidence cannot name is taken from a KMS failure of this launch on a key no other volume uses."""
        uses = self._declared_key_uses
        unnamed = [u for u in uses if u.key_arn is None and u.implicit_default]
        if not unnamed:
            return uses
        known = {u.key_arn for u in uses if u.key_arn}
        named = [f.key_arn for f in self.kms_failures if f.key_arn and f.key_arn not in known]
        if not named:
            return uses
        return [KeyUse(named[0], u.key_ref, u.volume_id, u.snapshot_id, u.source, True) if u in unnamed else u
                for u in uses]

    @cached_property
    def _declared_key_uses(self) -> list[KeyUse]:
        uses: list[KeyUse] = []
        default = self.default_key_arn
        mappings = self.launch_request_mappings
        explicit_in_request = {(m.get("ebs") or {}).get("kmsKeyId") for m in mappings} - {None}
        by_default = bool((self.ebs_defaults or {}).get("encryption_by_default"))
        snapshots = {r["snapshot_id"]: _clean(r) for r in self.snapshot_rows.to_dict("records")}
        for record in self.volume_rows.to_dict("records"):
            row = _clean(record)
            if not row.get("encrypted"):
                continue
            key = row.get("key_arn") or self._resolve_key(row.get("kms_key_id"))
            snapshot = snapshots.get(row.get("snapshot_id") or "")
            from_snapshot = bool(snapshot and snapshot.get("encrypted") and snapshot.get("key_arn") == key)
            implicit = bool(key and key == default and not explicit_in_request and not from_snapshot and by_default)
            uses.append(KeyUse(key, row.get("kms_key_id"), row.get("volume_id"), row.get("snapshot_id"),
                               "volume", implicit))
        if uses or len(self.volume_rows):
            return uses
        # The volumes are gone (a failed new launch): read the launch's inputs instead.
        covered: set[str | None] = set()  # device names
        for mapping in mappings:
            ebs = mapping.get("ebs") or {}
            device = mapping.get("deviceName")
            if ebs.get("kmsKeyId"):
                ref = ebs["kmsKeyId"]
                uses.append(KeyUse(self._resolve_key(ref), ref, None, ebs.get("snapshotId"), "launch-request", False))
                covered.add(device)
            elif _true(ebs.get("encrypted")) and not self._image_snapshot_encrypted(device):
                # Encrypted without a key: EC2 picks the Region's default EBS key.
                uses.append(KeyUse(default, (self.ebs_defaults or {}).get("default_kms_key_id"), None,
                                   ebs.get("snapshotId"), "default-key", True))
                covered.add(device)
        for row in self.template_mappings:
            device = row.get("device_name")
            if device in covered or not row.get("encrypted"):
                continue
            if row.get("kms_key_id"):
                uses.append(KeyUse(row.get("key_arn") or self._resolve_key(row["kms_key_id"]), row["kms_key_id"],
                                   None, row.get("snapshot_id"), "launch-template", False))
                covered.add(device)
            elif not self._image_snapshot_encrypted(device):
                uses.append(KeyUse(default, (self.ebs_defaults or {}).get("default_kms_key_id"), None,
                                   row.get("snapshot_id"), "default-key", True))
                covered.add(device)
        for record in self.image_rows.to_dict("records"):
            row = _clean(record)
            if not row.get("snapshot_id") or row.get("device_name") in covered:
                continue
            snapshot = snapshots.get(row["snapshot_id"]) or {}
            encrypted = row.get("encrypted") if row.get("encrypted") is not None else snapshot.get("encrypted")
            key = row.get("key_arn") or snapshot.get("key_arn") or self._resolve_key(
                row.get("kms_key_id") or snapshot.get("kms_key_id"))
            if encrypted:
                uses.append(KeyUse(key, row.get("kms_key_id") or snapshot.get("kms_key_id"), None,
                                   row["snapshot_id"], "image-snapshot", False))
            elif by_default:
                uses.append(KeyUse(default, (self.ebs_defaults or {}).get("default_kms_key_id"), None,
                                   row["snapshot_id"], "default-key", True))
        return _unique(uses)

    def _image_snapshot_encrypted(self, device: str | None) -> bool:
        rows = self.image_rows[self.image_rows["device_name"] == device] if device else self.image_rows.iloc[0:0]
        return bool(len(rows)) and bool(rows["encrypted"].fillna(False).any())

    @cached_property
    def encryption_known(self) -> bool:
        """Whether the evidence says which of the launch's volumes are encrypted (for a launch whose volumes
        are gone, that needs the Region's encryption-by-default setting too)."""
        if len(self.volume_rows) or self.key_uses:
            return True
        # Volumes gone: only the launch request (mappings or their absence) with the AMI and the default
        # settings tells; a launch template or mapping the evidence lacks could have named a key.
        run = self.launch_event is not None and self.launch_event.get("event_name") in ("RunInstances", "CreateFleet")
        template_known = not self.launch_template[0] or bool(self.template_mappings) or bool(
            len(self.frames.launch_template_volumes))
        return run and template_known and self.ebs_defaults is not None and bool(len(self.image_rows))

    @cached_property
    def launch_template(self) -> tuple[str | None, str | None]:
        """(template id or name, version) the launch used: from the launch request, else the instance's
        aws:ec2launchtemplate:id / :version tags."""
        for event in reversed(self.launch_events):
            ref, version = launch_template_of(event.get("record"))
            if ref:
                return ref, version
        tags = (self.instance or {}).get("tags") or {}
        tags = tags if isinstance(tags, dict) else {}
        return tags.get("aws:ec2launchtemplate:id"), tags.get("aws:ec2launchtemplate:version")

    @cached_property
    def template_mappings(self) -> list[dict[str, Any]]:
        """The block device mappings of the launch template version the launch used (launch_template_volumes
        rows; the version as the request names it: a number, $Latest, $Default or none = the default)."""
        ref, version = self.launch_template
        frame = self.frames.launch_template_volumes
        if not ref or not len(frame):
            return []
        rows = frame[(frame["launch_template_id"] == ref) | (frame["launch_template_name"] == ref)]
        if not len(rows):
            return []
        if version and version.isdigit():
            rows = rows[rows["version"] == int(version)]
        elif version == "$Latest":
            rows = rows[rows["version"] == rows["version"].max()]
        else:
            rows = rows[rows["default_version"].fillna(False).astype(bool)]
        return [_clean(r) for r in rows.to_dict("records") if r.get("device_name") is not None
                and not pd.isna(r.get("device_name"))]

    @cached_property
    def default_key_events(self) -> list[dict[str, Any]]:
        """ModifyEbsDefaultKmsKeyId / EnableEbsEncryptionByDefault events in the evidence, oldest first."""
        frame = self.events
        if not len(frame):
            return []
        names = ("ModifyEbsDefaultKmsKeyId", "EnableEbsEncryptionByDefault")
        rows = frame[frame["event_name"].isin(names) & frame["error_code"].isna()]
        return [_clean(r) for r in rows.to_dict("records")]

    def default_key_set_by(self, key_arn: str | None) -> dict[str, Any] | None:
        """The latest ModifyEbsDefaultKmsKeyId that made `key_arn` the Region's default EBS key, if recorded."""
        if not key_arn:
            return None
        for event in reversed(self.default_key_events):
            if event.get("event_name") != "ModifyEbsDefaultKmsKeyId":
                continue
            named = [self._resolve_key(v) or v for v in _values_named(
                [event.get("request"), event.get("response")], ("KmsKeyId", "kmsKeyId"))]
            if key_arn in named:
                found: dict[str, Any] = event
                return found
        return None

    @cached_property
    def key_provenance(self) -> list[dict[str, Any]]:
        """Per encrypted volume (or volume-to-be): where its key came from. source: launch-request,
        launch-template, image-snapshot (with the snapshot's owner), account-default (with the event that set
        the default, when the trail has it), or volume (the origin is not in the evidence)."""
        out = []
        for use in self.key_uses:
            out.append(self._provenance(use))
        return out

    def _provenance(self, use: KeyUse) -> dict[str, Any]:
        device = None
        if use.volume_id:
            rows = self.volume_rows[self.volume_rows["volume_id"] == use.volume_id]
            device = str(rows.iloc[0]["device"]) if len(rows) and not pd.isna(rows.iloc[0]["device"]) else None
        request_keys = {m.get("deviceName"): (m.get("ebs") or {}).get("kmsKeyId") for m in self.launch_request_mappings}
        template_keys = {m.get("device_name"): m.get("key_arn") or self._resolve_key(m.get("kms_key_id"))
                         for m in self.template_mappings if m.get("kms_key_id")}
        snapshot = None
        if use.snapshot_id:
            rows = self.frames.snapshots[self.frames.snapshots["snapshot_id"] == use.snapshot_id]
            snapshot = _clean(rows.iloc[0].to_dict()) if len(rows) else None
        source = use.source
        if source == "volume":
            if device and request_keys.get(device) and self._resolve_key(request_keys[device]) == use.key_arn:
                source = "launch-request"
            elif device and template_keys.get(device) == use.key_arn:
                source = "launch-template"
            elif snapshot and snapshot.get("encrypted") and snapshot.get("key_arn") == use.key_arn:
                source = "image-snapshot"
            elif use.implicit_default:
                source = "default-key"
        words = {"launch-request": "the launch request", "launch-template": "the launch template",
                 "image-snapshot": "the AMI's snapshot", "default-key": "the account's default EBS key",
                 "volume": "the volume (where the key came from is not in the evidence)"}
        item: dict[str, Any] = {
            "volume_id": use.volume_id, "snapshot_id": use.snapshot_id, "device": device, "key_arn": use.key_arn,
            "key_ref": use.key_ref,
            "source": "account-default" if source == "default-key" else source, "from": words[source]}
        if source == "launch-template":
            ref, version = self.launch_template
            item["launch_template"] = {"id": ref, "version": version}
            item["from"] = f"the launch template {ref}" + (f" version {version}" if version else "")
        if source == "image-snapshot":
            owner = (snapshot or {}).get("owner_id") or (
                self.image_rows.iloc[0]["owner_id"] if len(self.image_rows) else None)
            item["snapshot_owner"] = None if owner is None or pd.isna(owner) else str(owner)
            if item["snapshot_owner"]:
                other = item["snapshot_owner"] != self.account_id
                item["from"] = f"the AMI's snapshot {use.snapshot_id} (owned by " + (
                    f"another account, {item['snapshot_owner']})" if other else "this account)")
        if source == "default-key":
            event = self.default_key_set_by(use.key_arn)
            if event:
                item["set_by"] = {"event_name": event.get("event_name"), "event_id": event.get("event_id"),
                                  "event_time": _iso(event.get("event_time")),
                                  "principal_arn": event.get("principal_arn"),
                                  "identity_arn": event.get("identity_arn")}
                item["from"] = (f"the account's default EBS key, set by {event.get('principal_arn') or event.get('identity_arn')}"
                                f" at {_iso(event.get('event_time'))} (ModifyEbsDefaultKmsKeyId)")
        return item

    @cached_property
    def key_arns(self) -> list[str]:
        """The distinct keys of the launch's encrypted volumes, then any other key a tied KMS failure names."""
        keys = [u.key_arn for u in self.key_uses if u.key_arn] + [f.key_arn for f in self.kms_failures if f.key_arn]
        return list(dict.fromkeys(keys))

    def key(self, key_arn: str | None) -> dict[str, Any] | None:
        """The keys-frame row of one key (describe-key, aliases, policy), or None."""
        if not key_arn:
            return None
        frame = self.frames.keys
        rows = frame[frame["key_arn"] == key_arn]
        return _clean(rows.iloc[0].to_dict()) if len(rows) else None

    def key_account(self, key_arn: str | None) -> str | None:
        row = self.key(key_arn)
        if row and row.get("account"):
            return str(row["account"])
        parts = (key_arn or "").split(":")
        return parts[4] if len(parts) > 4 and parts[4] else None

    def foreign_key(self, key_arn: str | None) -> bool:
        """Whether the key belongs to an account other than the instance's."""
        owner = self.key_account(key_arn)
        return bool(owner and self.account_id and owner != self.account_id)

    def _resolve_key(self, ref: Any) -> str | None:
        """A key id, alias name, alias ARN or key ARN as a key ARN, through the keys and aliases frames."""
        if not isinstance(ref, str) or not ref:
            return None
        if ref.startswith("arn:") and ":key/" in ref:
            return ref
        keys = self.frames.keys
        hit = keys[(keys["key_id"] == ref) | (keys["key_arn"] == ref)]
        if len(hit):
            return str(hit.iloc[0]["key_arn"])
        aliases = self.frames.aliases
        hit = aliases[(aliases["alias_name"] == ref) | (aliases["alias_arn"] == ref)]
        if len(hit) and not pd.isna(hit.iloc[0]["key_arn"]):
            return str(hit.iloc[0]["key_arn"])
        return None

    # ---- CloudTrail -----------------------------------------------------------------------------------

    @cached_property
    def events(self) -> pd.DataFrame:
        return self.frames.events

    @cached_property
    def cloudtrail_present(self) -> bool:
        """Whether the evidence holds any CloudTrail records at all."""
        return bool(len(self.events))

    def _instance_events(self, names: tuple[str, ...]) -> list[dict[str, Any]]:
        frame = self.events
        if not len(frame):
            return []
        mask = frame["event_name"].isin(names) & frame["instance_ids"].map(
            lambda ids: self.instance_id in (ids if isinstance(ids, list) else []))
        return [_clean(r) for r in frame[mask].to_dict("records")]

    @cached_property
    def launch_links(self) -> dict[str, str]:
        """Ids tying the instance to launch calls other than by its id (fleet id tag, Spot request id)."""
        row = self.instance or {}
        tags = row.get("tags") if isinstance(row.get("tags"), dict) else {}
        return instance_links({"Tags": tags, "SpotInstanceRequestId": row.get("spot_instance_request_id")})

    @cached_property
    def launch_events(self) -> list[dict[str, Any]]:
        """Launch calls about the instance (StartInstances, RunInstances, CreateFleet, RequestSpotInstances,
        RequestSpotFleet; launch_paths.yaml), oldest first (failed calls included)."""
        frame = self.events
        if not len(frame):
            return []
        links = self.launch_links
        mask = frame["event_name"].isin(LAUNCH_EVENTS) & frame["record"].map(
            lambda r: isinstance(r, dict) and record_names_instance(r, self.instance_id, links))
        return [_clean(r) for r in frame[mask].to_dict("records")]

    @cached_property
    def launch_event(self) -> dict[str, Any] | None:
        """The latest successful StartInstances / RunInstances of the instance."""
        ok = [e for e in self.launch_events if not e.get("error_code")]
        return ok[-1] if ok else None

    @cached_property
    def stop_events(self) -> list[dict[str, Any]]:
        """StopInstances / TerminateInstances events naming the instance, oldest first."""
        return [e for e in self._instance_events(STOP_EVENTS) if not e.get("error_code")]

    @cached_property
    def volume_ids(self) -> set[str]:
        return set(self.volume_rows["volume_id"].dropna())

    @cached_property
    def kms_failures(self) -> list[KmsFailure]:
        """KMS calls with an error tied to this instance (grantee, aws:ebs:id, or EC2 for the launcher
        seconds after the launch), strongest tie first."""
        declared = {u.key_arn for u in self._declared_key_uses if u.key_arn}
        return kms_failures_for(self.events, self.instance_id, self.volume_ids, self.launch_events, declared)

    # ---- who launched ---------------------------------------------------------------------------------

    @cached_property
    def launcher(self) -> Launcher | None:
        """The principal that launched (or started) the instance, and how the kit knows."""
        found = launcher_from(self.launch_event, self.kms_failures, self.frames.principals,
                              (self.instance or {}).get("autoscaling_group"),
                              self.evidence.parameters.get("principal_arn"), self._instance_account)
        return with_launch_path(found, self.launch_event, self.kms_failures, self.frames.principals,
                                self._instance_account or self.account_id)

    # ---- authorization -------------------------------------------------------------------------------

    @cached_property
    def scp_known(self) -> bool:
        """False when the evidence says the SCPs above the account could not be read. A gap about an OU the account
        left, or an SCP listed only there (read for a MoveAccount's rollback: its next step names an id outside the
        chain the account is in now, read in full), says nothing of the SCPs that apply now."""
        from kit.frames.iam import organization_chain

        chain = organization_chain(self.evidence, self.account_id)
        if not chain or not chain[-1].startswith("r-"):
            chain = []  # the chain now is not read up to the root: every Organizations gap may be about it
        ids = set(chain) | {str(p.get("Id")) for t in chain for p in
                            (self.evidence.document(f"organizations.list-policies-for-target.{t}.json") or {})
                            .get("Policies") or [] if isinstance(p, dict)}

        def about_the_chain_left(gap: Gap) -> bool:
            named = ORGANIZATIONS_ID_ARGUMENT.findall(gap.next_step or "")
            return bool(chain) and bool(named) and not set(named) & ids

        return not any(g.call.lower().startswith("organizations:") and not about_the_chain_left(g)
                       for g in self.evidence.gaps)

    @cached_property
    def launcher_policies(self) -> PrincipalPolicies | None:
        """The launcher's identity policies, boundary and SCP levels (kit.frames.policies), read once."""
        if self.launcher is None:
            return None
        from kit.frames.policies import policy_documents_for

        return policy_documents_for(self.frames, self.launcher.arn)

    @cached_property
    def authorizations(self) -> dict[str, Authorization]:
        """kms:CreateGrant as EC2 makes it for the launcher, evaluated for each key of the launch."""
        launcher, mine = self.launcher, self.launcher_policies
        if launcher is None or launcher.kind == "unknown" or mine is None:
            return {}
        out: dict[str, Authorization] = {}
        for key_arn in self.key_arns:
            volume = next((u.volume_id for u in self.key_uses if u.key_arn == key_arn and u.volume_id), None)
            grantee = self._grantee_from_events(key_arn)
            request = creategrant_request(launcher.arn, launcher.request_type, key_arn, self.region,
                                          self.instance_id, self.account_id, volume, grantee,
                                          self.principal_tags(launcher.arn), self.launch_source_ip)
            policies, unknown, malformed = policies_for(self.frames, mine, launcher.arn, key_arn,
                                                        principal_type=launcher.request_type, scp_known=self.scp_known)
            out[key_arn] = authorize(request, policies, unknown, malformed)
        return out

    @cached_property
    def launch_source_ip(self) -> str | None:
        """The launch call's source IP address, which EC2's KMS calls on the launcher's behalf keep as
        aws:SourceIp; None when the call came through a VPC endpoint (no aws:SourceIp), from a service (its
        name, not an address) or is not in the evidence."""
        record = (self.launch_event or {}).get("record")
        if not isinstance(record, dict) or record.get("vpcEndpointId"):
            return None
        address = record.get("sourceIPAddress")
        try:
            return str(ipaddress.ip_address(address)) if isinstance(address, str) else None
        except ValueError:
            return None

    def principal_tags(self, principal_arn: str) -> dict[str, str] | None:
        """The IAM tags of a user or role as get-account-authorization-details shows them; None when the
        evidence does not hold the principal (its aws:PrincipalTag/* values are then unknown)."""
        frame = self.frames.principals
        rows = frame[frame["arn"] == principal_arn]
        if not len(rows):
            return None
        tags = rows.iloc[0]["tags"]
        return dict(tags) if isinstance(tags, dict) else {}

    @cached_property
    def infrastructure_authorizations(self) -> dict[str, Authorization]:
        """For KMS failures of the instance's aws:ec2-infrastructure role (the grant succeeded, its Decrypt
        failed): that call evaluated against the key policy and SCPs, by failure event id."""
        out: dict[str, Authorization] = {}
        for failure in self.kms_failures:
            if not (failure.infrastructure and failure.key_arn and failure.identity_arn):
                continue
            volume = failure.volume_ids[0] if failure.volume_ids else None
            request = infrastructure_request(failure.identity_arn, f"kms:{failure.event_name}", failure.key_arn, volume)
            mine = self.launcher_policies
            scps = [list(level) for level in mine.scps] if mine else []
            policies, unknown, malformed = infrastructure_policies(self.frames, request, scps=scps,
                                                                   scp_known=self.scp_known,
                                                                   malformed=mine.malformed if mine else None)
            out[failure.event_id or ""] = authorize(request, policies, unknown, malformed)
        return out

    def _grantee_from_events(self, key_arn: str) -> str | None:
        """The grantee EC2 named in a recorded CreateGrant on this key, if any."""
        for failure in self.kms_failures:
            if failure.key_arn == key_arn and failure.grantee:
                return failure.grantee
        return None

    @cached_property
    def suspect_key(self) -> str | None:
        """The key the launch most likely failed on: the one CloudTrail names, else an unusable one, else one
        the evaluator denies, else the only customer managed key."""
        for failure in self.kms_failures:
            if failure.key_arn:
                return failure.key_arn
        for key_arn in self.key_arns:
            row = self.key(key_arn)
            if row and row.get("key_state") and row["key_state"] != "Enabled":
                return key_arn
        for key_arn, auth in self.authorizations.items():
            if not auth.decision.allowed:
                return key_arn
        customer = [k for k in self.key_arns if (self.key(k) or {}).get("key_manager") == "CUSTOMER"]
        if customer:
            return customer[0]
        return self.key_arns[0] if self.key_arns else None

    # ---- gaps -----------------------------------------------------------------------------------------

    def gap_for(self, *calls: str) -> list[Gap]:
        """The evidence's gaps for any of these calls ("kms:GetKeyPolicy", ...)."""
        wanted = {c.lower() for c in calls}
        return [g for g in self.evidence.gaps if g.call.lower() in wanted]


def _clean(row: Mapping[Hashable, Any]) -> dict[str, Any]:
    """A frame row (column name -> value) with pandas' missing markers (NA, NaT, NaN) as None."""
    out: dict[str, Any] = {}
    for column, value in row.items():
        key = str(column)
        if isinstance(value, (list, dict)) or value is None:
            out[key] = value
            continue
        try:
            out[key] = None if pd.isna(value) else value
        except (TypeError, ValueError):
            out[key] = value
    return out


def _values_named(value: Any, names: tuple[str, ...]) -> list[str]:
    """Every string value under one of `names`, at any depth."""
    out: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in names and isinstance(inner, str):
                out.append(inner)
            else:
                out += _values_named(inner, names)
    elif isinstance(value, list):
        for inner in value:
            out += _values_named(inner, names)
    return out


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _unique(uses: list[KeyUse]) -> list[KeyUse]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for use in uses:
        marker = (use.key_arn or use.key_ref, use.volume_id, use.snapshot_id)
        if marker not in seen:
            seen.add(marker)
            out.append(use)
    return out
