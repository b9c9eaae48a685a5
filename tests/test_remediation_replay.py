"""Replay: every verified fix is applied to a simulated world by running its own AWS CLI commands exactly as
written (the real AWS CLI, bash, against the simulator with fake credentials), and the launch is retried: it
must then succeed. Before the fix the same retry must still fail (a stopped start, or a terminated launch with
the seeded StateReason), so the simulator decides a start or a launch made again by the policies it holds
(kit/simulate/authorize.py, kit/simulate/relaunch.py), and the test proves the commands change the right
documents on the right resources.

The world is a `kit simulate` process of its own: the fixes change IAM, keys and SCPs, which must not leak
into the session-wide simulated account other tests read.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest

from kit.collect.live import collect_live
from kit.diagnose import diagnose
from kit.simulate.catalogue import load_catalogue

AWSCLI_DATA = "AWS_DATA_PATH"  # awscli sets it once, when imported: an environment reset must keep it

AWS_BIN = Path(sys.executable).parent
FAKE = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "fake-secret-for-the-simulator",
        "AWS_EC2_METADATA_DISABLED": "true"}
# The catalogue scenarios whose diagnosis carries a verified fix (test_the_replayed_scenarios_are_those_with_a_
# verified_fix keeps this list honest).
# A stopped instance is retried by StartInstances; a launch that ended terminated is made again by whoever made
# it (kit/simulate/relaunch.py): its Auto Scaling group (SetDesiredCapacity), or its launch call (RunInstances,
# CreateFleet, RequestSpotInstances, RequestSpotFleet, as CloudTrail recorded it) signed with its launcher's own credentials.
# Left out, never verified: key-unusable (import the key material, reconnect the key store: material the kit
# cannot have), cross-account-key and shared-ami (the fix is the key owner's, in another account whose key
# policy the evidence does not hold), and the lookalikes (capacity, quota, snapshot: no policy fix).
REPLAYED = ("seed", "explicit-deny-identity", "key-policy-no-delegation", "permissions-boundary", "scp-deny",
            "perimeter-decrypt-deny", "scheduler-role", "sso-role", "key-disabled", "key-pending-deletion",
            "source-vpc-deny", "via-service-typo", "trail-excludes-kms", "hostile-tags",
            "change-first-launch", "change-policy-detached", "change-boundary-put", "change-policy-narrowed",
            "change-key-policy-rewritten", "change-key-disabled", "change-trap-later-changes",
            "outage-scp-two-accounts",
            "autoscaling-slr", "spot-request-slr", "karpenter-create-fleet", "eks-auto-mode", "emr-service-role",
            "ci-web-identity", "launch-template-key", "default-ebs-key", "default-key-baseline",
            "change-default-key-switched",
            "backup-restore-role", "batch-spot-fleet", "fleet-capacity-and-kms", "image-builder-slr",
            "service-catalog-launch-role", "spot-fleet-role", "change-scp-attached", "change-account-moved",
            "unseen-group-via-service", "unseen-principal-tag-scp", "unseen-source-ip-perimeter",
            "unseen-template-key-alias", "outage-unseen-policy-version")
# The session-policy fix is "verified against every layer in the evidence (session policy not in the
# evidence)", never `verified`: no record shows the policy a session was created with. Its change is not a
# document the world holds (the session policy is passed by whoever creates the session, here the CI workflow's
# AssumeRole call), so no command can change it in place; the fix is the next session, created with the policy it
# proposes. It is replayed that way: its own `aws sts assume-role ... --policy` command as written, and the start
# retried with the credentials that command prints.
SESSION_REPLAYED = ("session-policy",)
# Fixes "verified against every layer in the evidence" whose commands change documents in the world, replayed as
# the verified ones are: the grant for a service-linked role on another account's key (that key's policy is not
# readable from the launcher's account, so the grant cannot be `verified`; the evaluator models the grant).
IN_EVIDENCE_REPLAYED = ("autoscaling-slr-cross-account",)


@pytest.fixture(scope="module")
def world():
    """A `kit simulate` process with the replayed scenarios; (endpoint, {name: (instance, region)})."""
    names = [n for n in REPLAYED + SESSION_REPLAYED + IN_EVIDENCE_REPLAYED if n in {s.name for s in load_catalogue()}]
    args = [sys.executable, "-m", "kit", "simulate"] + [a for n in names for a in ("--scenario", n)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        endpoint = lines.get(timeout=300).strip().split("=", 1)[1]
        seeded: dict[str, tuple[str, str]] = {}
        while set(names) - set(seeded):   # a scenario may seed several instances (one line each): its first
            _, name, instance, region = lines.get(timeout=300).split()
            seeded.setdefault(name, (instance, region))
        saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_") and k != AWSCLI_DATA}
        for name in saved:
            del os.environ[name]
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, **FAKE})
        yield endpoint, seeded
        for name in [n for n in os.environ if n.startswith("AWS_") and n != AWSCLI_DATA]:
            del os.environ[name]
        os.environ.update(saved)
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def shell_env(endpoint: str, region: str) -> dict[str, str]:
    """The environment a person's shell would have: the simulator's endpoint, fake credentials, the Region,
    and the pinned AWS CLI first on PATH."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base["PATH"] = f"{AWS_BIN}{os.pathsep}{base.get('PATH', '')}"
    return {**base, **FAKE, "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}


def start_and_wait(endpoint: str, instance: str, region: str, credentials: dict[str, str] | None = None) -> str:
    """StartInstances with the AWS CLI (signed with `credentials` when given), then the state once the start has
    played out."""
    subprocess.run(["aws", "ec2", "start-instances", "--instance-ids", instance, "--region", region], check=True,
                   env={**shell_env(endpoint, region), **(credentials or {})}, capture_output=True, text=True)
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint, aws_access_key_id=FAKE["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=FAKE["AWS_SECRET_ACCESS_KEY"])
    deadline = time.monotonic() + 60
    while True:
        state = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["State"]["Name"]
        if state != "pending" or time.monotonic() > deadline:
            return str(state)
        time.sleep(0.5)


LAUNCH_CALLS = ("RunInstances", "CreateFleet", "RequestSpotInstances", "RequestSpotFleet")
USER_KEYS: dict[str, dict[str, str]] = {}   # user -> the access key the test made for it (IAM allows two)


def client(service: str, endpoint: str, region: str, **credentials: str):
    return boto3.client(service, region_name=region, endpoint_url=endpoint,
                        aws_access_key_id=credentials.get("key", FAKE["AWS_ACCESS_KEY_ID"]),
                        aws_secret_access_key=credentials.get("secret", FAKE["AWS_SECRET_ACCESS_KEY"]),
                        aws_session_token=credentials.get("token"))


def described(endpoint: str, instance: str, region: str) -> dict:
    return client("ec2", endpoint, region).describe_instances(InstanceIds=[instance])["Reservations"][0][
        "Instances"][0]


def wait_out_pending(endpoint: str, instance: str, region: str) -> dict:
    """The instance once its launch has played out (no longer pending)."""
    deadline = time.monotonic() + 60
    while True:
        found = described(endpoint, instance, region)
        if found["State"]["Name"] != "pending" or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def launch_record(endpoint: str, instance: str, region: str) -> dict:
    """The CloudTrail record of the call that launched the instance (its id, or its Spot request's, in it)."""
    found = described(endpoint, instance, region)
    tags = {t["Key"]: t["Value"] for t in found.get("Tags", [])}
    marks = {instance, found.get("SpotInstanceRequestId") or instance,
             tags.get("aws:ec2spot:fleet-request-id") or instance}
    trail = client("cloudtrail", endpoint, region)
    for name in LAUNCH_CALLS:
        for event in trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName",
                                                            "AttributeValue": name}])["Events"]:
            if any(mark in event["CloudTrailEvent"] for mark in marks):
                return json.loads(event["CloudTrailEvent"])
    raise AssertionError(f"no launch record for {instance}")


def launcher_credentials(endpoint: str, record: dict, region: str) -> dict[str, str]:
    """Credentials of the principal that made the launch call: a new access key of the IAM user, or a new
    session of the role (the launcher retries its launch)."""
    identity = record["userIdentity"]
    if identity["type"] == "IAMUser":
        iam = client("iam", endpoint, region)
        user = identity["userName"]
        if user in USER_KEYS:
            return USER_KEYS[user]
        held = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        if len(held) >= 2:   # IAM's limit: the person rotates out a key they no longer use
            iam.delete_access_key(UserName=user, AccessKeyId=held[-1]["AccessKeyId"])
        key = iam.create_access_key(UserName=user)["AccessKey"]
        USER_KEYS[user] = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
        return USER_KEYS[user]
    role = identity["sessionContext"]["sessionIssuer"]["arn"]
    session = client("sts", endpoint, region).assume_role(RoleArn=role, RoleSessionName=identity["arn"].rsplit(
        "/", 1)[-1])["Credentials"]
    return {"AWS_ACCESS_KEY_ID": session["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
            "AWS_SESSION_TOKEN": session["SessionToken"]}


def retry_command(record: dict, region: str) -> list[str]:
    """The launch call of the record made again with the AWS CLI: same image or launch template, type and
    block device mappings."""
    params = record["requestParameters"]
    if record["eventName"] == "CreateFleet":
        fleet = params["CreateFleetRequest"]
        spec = fleet["LaunchTemplateConfigs"]["LaunchTemplateSpecification"]
        configs = [{"LaunchTemplateSpecification": {"LaunchTemplateId": spec["LaunchTemplateId"],
                                                    "Version": str(spec["Version"])}}]
        return ["aws", "ec2", "create-fleet", "--type", "instant", "--region", region,
                "--launch-template-configs", json.dumps(configs),
                "--target-capacity-specification", "TotalTargetCapacity=1,DefaultTargetCapacityType=on-demand"]
    if record["eventName"] == "RequestSpotFleet":
        config = dict(params["RequestSpotFleetRequest"]["SpotFleetRequestConfig"])
        out = {k: config[k] for k in ("IamFleetRole", "AllocationStrategy", "TargetCapacity", "Type")}
        if "LaunchTemplateConfigs" in config:
            lt = config["LaunchTemplateConfigs"]
            out["LaunchTemplateConfigs"] = [{
                "LaunchTemplateSpecification": {k: str(v) for k, v in lt["LaunchTemplateSpecification"].items()},
                "Overrides": [{k: v for k, v in o.items() if k != "tag"} for o in lt.get("Overrides", [])]}]
        else:
            spec = config["LaunchSpecifications"]
            out["LaunchSpecifications"] = [{
                "ImageId": spec["ImageId"], "InstanceType": spec["InstanceType"],
                "BlockDeviceMappings": [{k: v for k, v in m.items() if k != "tag"}
                                        for m in spec.get("BlockDeviceMapping", [])]}]
        return ["aws", "ec2", "request-spot-fleet", "--region", region, "--spot-fleet-request-config",
                json.dumps(out)]
    if record["eventName"] == "RequestSpotInstances":
        spec = params["launchSpecification"]
        launch = {"ImageId": spec["imageId"], "InstanceType": spec["instanceType"],
                  "BlockDeviceMappings": mappings(spec.get("blockDeviceMapping"))}
        return ["aws", "ec2", "request-spot-instances", "--instance-count", "1", "--type", "one-time",
                "--region", region, "--launch-specification", json.dumps(launch)]
    command = ["aws", "ec2", "run-instances", "--count", "1", "--region", region,
               "--instance-type", params["instanceType"]]
    if params.get("launchTemplate"):
        template = params["launchTemplate"]
        command += ["--launch-template",
                    f"LaunchTemplateId={template['launchTemplateId']},Version={template['version']}"]
    else:
        command += ["--image-id", params["instancesSet"]["items"][0]["imageId"]]
    if mappings(params.get("blockDeviceMapping")):
        command += ["--block-device-mappings", json.dumps(mappings(params.get("blockDeviceMapping")))]
    return command


def mappings(block_devices: dict | None) -> list[dict]:
    """CloudTrail's blockDeviceMapping items as the CLI's --block-device-mappings."""
    names = {"volumeSize": "VolumeSize", "encrypted": "Encrypted", "kmsKeyId": "KmsKeyId",
             "deleteOnTermination": "DeleteOnTermination", "snapshotId": "SnapshotId"}
    return [{"DeviceName": item["deviceName"], "Ebs": {names[k]: v for k, v in item.get("ebs", {}).items()
                                                       if k in names}}
            for item in (block_devices or {}).get("items", [])]


def relaunch(endpoint: str, instance: str, region: str) -> dict:
    """The terminated launch made again by whoever launched it (the Auto Scaling group: one more instance;
    anyone else: its launch call again with its own credentials); the new instance once its launch played out."""
    tags = {t["Key"]: t["Value"] for t in described(endpoint, instance, region).get("Tags", [])}
    env = shell_env(endpoint, region)
    group = tags.get("aws:autoscaling:groupName")
    if group:
        autoscaling = client("autoscaling", endpoint, region)
        state = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
        before = {i["InstanceId"] for i in state["Instances"]}
        subprocess.run(["aws", "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", group,
                        "--desired-capacity", str(state["DesiredCapacity"] + 1), "--region", region],
                       check=True, env=env, capture_output=True, text=True)
        after = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
        new = [i["InstanceId"] for i in after["Instances"] if i["InstanceId"] not in before]
    else:
        record = launch_record(endpoint, instance, region)
        env.update(launcher_credentials(endpoint, record, region))
        answer = json.loads(subprocess.run(retry_command(record, region), check=True, env=env, capture_output=True,
                                           text=True).stdout)
        if "SpotFleetRequestId" in answer:
            active = client("ec2", endpoint, region).describe_spot_fleet_instances(
                SpotFleetRequestId=answer["SpotFleetRequestId"])["ActiveInstances"]
            new = [i["InstanceId"] for i in active]
        elif "SpotInstanceRequests" in answer:
            requests = client("ec2", endpoint, region).describe_spot_instance_requests(SpotInstanceRequestIds=[
                answer["SpotInstanceRequests"][0]["SpotInstanceRequestId"]])["SpotInstanceRequests"]
            new = [requests[0]["InstanceId"]]
        elif "Instances" in answer and answer["Instances"] and "InstanceIds" in answer["Instances"][0]:
            new = answer["Instances"][0]["InstanceIds"]
        else:
            new = [i["InstanceId"] for i in answer["Instances"]]
    assert len(new) == 1, f"one instance launched: {new}"
    return wait_out_pending(endpoint, new[0], region)


def refused_kms_calls(endpoint: str, instance: str, region: str) -> list[dict]:
    """The trail's refused CreateGrant records of EC2's calls for the instance (the grantee names it)."""
    pages = client("cloudtrail", endpoint, region).get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateGrant"}])
    records = [json.loads(e["CloudTrailEvent"]) for page in pages for e in page["Events"]]
    return [r for r in records if r.get("errorCode") and instance in json.dumps(r.get("requestParameters"))]


@pytest.mark.parametrize("name", REPLAYED + IN_EVIDENCE_REPLAYED)
def test_the_verified_fix_applied_as_written_makes_the_launch_succeed(world, name):
    endpoint, seeded = world
    instance, region = seeded[name]
    findings = diagnose(collect_live(instance, region))
    verified = [r for r in findings.remediation if r.verified] if name in REPLAYED else [
        r for r in findings.remediation if r.verification == "verified-in-evidence"]
    assert verified, f"{name}: a verified fix"
    change_set = verified[0].change_set
    commands = [c for r in findings.remediation if r.kind == "cli" and r.change_set == change_set
                for c in r.document["commands"] if not c.startswith("aws ec2 start-instances")]
    assert commands, f"{name}: the verified change set has AWS CLI commands"
    assert all("file://" not in c for c in commands), "one-paste commands: no file to create by hand"

    seeded = described(endpoint, instance, region)
    if seeded["State"]["Name"] == "terminated":
        before = relaunch(endpoint, instance, region)
        assert before["State"]["Name"] == "terminated", "before the fix the launch made again still fails"
        assert before["StateReason"] == seeded["StateReason"], "and ends as the seeded launch did"
        assert refused_kms_calls(endpoint, before["InstanceId"], region), "its refused KMS call is in the trail"
    else:
        assert start_and_wait(endpoint, instance, region) == "stopped", "before the fix the start still fails"
    for command in commands:
        result = subprocess.run(["bash", "-c", command], env=shell_env(endpoint, region), capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
    if seeded["State"]["Name"] == "terminated":
        assert relaunch(endpoint, instance, region)["State"]["Name"] == "running", f"{name}: after {commands}"
    else:
        assert start_and_wait(endpoint, instance, region) == "running", f"{name}: after {commands}"


def test_the_replayed_scenarios_are_those_with_a_verified_fix(world):
    endpoint, seeded = world
    missing = [n for n in REPLAYED if n not in seeded]
    assert not missing, f"not in the catalogue: {missing}"


@pytest.mark.parametrize("name", SESSION_REPLAYED)
def test_the_session_policy_fix_applied_as_the_next_session_makes_the_start_succeed(world, name):
    endpoint, seeded = world
    instance, region = seeded[name]
    findings = diagnose(collect_live(instance, region))
    fix = [r for r in findings.remediation if r.change_set == "session-policy" and r.kind == "cli"]
    assert fix and fix[0].verification == "verified-in-evidence", f"{name}: {fix}"
    commands = fix[0].document["commands"]
    assert len(commands) == 1 and commands[0].startswith("aws sts assume-role"), commands

    assert start_and_wait(endpoint, instance, region) == "stopped", "the scripted session still fails"
    env = {**shell_env(endpoint, region), "SESSION_NAME": "kit-replay"}
    result = subprocess.run(["bash", "-c", commands[0]], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{commands[0]}\n{result.stderr}"
    session = json.loads(result.stdout)["Credentials"]
    credentials = {"AWS_ACCESS_KEY_ID": session["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
                   "AWS_SESSION_TOKEN": session["SessionToken"]}
    narrow = subprocess.run(["aws", "sts", "assume-role", "--role-arn", fix[0].target, "--role-session-name",
                             "ec2-only", "--policy", json.dumps({"Version": "2012-10-17", "Statement": [
                                 {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]})],
                            env=env, capture_output=True, text=True, check=True)
    other = json.loads(narrow.stdout)["Credentials"]
    assert start_and_wait(endpoint, instance, region, {
        "AWS_ACCESS_KEY_ID": other["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": other["SecretAccessKey"],
        "AWS_SESSION_TOKEN": other["SessionToken"]}) == "stopped", "a new session as narrow as before still fails"
    assert start_and_wait(endpoint, instance, region, credentials) == "running", f"{name}: after {commands}"
