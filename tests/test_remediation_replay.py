"""Replay: every verified fix is applied to a simulated world by running its own AWS CLI commands exactly as
written (the real AWS CLI, bash, against the simulator with fake credentials), and the launch is retried: it
must then succeed. Before the fix the same start must still fail, so the simulator decides a start by the
policies it holds (kit/simulate/authorize.py), and the test proves the commands change the right documents
on the right resources.

The world is a `kit simulate` process of its own: the fixes change IAM, keys and SCPs, which must not leak
into the session-wide simulated account other tests read.
"""

from __future__ import annotations

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
# Launches an instance start retries (StartInstances); an Auto Scaling launch (autoscaling-slr) ends terminated
# and is retried by its group, which the simulator does not replay. key-unusable's fix (import the key
# material, reconnect the key store) needs material the kit cannot have: never verified.
REPLAYED = ("seed", "explicit-deny-identity", "key-policy-no-delegation", "permissions-boundary", "scp-deny",
            "perimeter-decrypt-deny", "scheduler-role", "sso-role", "key-disabled", "key-pending-deletion",
            "source-vpc-deny", "via-service-typo", "trail-excludes-kms", "hostile-tags",
            "change-first-launch", "change-policy-detached", "change-boundary-put", "change-policy-narrowed",
            "change-key-policy-rewritten", "change-key-disabled", "change-trap-later-changes",
            "outage-scp-two-accounts")


@pytest.fixture(scope="module")
def world():
    """A `kit simulate` process with the replayed scenarios; (endpoint, {name: (instance, region)})."""
    names = [n for n in REPLAYED if n in {s.name for s in load_catalogue()}]
    args = [sys.executable, "-m", "kit", "simulate"] + [a for n in names for a in ("--scenario", n)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        endpoint = lines.get(timeout=300).strip().split("=", 1)[1]
        seeded = {}
        for _ in names:
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


def start_and_wait(endpoint: str, instance: str, region: str) -> str:
    """StartInstances with the AWS CLI, then the state once the start has played out."""
    subprocess.run(["aws", "ec2", "start-instances", "--instance-ids", instance, "--region", region], check=True,
                   env=shell_env(endpoint, region), capture_output=True, text=True)
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint, aws_access_key_id=FAKE["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=FAKE["AWS_SECRET_ACCESS_KEY"])
    deadline = time.monotonic() + 60
    while True:
        state = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["State"]["Name"]
        if state != "pending" or time.monotonic() > deadline:
            return str(state)
        time.sleep(0.5)


@pytest.mark.parametrize("name", REPLAYED)
def test_the_verified_fix_applied_as_written_makes_the_launch_succeed(world, name):
    endpoint, seeded = world
    instance, region = seeded[name]
    findings = diagnose(collect_live(instance, region))
    verified = [r for r in findings.remediation if r.verified]
    assert verified, f"{name}: a verified fix"
    change_set = verified[0].change_set
    commands = [c for r in findings.remediation if r.kind == "cli" and r.change_set == change_set
                for c in r.document["commands"] if not c.startswith("aws ec2 start-instances")]
    assert commands, f"{name}: the verified change set has AWS CLI commands"
    assert all("file://" not in c for c in commands), "one-paste commands: no file to create by hand"

    assert start_and_wait(endpoint, instance, region) == "stopped", "before the fix the start still fails"
    for command in commands:
        result = subprocess.run(["bash", "-c", command], env=shell_env(endpoint, region), capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
    assert start_and_wait(endpoint, instance, region) == "running", f"{name}: after {commands}"


def test_the_replayed_scenarios_are_those_with_a_verified_fix(world):
    endpoint, seeded = world
    missing = [n for n in REPLAYED if n not in seeded]
    assert not missing, f"not in the catalogue: {missing}"
