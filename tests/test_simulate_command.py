"""`kit simulate` as a process: endpoint line, one line per scenario, serves until interrupted; port in use."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading

import boto3

AWSCLI_DATA = "AWS_DATA_PATH"  # awscli sets it once, when imported: an environment reset must keep it

KIT = [sys.executable, "-m", "kit"]


def read_lines(process: subprocess.Popen, count: int, timeout: float = 180, *, stderr: bool = False) -> list[str]:
    """The next `count` lines the process prints on stdout (or stderr)."""
    stream = process.stderr if stderr else process.stdout
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return [lines.get(timeout=timeout).rstrip("\n") for _ in range(count)]


def test_kit_simulate_prints_endpoint_and_scenarios_and_serves_until_interrupted():
    process = subprocess.Popen([*KIT, "simulate", "--scenario", "seed", "--scenario", "key-disabled"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        endpoint_line, *scenario_lines = read_lines(process, 3)
        assert endpoint_line.startswith("AWS_ENDPOINT_URL=http://127.0.0.1:")
        endpoint = endpoint_line.split("=", 1)[1]
        names = [line.split() for line in scenario_lines]
        assert [(n[0], n[1], n[2][:2], n[3]) for n in names] == [
            ("scenario", "seed", "i-", "eu-west-1"), ("scenario", "key-disabled", "i-", "eu-west-1")]
        ec2 = boto3.client("ec2", region_name="eu-west-1", endpoint_url=endpoint, aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                           aws_secret_access_key="secret")
        instance = ec2.describe_instances(InstanceIds=[names[0][2]])["Reservations"][0]["Instances"][0]
        assert instance["StateReason"]["Code"] == "Client.InternalError"
        assert process.poll() is None, "still serving"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


EXPORTS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION",
           "AWS_EC2_METADATA_DISABLED")


def test_kit_simulate_prints_an_export_block_that_is_enough_to_reach_it(tmp_path, monkeypatch):
    """The README's path: paste the `export` lines (stderr; stdout keeps the contract's lines) and a client
    configured by nothing else (no profile, no arguments, no ~/.aws) reads the seeded instance: no
    NoCredentialsError, no missing Region."""
    process = subprocess.Popen([*KIT, "simulate", "--scenario", "seed"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        endpoint_line, scenario_line = read_lines(process, 2)
        block = read_lines(process, 2 + len(EXPORTS), stderr=True)  # two comment lines, then the exports
        assert block[0].startswith("# The simulated AWS account is serving") and "jupyter lab" in block[0]
        environ = dict(line[len("export "):].split("=", 1) for line in block if line.startswith("export "))
        assert tuple(environ) == EXPORTS
        assert f"AWS_ENDPOINT_URL={environ['AWS_ENDPOINT_URL']}" == endpoint_line
        for name in [n for n in os.environ if n.startswith("AWS_") and n != AWSCLI_DATA]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("HOME", str(tmp_path))
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        instance_id = scenario_line.split()[2]
        ec2 = boto3.session.Session().client("ec2")
        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        assert instance["StateReason"]["Code"] == "Client.InternalError"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_kit_simulate_stops_cleanly_on_sigterm():
    process = subprocess.Popen([*KIT, "simulate", "--scenario", "healthy-running"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        read_lines(process, 2)
        process.terminate()
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_kit_simulate_on_a_port_in_use_says_so():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*KIT, "simulate", "--scenario", "seed", "--port", str(port)], capture_output=True,
                                text=True, timeout=180, check=False)
    assert result.returncode == 2
    assert "--port" in result.stderr and str(port) in result.stderr and "in use" in result.stderr
    assert "AWS_ENDPOINT_URL" not in result.stdout


def test_kit_simulate_throttle_flag_throttles_lookup_events():
    from botocore.config import Config
    from botocore.exceptions import ClientError

    process = subprocess.Popen([*KIT, "simulate", "--scenario", "seed", "--throttle"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        endpoint = read_lines(process, 2)[0].split("=", 1)[1]
        cloudtrail = boto3.client("cloudtrail", region_name="eu-west-1", endpoint_url=endpoint,
                                  aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="secret",
                                  config=Config(retries={"max_attempts": 1}))
        codes = []
        for _ in range(50):
            try:
                cloudtrail.lookup_events(MaxResults=1)
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
                break
        assert codes == ["ThrottlingException"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
