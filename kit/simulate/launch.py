"""One seeded launch: who launched which instance with which volumes and keys, what EC2 then asked KMS, and
how the instance ended. Seeding plays it once; a later StartInstances on the instance replays it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from kit.simulate import moto_state, records
from kit.simulate.records import Principal


@dataclass(frozen=True)
class KmsCall:
    """One KMS request EC2 makes for the launch (as the launcher, or as the instance's infrastructure role)."""

    operation: str
    by: str                       # "launcher" | "infrastructure"
    key_arn: str
    volume_id: str
    error: tuple[str, str] | None  # (errorCode, errorMessage template)
    after: float                  # seconds after the launch call


@dataclass
class Launch:
    """A scenario's instance and the sequence of events its launch produces."""

    scenario: str
    account_id: str
    region: str
    instance_id: str
    principal: Principal
    launch: str                   # "start" | "run"
    image_id: str
    instance_type: str
    reservation_id: str
    volumes: list[dict[str, Any]]
    kms_calls: list[KmsCall]
    failure: dict[str, Any]
    stop_after: float | None = None
    service: str = ""             # for service-linked roles: the service that assumed it
    service_role_arn: str = ""
    launch_event: bool = True
    launch_template: dict[str, str] | None = None  # {"id", "version"} the launch used
    fleet_id: str = ""            # launch "fleet": the instant EC2 Fleet
    spot_request_id: str = ""     # launch "spot": the Spot request
    requester: Principal | None = None  # launch "spot"/"spot-fleet": who made the request (the principal launches)
    spot_fleet_request_id: str = ""  # launch "spot-fleet": the Spot Fleet request
    fleet_role_arn: str = ""      # launch "spot-fleet": the request's IamFleetRole
    fleet_errors: tuple[dict[str, str], ...] = ()  # launch "fleet": errorSet items for overrides that failed
    failed_fleets: tuple[dict[str, Any], ...] = ()  # launch "fleet": earlier CreateFleet calls that launched
    #                                                 nothing ({fleet_id, errors, before: seconds})

    @property
    def fails(self) -> bool:
        """Whether a start of this instance ends in failure (a stopped instance that should replay)."""
        return self.failure["state"] in ("stopped", "terminated") and self.stop_after is None

    def timeline(self, at: datetime) -> list[dict[str, Any]]:
        """The CloudTrail records of one launch whose launch call happened at `at`."""
        out: list[dict[str, Any]] = []
        p = self.principal
        if self.service:
            out.append(records.service_assume_role(self.account_id, self.region, at - timedelta(seconds=1),
                                                   self.service_role_arn, self.service, p.session_name))
        for fleet in self.failed_fleets:  # launch "fleet": its template is set
            out.append(records.create_fleet(p, self.region, at - timedelta(seconds=fleet["before"]), None,
                                            fleet["fleet_id"], self.launch_template or {}, self.instance_type,
                                            tuple(fleet["errors"])))
        if self.launch_event:
            out.append(self.launch_record(at))
        for call in self.kms_calls:
            when = at + timedelta(seconds=call.after)
            error = None
            if call.error:
                caller = p.caller_arn if call.by == "launcher" else records.infrastructure_role_arn(
                    self.account_id, self.instance_id)
                error = (call.error[0], fill(call.error[1], caller_arn=caller, key_arn=call.key_arn,
                                             action=f"kms:{call.operation}"))
            if call.by == "launcher":
                record = records.kms_by_ec2(p, call.operation, self.region, when, call.key_arn, self.instance_id,
                                            call.volume_id, error)
            else:
                record = records.kms_by_infrastructure(self.account_id, call.operation, self.region, when,
                                                       call.key_arn, self.instance_id, call.volume_id, error)
            out.append(record)
            key_account = call.key_arn.split(":")[4]
            if key_account != self.account_id:
                out.append(records.shared_copy(record, key_account))
        if self.stop_after is not None:
            out.append(records.stop_instances(p, self.region, at + timedelta(seconds=self.stop_after),
                                              self.instance_id))
        return out

    def succeeded(self) -> Launch:
        """The same launch as it went before anything broke: every KMS call answered, the instance running."""
        return replace(self, kms_calls=[replace(c, error=None) for c in self.kms_calls], stop_after=None,
                       failure={"state": "running"}, fleet_errors=(), failed_fleets=())

    def launch_record(self, at: datetime) -> dict[str, Any]:
        """The record of the launch call itself (RunInstances, StartInstances, CreateFleet, RequestSpotInstances,
        RequestSpotFleet)."""
        p = self.principal
        if self.launch == "run":
            return records.run_instances(p, self.region, at, self.instance_id, self.image_id, self.instance_type,
                                         self.reservation_id, self.volumes, self.launch_template)
        if self.launch == "fleet" and self.launch_template:
            return records.create_fleet(p, self.region, at, self.instance_id, self.fleet_id, self.launch_template,
                                        self.instance_type, self.fleet_errors)
        if self.launch == "spot":
            return records.request_spot_instances(self.requester or p, self.region, at - timedelta(seconds=1),
                                                  self.spot_request_id, self.image_id, self.instance_type,
                                                  self.volumes)
        if self.launch == "spot-fleet":
            return records.request_spot_fleet(self.requester or p, self.region, at - timedelta(seconds=1),
                                              self.spot_fleet_request_id, self.launch_template, self.instance_type,
                                              self.fleet_role_arn, self.image_id, self.volumes)
        return records.start_instances(p, self.region, at, self.instance_id)

    def ended_at(self, at: datetime) -> datetime:
        """When the instance reached its final state for a launch at `at`."""
        if self.stop_after is not None:
            return at + timedelta(seconds=self.stop_after + 30)
        last = max((c.after for c in self.kms_calls), default=2.0)
        return at + timedelta(seconds=last + 2)

    def transition_reason(self, at: datetime) -> str:
        """StateTransitionReason with its time filled in (e.g. 'User initiated (2026-11-28 01:02:03 GMT)')."""
        when = self.ended_at(at) if self.stop_after is None else at + timedelta(seconds=self.stop_after)
        return fill(self.failure.get("transition_reason", ""), stop_time=when.strftime("%Y-%m-%d %H:%M:%S GMT"))

    def apply_final_state(self, at: datetime) -> None:
        """Put the moto instance into the scenario's final state, with StateReason and StateTransitionReason."""
        reason = self.failure.get("state_reason")
        moto_state.set_instance_final_state(self.account_id, self.region, self.instance_id, self.failure["state"],
                                            (reason["code"], reason["message"]) if reason else None,
                                            self.transition_reason(at) if reason else "")

    def create_grants(self, force: bool = False) -> None:
        """The grants EC2's successful CreateGrant calls leave on the keys of a running instance (`force`: a
        start that now succeeds, whatever the seeded launch's calls answered)."""
        from moto.kms.models import kms_backends

        if self.failure["state"] != "running" and not force:
            return
        for call in self.kms_calls:
            if call.operation != "CreateGrant" or (call.error and not force) or call.by != "launcher":
                continue
            _, _, _, region, key_account, resource = call.key_arn.split(":", 5)
            kms_backends[key_account][region].create_grant(
                key_id=resource.split("/")[-1],
                grantee_principal=records.infrastructure_role_arn(self.account_id, self.instance_id),
                operations=["Decrypt"], name="",
                constraints={"EncryptionContextSubset": {"aws:ebs:id": call.volume_id}},
                retiring_principal=f"ec2.{self.region}.amazonaws.com")

    def set_pending(self) -> None:
        """The state StartInstances reports: pending (code 0)."""
        moto_state.set_instance_pending(self.account_id, self.region, self.instance_id)


def fill(template: str, **values: str) -> str:
    """Replace {{name}} placeholders in `template`; unknown ones stay as they are."""
    for name, value in values.items():
        template = template.replace("{{" + name + "}}", value)
    return template
