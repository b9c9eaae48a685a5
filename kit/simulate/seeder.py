"""The one generic seeder: turns a catalogue scenario into IAM principals, KMS keys, an instance and its
volumes, Organizations SCPs, and CloudTrail events, in the running simulated account.

Resources AWS lets a client create are created through the API (boto3 against the simulator, with moto's
`x-moto-account-id` header choosing the account); what no API can set (an AWS managed key, a key's
PendingImport state, an instance's StateReason, a shared AMI's view from the consumer account) is set on
moto's backends directly. Named resources (users, roles, keys by alias, SCPs) are reused when a scenario is
seeded again; every seeding adds a new instance.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from importlib import resources
from typing import Any

import boto3
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

from kit.simulate import records
from kit.simulate.catalogue import Scenario
from kit.simulate.launch import KmsCall, Launch
from kit.simulate.records import Principal
from kit.simulate.trail import log_files
from kit.simulate.world import DEFAULT_ACCOUNT, MANAGEMENT_ACCOUNT, OTHER_ACCOUNT, World, partner_account, world

FAKE_KEY = "AKIAIOSFODNN7EXAMPLE"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TRAIL_NAME = "management-events"
HOME_REGION = "eu-west-1"


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


@cache
def _session() -> boto3.session.Session:
    """One boto3 session for every seeder of the process (service models load once)."""
    return boto3.session.Session(aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_SECRET)


def trail_bucket(account_id: str) -> str:
    """The S3 bucket the account's trail delivers log files to."""
    return f"aws-cloudtrail-logs-{account_id}-management"


def publish(events: list[dict[str, Any]]) -> None:
    """Store records in the trail (for LookupEvents) and deliver them as log files to the trail buckets."""
    from moto.s3.models import s3_backends

    trail = world().trail
    for record in events:
        trail.add(record, records.lookup_resources(record))
    for key, body in log_files(events):
        account_id = key.split("/")[1]
        s3_backends[account_id]["aws"].put_object(trail_bucket(account_id), key, body)


class Seeder:
    """Seeds scenarios into the simulator at `endpoint_url`."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._session = _session()

    # ---- the story of one seeding ------------------------------------------------------------------------

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
                      "management_account": MANAGEMENT_ACCOUNT}
            values["principal_arn"] = principal_arn_for(spec["principal"], account, region)
            keys = {ref: self._key(ref, kspec or {}, account, region, values)   # key policies may name the principal
                    for ref, kspec in (spec.get("keys") or {}).items()}
            values.update({f"key:{ref}": arn for ref, arn in keys.items()})
            principal = self._principal(spec["principal"], account, region, values)  # its policies may name keys
            if principal.arn != values["principal_arn"]:
                raise RuntimeError(f"{scenario.name}: principal ARN {principal.arn} != {values['principal_arn']}")
            values["caller_arn"] = principal.caller_arn
            for scp in spec.get("scps") or []:
                self._scp(scp, account, values)
            if spec.get("encryption_by_default"):
                self._encryption_by_default(spec["encryption_by_default"], account, region, keys)
            image_id, snapshot_id = self._image(spec.get("image"), account, region, keys, values)
            values["image_id"] = image_id
            launch = self._instance(scenario, ordinal, account, region, principal, image_id, snapshot_id, keys,
                                    values, at)
            values["instance_id"] = launch.instance_id
            if launch.volumes and launch.volumes[0].get("volume_id"):
                values["volume_id"] = launch.volumes[0]["volume_id"]
            events = launch.timeline(at) + self._noise(account, region, at)
            publish(events)
            launch.apply_final_state(at)
            launch.create_grants()
            launch.history.append(at)
            if launch.fails:
                w.failures[(account, region, launch.instance_id)] = launch
            expected = resolve(spec["expected"], values)
            return SeededScenario(
                name=scenario.name, instance_id=launch.instance_id, region=region, account_id=account,
                expected=expected, principal_arn=principal.arn, key_arns=keys,
                volume_ids=tuple(v["volume_id"] for v in launch.volumes if v.get("volume_id")),
                image_id=image_id, launched_at=at)

    # ---- clients -------------------------------------------------------------------------------------------

    def client(self, service: str, account: str, region: str = HOME_REGION) -> Any:
        """A boto3 client on the simulator acting in `account` (moto's x-moto-account-id header)."""
        cache_key = (service, account, region)
        if cache_key not in self._clients:
            client = self._session.client(service, region_name=region, endpoint_url=self.endpoint_url,
                                          config=Config(retries={"max_attempts": 1}))

            def add_account(request: Any, **_: Any) -> None:
                request.headers["x-moto-account-id"] = account

            client.meta.events.register("before-sign", add_account)
            self._clients[cache_key] = client
        return self._clients[cache_key]

    # ---- per account and Region, once ----------------------------------------------------------------------

    def _prepare(self, w: World, account: str, region: str) -> None:
        from moto.ec2.models import ec2_backends

        if not w.organization:
            self._organization(w)
        if (account, region) in w.prepared:
            return
        self._aws_managed_ebs_key(account, region)
        ec2 = self.client("ec2", account, region)
        base = ec2.register_image(Name="al2023-base-2025.11", Description="Amazon Linux 2023 base (golden image)",
                                  RootDeviceName="/dev/xvda", Architecture="x86_64", VirtualizationType="hvm")
        base_ami = ec2_backends[account][region].amis[base["ImageId"]]
        base_ami.root_device_name, base_ami.root_device_type = "/dev/xvda", "ebs"   # moto ignores both
        base_ami.ebs_snapshot.volume.size = 8
        w.prepared.add((account, region))
        w.base_images[(account, region)] = base["ImageId"]
        # a healthy unencrypted instance started by another user: noise the kit must not confuse
        deploy = self._user_principal({"name": "deploy-bot", "inline_policies": {
            "ec2": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}},
            "user_agent": "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10 lang#python#3.12.2 exec-env/AWS_Lambda"},
            account, {})
        bastion = ec2.run_instances(ImageId=base["ImageId"], InstanceType="t3.nano", MinCount=1, MaxCount=1,
                                    Placement={"AvailabilityZone": f"{region}a"},
                                    TagSpecifications=[{"ResourceType": "instance",
                                                        "Tags": [{"Key": "Name", "Value": "bastion"}]}])
        bastion_id = bastion["Instances"][0]["InstanceId"]
        started = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
        publish([records.start_instances(deploy, region, started, bastion_id)])

    def _organization(self, w: World) -> None:
        from moto.organizations.models import organizations_backends

        org = self.client("organizations", MANAGEMENT_ACCOUNT, "us-east-1")
        org.create_organization(FeatureSet="ALL")
        root_id = org.list_roots()["Roots"][0]["Id"]
        ou_id = org.create_organizational_unit(ParentId=root_id, Name="Workloads")["OrganizationalUnit"]["Id"]
        backend = organizations_backends[MANAGEMENT_ACCOUNT]["aws"]
        for account, name in ((DEFAULT_ACCOUNT, "workloads-prod"), (OTHER_ACCOUNT, "shared-services")):
            org.create_account(Email=f"aws+{name}@example.com", AccountName=name)
            created = backend.accounts[-1]
            organizations_backends.master_accounts.pop(created.id, None)
            created.id = account
            organizations_backends.master_accounts[account] = (MANAGEMENT_ACCOUNT, "aws")
            org.move_account(AccountId=account, SourceParentId=root_id, DestinationParentId=ou_id)
            self._trail(account)
            iam = self.client("iam", account)
            iam.create_role(RoleName="OrganizationAccountAccessRole", AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root"}}]}))
            # AWS attaches the managed AdministratorAccess; moto loads no AWS managed policies: same document inline
            iam.put_role_policy(RoleName="OrganizationAccountAccessRole", PolicyName="AdministratorAccess",
                                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                                    {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        w.organization.update(root_id=root_id, ou_id=ou_id, management=MANAGEMENT_ACCOUNT)

    def _trail(self, account: str) -> None:
        s3 = self.client("s3", account)
        bucket = trail_bucket(account)
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": HOME_REGION})
        cloudtrail = self.client("cloudtrail", account)
        cloudtrail.create_trail(Name=TRAIL_NAME, S3BucketName=bucket, IsMultiRegionTrail=True,
                                IncludeGlobalServiceEvents=True)
        cloudtrail.start_logging(Name=TRAIL_NAME)

    def _aws_managed_ebs_key(self, account: str, region: str) -> str:
        """aws/ebs as AWS has it: KeyManager AWS, its fixed policy; also the Region's default EBS key."""
        from moto.ec2.models import ec2_backends
        from moto.kms.models import kms_backends

        kms = kms_backends[account][region]
        if kms.alias_exists("alias/aws/ebs"):   # (get_key_id_from_alias would make moto create its own)
            return kms.keys[kms.get_key_id_from_alias("alias/aws/ebs")].arn
        policy = resolve(key_policy_templates()["aws-ebs"], {"key_account": account, "region": region})
        with lazy_private_keys():
            key = kms.create_key(policy=json.dumps(policy), key_usage="ENCRYPT_DECRYPT",
                                 key_spec="SYMMETRIC_DEFAULT",
                                 description="Default key that protects my EBS volumes when no other key is defined",
                                 tags=None)
        key.key_manager = "AWS"
        kms.create_alias(key.id, "alias/aws/ebs")
        backend = ec2_backends[account][region]
        if not backend.default_kms_key_id:
            backend.default_kms_key_id = key.arn
        return key.arn

    # ---- principals --------------------------------------------------------------------------------------

    def _principal(self, spec: dict[str, Any], account: str, region: str, values: dict[str, str]) -> Principal:
        kind = spec["type"]
        if kind == "user":
            return self._user_principal(spec, account, values)
        return self._role_principal(spec, account, region, values)

    def _user_principal(self, spec: dict[str, Any], account: str, values: dict[str, str]) -> Principal:
        iam = self.client("iam", account)
        name = spec["name"]
        try:
            user = iam.get_user(UserName=name)["User"]
            fresh = False
        except ClientError:
            user = iam.create_user(UserName=name, Path=spec.get("path", "/"),
                                   **({"Tags": tag_list(spec["tags"])} if spec.get("tags") else {}))["User"]
            fresh = True
        if fresh:
            for policy_name, document in (spec.get("inline_policies") or {}).items():
                iam.put_user_policy(UserName=name, PolicyName=policy_name,
                                    PolicyDocument=json.dumps(resolve(document, values)))
            for policy_name, document in (spec.get("managed_policies") or {}).items():
                iam.attach_user_policy(UserName=name, PolicyArn=self._managed_policy(account, policy_name, document,
                                                                                      values))
            for group_name, group in (spec.get("groups") or {}).items():
                self._group(account, group_name, group or {}, values)
                iam.add_user_to_group(GroupName=group_name, UserName=name)
            if spec.get("boundary"):
                boundary = spec["boundary"]
                iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=self._managed_policy(
                    account, boundary["name"], boundary["document"], values))
            key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
        else:
            key = iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["AccessKeyId"]
        extra = {k: spec[k] for k in ("source_ip", "user_agent") if spec.get(k)}
        return Principal(kind="user", account_id=account, name=name, arn=user["Arn"], principal_id=user["UserId"],
                         access_key_id=key, **extra)

    def _role_principal(self, spec: dict[str, Any], account: str, region: str,
                        values: dict[str, str]) -> Principal:
        iam = self.client("iam", account)
        kind = spec["type"]
        if kind == "service-linked-role":
            service = spec["service"]
            role = self._service_linked_role(iam, service)
            session = spec.get("session_name", role["RoleName"].removeprefix("AWSServiceRoleFor"))
            return Principal(kind="role", account_id=account, name=role["RoleName"], arn=role["Arn"],
                             principal_id=role["RoleId"], access_key_id=session_key(), session_name=session,
                             invoked_by=service)
        if kind == "sso-role":
            name, path = sso_role_name(spec["permission_set"], account,
                                       spec.get("identity_center_region", HOME_REGION))
            suffix = name.rsplit("_", 1)[-1]
            trust = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                "Principal": {"Federated": f"arn:aws:iam::{account}:saml-provider/AWSSSO_{suffix}_DO_NOT_DELETE"},
                "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}}]}
        else:
            name = spec["name"]
            path = spec.get("path", "/")
            trust = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"Service": spec.get("trusted_service", "ec2.amazonaws.com")}}]}
        if spec.get("trust_policy"):
            trust = resolve(spec["trust_policy"], values)
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except ClientError:
            role = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(trust),
                                   Description=spec.get("description", ""), MaxSessionDuration=3600)["Role"]
            for policy_name, document in (spec.get("inline_policies") or {}).items():
                iam.put_role_policy(RoleName=name, PolicyName=policy_name,
                                    PolicyDocument=json.dumps(resolve(document, values)))
            for policy_name, document in (spec.get("managed_policies") or {}).items():
                iam.attach_role_policy(RoleName=name, PolicyArn=self._managed_policy(account, policy_name, document,
                                                                                      values))
            if spec.get("boundary"):
                boundary = spec["boundary"]
                iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=self._managed_policy(
                    account, boundary["name"], boundary["document"], values))
        extra = {k: spec[k] for k in ("source_ip", "user_agent", "console") if spec.get(k)}
        return Principal(kind="role", account_id=account, name=name, arn=role["Arn"], principal_id=role["RoleId"],
                         access_key_id=session_key(), session_name=spec.get("session_name", name), **extra)

    def _service_linked_role(self, iam: Any, service: str) -> dict[str, Any]:
        try:
            return iam.get_role(RoleName=f"AWSServiceRoleFor{SERVICE_LINKED_ROLES[service]}")["Role"]
        except ClientError:
            return iam.create_service_linked_role(AWSServiceName=service)["Role"]

    def _managed_policy(self, account: str, name: str, document: dict[str, Any], values: dict[str, str]) -> str:
        iam = self.client("iam", account)
        arn = f"arn:aws:iam::{account}:policy/{name}"
        try:
            iam.get_policy(PolicyArn=arn)
        except ClientError:
            iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(resolve(document, values)))
        return arn

    def _group(self, account: str, name: str, spec: dict[str, Any], values: dict[str, str]) -> None:
        iam = self.client("iam", account)
        try:
            iam.get_group(GroupName=name)
            return
        except ClientError:
            iam.create_group(GroupName=name)
        for policy_name, document in (spec.get("inline_policies") or {}).items():
            iam.put_group_policy(GroupName=name, PolicyName=policy_name,
                                 PolicyDocument=json.dumps(resolve(document, values)))
        for policy_name, document in (spec.get("managed_policies") or {}).items():
            iam.attach_group_policy(GroupName=name, PolicyArn=self._managed_policy(account, policy_name, document,
                                                                                    values))

    # ---- keys, SCPs, encryption by default, images ---------------------------------------------------------

    def _key(self, ref: str, spec: dict[str, Any], account: str, region: str, values: dict[str, str]) -> str:
        from moto.kms.models import kms_backends

        key_account = resolve(str(spec.get("account", "{{account}}")), values)
        if spec.get("manager") == "AWS":
            return self._aws_managed_ebs_key(key_account, region)
        kms = kms_backends[key_account][region]
        alias = spec["alias"]
        if kms.alias_exists(alias):
            return kms.keys[kms.get_key_id_from_alias(alias)].arn
        policy = spec.get("policy", "default")
        document = key_policy_templates()[policy] if isinstance(policy, str) else policy
        document = resolve(document, dict(values, key_account=key_account))
        state = spec.get("state", "Enabled")
        with lazy_private_keys():
            key = kms.create_key(policy=json.dumps(document), key_usage="ENCRYPT_DECRYPT",
                                 key_spec="SYMMETRIC_DEFAULT", description=spec.get("description", ""), tags=None,
                                 origin="EXTERNAL" if state == "PendingImport" else "AWS_KMS")
        kms.create_alias(key.id, alias)
        if state == "Disabled":
            kms.disable_key(key.id)
        elif state == "PendingDeletion":
            kms.schedule_key_deletion(key.id, int(spec.get("pending_window_days", 7)))
        elif state == "PendingImport":
            key.key_state, key.enabled, key.key_material = "PendingImport", False, None
        return key.arn

    def _scp(self, spec: dict[str, Any], account: str, values: dict[str, str]) -> None:
        w = world()
        org = self.client("organizations", MANAGEMENT_ACCOUNT, "us-east-1")
        existing = {p["Name"]: p["Id"] for p in
                    org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]}
        target = {"root": w.organization["root_id"], "ou": w.organization["ou_id"],
                  "account": account}[spec.get("target", "ou")]
        policy_id = existing.get(spec["name"])
        if policy_id is None:
            policy_id = org.create_policy(Name=spec["name"], Description=spec.get("description", ""),
                                          Type="SERVICE_CONTROL_POLICY",
                                          Content=json.dumps(resolve(spec["document"], values)))["Policy"][
                "PolicySummary"]["Id"]
        attached = {t["TargetId"] for t in org.list_targets_for_policy(PolicyId=policy_id)["Targets"]}
        if target not in attached:
            org.attach_policy(PolicyId=policy_id, TargetId=target)

    def _encryption_by_default(self, spec: dict[str, Any], account: str, region: str, keys: dict[str, str]) -> None:
        ec2 = self.client("ec2", account, region)
        ec2.enable_ebs_encryption_by_default()
        if spec.get("key"):
            ec2.modify_ebs_default_kms_key_id(KmsKeyId=keys[spec["key"]])

    def _image(self, spec: dict[str, Any] | None, account: str, region: str, keys: dict[str, str],
               values: dict[str, str]) -> tuple[str, str]:
        from moto.ec2.models import ec2_backends

        if not spec:
            return world().base_images[(account, region)], ""
        owner = resolve(str(spec.get("owner", "{{account}}")), values)
        owner_backend = ec2_backends[owner][region]
        found = [a for a in owner_backend.amis.values() if a.name == spec["name"] and a.owner_id == owner]
        if found:
            ami = found[0]
        else:
            image_id = self.client("ec2", owner, region).register_image(
                Name=spec["name"], Description=spec.get("description", ""), RootDeviceName="/dev/xvda",
                Architecture="x86_64", VirtualizationType="hvm")["ImageId"]
            ami = owner_backend.amis[image_id]
            ami.root_device_name = "/dev/xvda"         # moto ignores RootDeviceName on RegisterImage
            ami.root_device_type = "ebs"
            snapshot = ami.ebs_snapshot
            snapshot.volume.size = int(spec.get("size", 8))
            if spec.get("snapshot_key"):
                snapshot.encrypted = True
                snapshot.kms_key_id = keys[spec["snapshot_key"]]
        snapshot = ami.ebs_snapshot
        if owner != account:
            if {"UserId": account} not in ami.launch_permissions:
                ami.launch_permissions.append({"UserId": account})
            snapshot.create_volume_permission_userids.add(account)
            consumer = ec2_backends[account][region]
            consumer.amis[ami.id] = ami           # moto lists only the caller's own images: show the shared one
            consumer.snapshots[snapshot.id] = snapshot
        return ami.id, snapshot.id

    # ---- the instance --------------------------------------------------------------------------------------

    def _instance(self, scenario: Scenario, ordinal: int, account: str, region: str, principal: Principal,
                  image_id: str, snapshot_id: str, keys: dict[str, str], values: dict[str, str],
                  at: datetime) -> Launch:
        from moto.ec2.models import ec2_backends

        spec = scenario.spec
        ispec = spec["instance"]
        ec2 = self.client("ec2", account, region)
        name = ispec.get("name", scenario.name) + ("" if ordinal == 1 else f"-{ordinal}")
        mappings, volumes = [], []
        for vspec in ispec.get("volumes") or []:
            volume: dict[str, Any] = {"device": vspec["device"], "size": vspec.get("size", 8),
                                      "encrypted": bool(vspec.get("encrypted", vspec.get("key") is not None))}
            if vspec.get("key"):
                volume["request_key_id"] = keys[vspec["key"]]
            if vspec.get("missing_snapshot"):
                volume.update(in_request=True, snapshot_id=vspec["missing_snapshot"], created=False)
                volumes.append(volume)
                continue
            ebs: dict[str, Any] = {"VolumeSize": volume["size"], "DeleteOnTermination": True, "VolumeType": "gp3",
                                   "Encrypted": volume["encrypted"]}
            if volume.get("request_key_id"):
                ebs["KmsKeyId"] = volume["request_key_id"]
            if vspec.get("from_image") and snapshot_id:
                ebs["SnapshotId"] = snapshot_id
            mappings.append({"DeviceName": vspec["device"], "Ebs": ebs})
            volumes.append(volume)
        tags = {"Name": name, **{k: resolve(str(v), values) for k, v in (ispec.get("tags") or {}).items()}}
        response = ec2.run_instances(
            ImageId=image_id, InstanceType=ispec.get("type", "t3.micro"), MinCount=1, MaxCount=1,
            Placement={"AvailabilityZone": f"{region}a"},
            TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list(tags)},
                               {"ResourceType": "volume", "Tags": tag_list({"Name": name})}],
            **({"BlockDeviceMappings": mappings} if mappings else {}))
        instance_id = response["Instances"][0]["InstanceId"]
        backend = ec2_backends[account][region]
        instance = backend.get_instance(instance_id)
        instance.launch_time = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if not mappings and ispec.get("volumes") is not None:
            for device in list(instance.block_device_mapping):       # the launch never got a volume
                volume_id = instance.block_device_mapping[device].volume_id
                backend.detach_volume(volume_id, instance_id, device)
                backend.delete_volume(volume_id)
        by_device = {device: bdm.volume_id for device, bdm in instance.get_block_device_mapping}
        for volume in volumes:
            if volume.get("created", True):
                volume["volume_id"] = by_device.get(volume["device"], "")
                moto_volume = backend.volumes[volume["volume_id"]]
                if moto_volume.kms_key_id:
                    volume["key_arn"] = normalise_key_arn(moto_volume.kms_key_id, account, region)
                    moto_volume.kms_key_id = volume["key_arn"]
        asg = ispec.get("autoscaling_group")
        if asg:
            self._autoscaling_group(asg, account, region, image_id, ispec.get("type", "t3.micro"))
            backend.create_tags([instance_id], {"aws:autoscaling:groupName": asg})
            self._scaling_activity(asg, account, region, instance_id, spec["failure"], at)
        kms_calls = []
        for i, call in enumerate(spec.get("kms_calls") or []):
            error = None
            if call.get("error"):
                template = kms_error_templates()[call["error"]]
                error = (template["code"], call.get("message", template["message"]))
            volume = volumes[call.get("volume", 0)] if volumes else {}
            kms_calls.append(KmsCall(operation=call["operation"], by=call.get("by", "launcher"),
                                     key_arn=keys[call["key"]], volume_id=volume.get("volume_id", ""),
                                     error=error, after=float(call.get("after", 2 + i))))
        failure = resolve(spec["failure"], values)
        return Launch(
            scenario=scenario.name, account_id=account, region=region, instance_id=instance_id, principal=principal,
            launch=ispec.get("launch", "start"), image_id=image_id, instance_type=ispec.get("type", "t3.micro"),
            reservation_id=response.get("ReservationId", ""), volumes=volumes, kms_calls=kms_calls, failure=failure,
            stop_after=failure.get("stopped_by_principal_after"),
            service=principal.invoked_by,
            service_role_arn=principal.arn if principal.invoked_by else "",
            launch_event=ispec.get("launch_event", True))

    def _autoscaling_group(self, name: str, account: str, region: str, image_id: str, instance_type: str) -> None:
        autoscaling = self.client("autoscaling", account, region)
        if autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]:
            return
        ec2 = self.client("ec2", account, region)
        template = f"{name}-template"
        ec2.create_launch_template(LaunchTemplateName=template, LaunchTemplateData={
            "ImageId": image_id, "InstanceType": instance_type})
        autoscaling.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=4, DesiredCapacity=0,
                                              LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
                                              AvailabilityZones=[f"{region}a"])

    def _scaling_activity(self, group: str, account: str, region: str, instance_id: str, failure: dict[str, Any],
                          at: datetime) -> None:
        """The activity Auto Scaling records for the launch (moto records none)."""
        from kit.simulate.trail import format_time

        reason = (failure.get("state_reason") or {}).get("message", "")
        failed = failure["state"] in ("terminated", "stopped")
        activity = {
            "ActivityId": str(uuid.uuid4()),
            "AutoScalingGroupName": group,
            "AutoScalingGroupARN": f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:"
                                   f"{uuid.uuid5(uuid.NAMESPACE_URL, group)}:autoScalingGroupName/{group}",
            "Description": f"Launching a new EC2 instance: {instance_id}",
            "Cause": (f"At {format_time(at - timedelta(seconds=10))} an instance was started in response to a "
                      "difference between desired and actual capacity, increasing the capacity from 0 to 1."),
            "StartTime": format_time(at),
            "EndTime": format_time(at + timedelta(seconds=40)),
            "StatusCode": "Cancelled" if failed else "Successful",
            "Progress": "100",
            "Details": json.dumps({"Subnet ID": "", "Availability Zone": f"{region}a"}),
        }
        if failed:
            activity["StatusMessage"] = ("Instance became unhealthy while waiting for instance to be in InService "
                                         f"state. Termination Reason: {reason}")
        world().activities.setdefault((account, region), []).append(activity)

    def _noise(self, account: str, region: str, at: datetime) -> list[dict[str, Any]]:
        w = world()
        viewer = w.noise_principals.get(account)
        if viewer is None:
            viewer = w.noise_principals[account] = self._viewer(account)
        return [records.describe(viewer, "DescribeInstances", region, at - timedelta(seconds=240)),
                records.describe(viewer, "DescribeVolumes", region, at + timedelta(seconds=45))]

    def _viewer(self, account: str) -> Principal:
        return self._user_principal({"name": "ops-viewer", "managed_policies": {}, "inline_policies": {
            "read-only": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ec2:Describe*", "kms:List*", "kms:Describe*"], "Resource": "*"}]}},
            "source_ip": "198.51.100.7",
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                          "Chrome/120.0.0.0 Safari/537.36"}, account, {})


# ---- small pieces ------------------------------------------------------------------------------------------

SERVICE_LINKED_ROLES = {"autoscaling.amazonaws.com": "AutoScaling", "spot.amazonaws.com": "EC2Spot"}


def principal_arn_for(spec: dict[str, Any], account: str, region: str) -> str:
    """The IAM ARN a scenario's principal gets (users and roles keep their path in the ARN)."""
    kind = spec["type"]
    if kind == "user":
        return f"arn:aws:iam::{account}:user{spec.get('path', '/')}{spec['name']}"
    if kind == "service-linked-role":
        service = spec["service"]
        return f"arn:aws:iam::{account}:role/aws-service-role/{service}/AWSServiceRoleFor{SERVICE_LINKED_ROLES[service]}"
    if kind == "sso-role":
        name, path = sso_role_name(spec["permission_set"], account, spec.get("identity_center_region", HOME_REGION))
        return f"arn:aws:iam::{account}:role{path}{name}"
    return f"arn:aws:iam::{account}:role{spec.get('path', '/')}{spec['name']}"


def sso_role_name(permission_set: str, account: str, region: str) -> tuple[str, str]:
    """(role name, path) IAM Identity Center gives a permission set's role in an account."""
    suffix = hashlib.sha256(f"{account}/{permission_set}".encode()).hexdigest()[:16]
    return f"AWSReservedSSO_{permission_set}_{suffix}", f"/aws-reserved/sso.amazonaws.com/{region}/"


@contextmanager
def lazy_private_keys() -> Iterator[None]:
    """While creating symmetric keys, let moto defer the RSA key pair it makes for every key (0.3 s each)
    until something signs or verifies with it (never, for the EBS keys of the scenarios)."""
    from moto.kms import models as kms_models

    original = kms_models.generate_private_key
    kms_models.generate_private_key = lambda key_spec: LazyPrivateKey(original, key_spec)  # type: ignore
    try:
        yield
    finally:
        kms_models.generate_private_key = original


class LazyPrivateKey:
    """A stand-in for moto's private key object that makes the real one on first use."""

    def __init__(self, factory: Any, key_spec: str) -> None:
        self._factory, self._key_spec, self._key = factory, key_spec, None

    def __getattr__(self, name: str) -> Any:
        if self.__dict__.get("_key") is None:
            self.__dict__["_key"] = self._factory(self._key_spec)
        return getattr(self.__dict__["_key"], name)


def resolve(value: Any, values: dict[str, str]) -> Any:
    """Replace {{name}} placeholders in every string of a YAML value."""
    if isinstance(value, str):
        for name, replacement in values.items():
            value = value.replace("{{" + name + "}}", replacement)
        return value
    if isinstance(value, dict):
        return {resolve(k, values): resolve(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, values) for v in value]
    return value


def normalise_key_arn(key_id: str, account: str, region: str) -> str:
    """A key id, alias or ARN as the key ARN AWS reports (moto keeps whatever id it was given)."""
    from moto.kms.models import kms_backends

    if key_id.startswith("arn:") and ":key/" in key_id:
        return key_id
    kms = kms_backends[account][region]
    if key_id.startswith("alias/") or ":alias/" in key_id:
        target = kms.get_key_id_from_alias(key_id.split(":")[-1])
        return kms.keys[target].arn if target else key_id
    return kms.keys[key_id].arn if key_id in kms.keys else key_id


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """{"k": "v"} as AWS's [{"Key": "k", "Value": "v"}]."""
    return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]


def session_key() -> str:
    """A temporary-credential access key id (ASIA...)."""
    return "ASIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))


@cache
def key_policy_templates() -> dict[str, Any]:
    """Key policies as AWS writes them (kit/simulate/data/key_policies.yaml)."""
    return yaml.safe_load((resources.files("kit.simulate") / "data" / "key_policies.yaml").read_text())


@cache
def kms_error_templates() -> dict[str, dict[str, str]]:
    """KMS refusals as CloudTrail records them (kit/simulate/data/kms_errors.yaml)."""
    return yaml.safe_load((resources.files("kit.simulate") / "data" / "kms_errors.yaml").read_text())
