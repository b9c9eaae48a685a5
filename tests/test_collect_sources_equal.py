"""live, bundle:DIR and cli:DIR give equal frames for the same incident.

The cli: folder is made the way a customer would make it: the real AWS CLI (`--output json`), run against the
simulated account, once per call the live collection made, each command exactly the `next_step` text the kit
would print for that call (so this also proves those commands work), stdout saved under the file name
contracts.md gives it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from kit.collect import load_evidence
from kit.collect.bundle import write_bundle
from kit.collect.cli_commands import checklist
from kit.collect.gaps import cli_command
from kit.collect.live import collect_live
from kit.frames.build import Frames, build_frames

AWSCLI_DATA = "AWS_DATA_PATH"  # awscli sets it once, when imported: an environment reset must keep it

AWS_CLI = Path(sys.executable).with_name("aws")
# the seed (organization chain, customer key), a cross-account key, a launch whose volumes are gone (AMI and
# snapshots), an Auto Scaling launch (scaling activities, service-linked role)
SCENARIOS = ["seed", "cross-account-key", "snapshot-not-found", "autoscaling-slr"]


def file_for(call: dict) -> str:
    """The cli: file name of the document one live call produced."""
    operation, params = call["operation"], call["params"]
    service, name = operation.split(":")
    kebab = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
    if service == "kms" and "KeyId" in params:
        return f"kms.{kebab}.{params['KeyId'].rsplit('/', 1)[-1]}.json"
    if operation == "cloudtrail:LookupEvents":
        attribute = params["LookupAttributes"][0]
        qualifier = "kms" if attribute["AttributeKey"] == "EventSource" else attribute["AttributeValue"].rsplit("/", 1)[-1]
        return f"cloudtrail.lookup-events.{qualifier}.json"
    if operation == "iam:GetPolicy" or operation == "iam:GetPolicyVersion":
        return f"iam.{kebab}.{params['PolicyArn'].rsplit('/', 1)[-1]}.json"
    for key in ("ChildId", "TargetId", "PolicyId"):
        if key in params:
            return f"{service}.{kebab}.{params[key]}.json"
    return f"{service}.{kebab}.json"


def cli_folder(sim, evidence, folder: Path) -> Path:
    env = sim.process_environ_without_aws() | sim.environ(evidence.region)
    folder.mkdir()
    commands: dict[str, tuple[str, list[str]]] = {}
    for call in evidence.calls:  # the first call of each document (later ones fetch further pages)
        argv = shlex.split(cli_command(call["operation"], call["params"], evidence.region))
        commands.setdefault(file_for(call), (call["operation"], argv))
    # the look-back for changes (contracts.md 3a): each in its own Region (IAM's in us-east-1), as the checklist asks
    for command in checklist(evidence.documents, evidence.instance_id, evidence.region):
        if command.file_name.startswith("cloudtrail.lookup-events.change-"):
            commands[command.file_name] = (command.call, list(command.argv[:-2]))  # without "--output json"

    def run(item: tuple[str, tuple[str, list[str]]]) -> None:
        name, (operation, argv) = item
        result = subprocess.run([str(AWS_CLI), *argv[1:], "--output", "json"], env=env, capture_output=True,
                                text=True, timeout=180, check=False)
        if operation == "kms:DescribeKey" and result.returncode == 0:  # an alias: named by the key it names
            name = f"kms.describe-key.{json.loads(result.stdout)['KeyMetadata']['KeyId']}.json"
        if name not in evidence.documents:
            return  # the call's answer was a gap live, and the CLI is refused the same way
        assert result.returncode == 0, (argv, result.stderr)
        (folder / name).write_text(result.stdout)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, sorted(commands.items())))
    return folder


@pytest.fixture(scope="module")
def sources(sim, tmp_path_factory) -> dict[str, dict[str, Frames]]:
    out: dict[str, dict[str, Frames]] = {}
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("AWS_") and n != AWSCLI_DATA]:
            patch.delenv(name)
        for name, value in sim.environ().items():
            patch.setenv(name, value)
        for scenario in SCENARIOS:
            seeded = sim.scenario(scenario)
            live = collect_live(seeded.instance_id, seeded.region)
            base = tmp_path_factory.mktemp(scenario)
            bundle = write_bundle(live, base / "bundle")
            cli = cli_folder(sim, live, base / "cli")
            out[scenario] = {
                "live": build_frames(live),
                "bundle": build_frames(load_evidence(f"bundle:{bundle}", seeded.instance_id, seeded.region)),
                "cli": build_frames(load_evidence(f"cli:{cli}", seeded.instance_id, seeded.region)),
            }
    return out


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("source", ["bundle", "cli"])
def test_frames_equal_across_sources(sources, scenario, source):
    live, other = sources[scenario]["live"], sources[scenario][source]
    assert (other.instance_id, other.region, other.account_id) == (live.instance_id, live.region, live.account_id)
    for name in Frames.frame_names():
        pd.testing.assert_frame_equal(getattr(other, name), getattr(live, name), obj=f"{scenario} {source} {name}")
    assert len(live.volumes) + len(live.snapshots) > 0 and len(live.events) > 0
