"""The one generic seeder: turns a catalogue scenario into IAM principals, KMS keys, an instance and its
volumes, Organizations SCPs, and CloudTrail events, in the running simulated account.

Resources AWS lets a client create are created through the API (boto3 against the simulator, with moto's
`x-moto-account-id` header choosing the account); what no API can set (an AWS managed key, a key's
PendingImport state, an instance's StateReason, a shared AMI's view from the consumer account) is set on
moto's backends directly. Named resources (users, roles, keys by alias, SCPs) are reused when a scenario is
seeded again; every seeding adds a new instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from kit.simulate import records
from kit.simulate.catalogue import Scenario
from kit.simulate.changes import apply_changes, earlier_launches
from kit.simulate.clients import Clients
from kit.simulate.instances import (as_seeded_image, default_key_history, encryption_by_default, image,
                                   launch_instance)
from kit.simulate.keys import aws_managed_ebs_key, scenario_key
from kit.simulate.logs import publish
from kit.simulate.organization import attach_scp, create_organization, regional_trail
from kit.simulate.placeholders import resolve
from kit.simulate.principals import create_principal, principal_arn_for, user_principal
from kit.simulate.records import Principal
from kit.simulate.world import DEFAULT_ACCOUNT, MANAGEMENT_ACCOUNT, World, partner_account, world

ALLOW_EC2 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}


@dataclass(frozen=True)
class SeededScenario:
    """One seeded scenario: its instance, where it is, and the verdict the kit should reach (ids resolved)."""

    name: str
    instance_id: str
    region: str
    account_id: str
    expected: dict[str, Any]
    principal_arn: str = ""
    key_arns: dict[str, str] = field(default_factory=dict)
    volume_ids: tuple[str, ...] = ()
    image_id: str = ""
    launched_at: datetime | None = None


class Seeder:
    """Seeds scenarios into the simulator at `endpoint_url`."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self.clients = Clients(endpoint_url)

    def seed(self, scenario: Scenario, region: str | None = None, account_id: str | None = None) -> SeededScenario:
        """Seed one scenario (a new instance; named resources reused) and return what was made."""
        w = world()
        spec = scenario.spec
        account = str(account_id or spec.get("account") or DEFAULT_ACCOUNT)
        region = region or scenario.region
        with w.lock:
            ordinal = w.next_ordinal(scenario.name)
            self._prepare(w, account, region)
            at = (datetime.now(timezone.utc).replace(microsecond=0)
                  - timedelta(minutes=float(spec.get("minutes_ago", 12)), seconds=7 * (ordinal - 1)))
            values = {"account": account, "region": region, "other_account": partner_account(account),
                      "management_account": MANAGEMENT_ACCOUNT,
                      "principal_arn": principal_arn_for(spec["principal"], account, region)}
            keys = {ref: scenario_key(kspec or {}, account, region, values)   # key policies may name the principal
                    for ref, kspec in (spec.get("keys") or {}).items()}
            values.update({f"key:{ref}": arn for ref, arn in keys.items()})
            principal = create_principal(self.clients, spec["principal"], account, values)  # may name keys
            if principal.arn != values["principal_arn"]:
                raise RuntimeError(f"{scenario.name}: principal ARN {principal.arn} != {values['principal_arn']}")
            values["caller_arn"] = principal.caller_arn
            for scp in spec.get("scps") or []:
                attach_scp(self.clients, scp, account, values)
            if spec.get("trail"):
                regional_trail(self.clients, spec["trail"], account, region)
            history: list[dict[str, Any]] = []
            if spec.get("encryption_by_default"):
                default_spec = spec["encryption_by_default"]
                encryption_by_default(self.clients, default_spec, account, region, keys)
                if default_spec.get("set_by"):
                    setter = create_principal(self.clients, default_spec["set_by"], account, values)
                    history = default_key_history(setter, default_spec, region, keys, at)
            history += apply_changes(self.clients, spec, account, region, values, at)
            requester = None
            if spec["instance"].get("requested_by"):
                requester = create_principal(self.clients, spec["instance"]["requested_by"], account, values)
            image_id, snapshot_id = image(self.clients, spec.get("image"), account, region, keys, values)
            values["image_id"] = image_id
            launch = launch_instance(self.clients, scenario, ordinal, account, region, principal, image_id,
                                     snapshot_id, keys, values, at, requester)
            values["instance_id"] = launch.instance_id
            if launch.volumes and launch.volumes[0].get("volume_id"):
                values["volume_id"] = launch.volumes[0]["volume_id"]
            history += earlier_launches(spec, launch, at) if ordinal == 1 else []
            publish(history + launch.timeline(at) + self._noise(account, region, at))
            launch.apply_final_state(at)
            launch.create_grants()
            if launch.fails:
                w.failures[(account, region, launch.instance_id)] = launch
            return SeededScenario(
                name=scenario.name, instance_id=launch.instance_id, region=region, account_id=account,
                expected=resolve(spec["expected"], values), principal_arn=principal.arn, key_arns=keys,
                volume_ids=tuple(v["volume_id"] for v in launch.volumes if v.get("volume_id")),
                image_id=image_id, launched_at=at)

    def _prepare(self, w: World, account: str, region: str) -> None:
        """Once per process: the organization; once per account and Region: aws/ebs, a base image, a bastion."""
        from moto.ec2.models import ec2_backends

        if not w.organization:
            create_organization(self.clients, w)
        if (account, region) in w.prepared:
            return
        aws_managed_ebs_key(account, region)
        ec2 = self.clients("ec2", account, region)
        base = ec2.register_image(Name="al2023-base-2025.11", Description="Amazon Linux 2023 base (golden image)",
                                  RootDeviceName="/dev/xvda", Architecture="x86_64", VirtualizationType="hvm")
        as_seeded_image(ec2_backends[account][region].amis[base["ImageId"]], size=8)
        w.prepared.add((account, region))
        w.base_images[(account, region)] = base["ImageId"]
        # a healthy unencrypted instance started by another user: noise the kit must not confuse
        deploy = user_principal(self.clients, {
            "name": "deploy-bot", "inline_policies": {"ec2": ALLOW_EC2},
            "user_agent": "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10 lang#python#3.12.2 "
                          "exec-env/AWS_Lambda"}, account, {})
        bastion = ec2.run_instances(ImageId=base["ImageId"], InstanceType="t3.nano", MinCount=1, MaxCount=1,
                                    Placement={"AvailabilityZone": f"{region}a"},
                                    TagSpecifications=[{"ResourceType": "instance",
                                                        "Tags": [{"Key": "Name", "Value": "bastion"}]}])
        started = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
        publish([records.start_instances(deploy, region, started, bastion["Instances"][0]["InstanceId"])])

    def _noise(self, account: str, region: str, at: datetime) -> list[dict[str, Any]]:
        """Read-only calls by another user around the launch."""
        w = world()
        viewer = w.noise_principals.get(account)
        if viewer is None:
            viewer = w.noise_principals[account] = self._viewer(account)
        return [records.describe(viewer, "DescribeInstances", region, at - timedelta(seconds=240)),
                records.describe(viewer, "DescribeVolumes", region, at + timedelta(seconds=45))]

    def _viewer(self, account: str) -> Principal:
        return user_principal(self.clients, {
            "name": "ops-viewer", "inline_policies": {"read-only": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ec2:Describe*", "kms:List*", "kms:Describe*"], "Resource": "*"}]}},
            "source_ip": "198.51.100.7",
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                          "Chrome/120.0.0.0 Safari/537.36"}, account, {})
