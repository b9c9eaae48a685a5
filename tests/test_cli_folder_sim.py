"""A genuine cli: folder: the real AWS CLI (`.venv/bin/aws`) run against the simulated account, with the
commands `kit.collect.cli_commands` gives; then the same frames from cli:, live and bundle: sources."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from kit.collect import load_evidence
from kit.collect.bundle import write_bundle
from kit.collect.cli_commands import checklist, cli_commands
from kit.collect.cli_folder import load_cli_folder, read_json_file
from kit.frames import Frames, build_frames, key_policy_document, policy_documents_for

AWS_CLI = Path(sys.executable).with_name("aws")
MAX_ROUNDS = 8  # the organization chain and the chains an account was moved from are read round by round


def run_checklist(sim, instance_id: str, region: str, folder: Path) -> dict[str, str]:
    """Run the checklist's commands until it asks for nothing new, as a customer would; returns the stderr
    of the commands that failed, by file name (their files are not written)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(sim.environ(region))
    folder.mkdir(parents=True, exist_ok=True)
    attempted: set[str] = set()
    failed: dict[str, str] = {}
    for _ in range(MAX_ROUNDS):
        documents = {p.name: read_json_file(p) for p in folder.glob("*.json")}
        todo = [c for c in checklist(documents, instance_id, region) if c.file_name not in attempted]
        if not todo:
            # what the final checklist no longer asks for (KMS events at large, fetched while no key was
            # known) goes: the folder is what running the whole checklist at once would give
            wanted = {c.file_name for c in checklist(documents, instance_id, region)}
            for path in folder.glob("*.json"):
                if path.name not in wanted:
                    path.unlink()
            return failed
        for command in todo:
            attempted.add(command.file_name)
            result = subprocess.run([str(AWS_CLI), *command.argv[1:]], env=env, capture_output=True, text=True,
                                    timeout=300, check=False)
            if result.returncode == 0:
                (folder / command.file_name).write_text(result.stdout, encoding="utf-8")
            else:
                failed[command.file_name] = result.stderr.strip()
    raise AssertionError(f"the checklist still asks for more after {MAX_ROUNDS} rounds")


@pytest.fixture(scope="module")
def seed_cli(sim, tmp_path_factory):
    seed = sim.scenario("seed")
    folder = tmp_path_factory.mktemp("cli") / "seed"
    failed = run_checklist(sim, seed.instance_id, seed.region, folder)
    return seed, folder, failed


def test_real_cli_folder_loads(seed_cli):
    seed, folder, failed = seed_cli
    key_id = seed.expected["key_arn"].rsplit("/", 1)[-1]
    written = {p.name for p in folder.iterdir()}
    for name in ("ec2.describe-instances.json", "ec2.describe-volumes.json", f"kms.describe-key.{key_id}.json",
                 f"kms.get-key-policy.{key_id}.json", f"kms.list-grants.{key_id}.json", "kms.list-aliases.json",
                 f"cloudtrail.lookup-events.{seed.instance_id}.json", f"cloudtrail.lookup-events.{key_id}.json",
                 "iam.get-account-authorization-details.json", "sts.get-caller-identity.json"):
        assert name in written, (name, failed.get(name))
    evidence = load_cli_folder(folder)  # instance and Region from the files themselves
    assert (evidence.instance_id, evidence.region) == (seed.instance_id, seed.region)
    assert set(evidence.documents) == written
    # what could not be fetched is a gap naming the command, nothing else is
    assert {g.next_step.split(" > ")[1] for g in evidence.gaps} == set(failed)
    assert all(g.error == "missing" for g in evidence.gaps)


def test_real_cli_folder_frames_tell_the_seed_story(seed_cli):
    seed, folder, _ = seed_cli
    frames = build_frames(load_cli_folder(folder))
    frames.validate()
    instance = frames.instances.iloc[0]
    assert instance["state"] == "stopped" and instance["state_reason_code"] == "Client.InternalError"
    volume = frames.volumes[frames.volumes["instance_id"] == seed.instance_id].iloc[0]
    assert volume["key_arn"] == seed.expected["key_arn"]
    key = frames.keys.set_index("key_arn").loc[seed.expected["key_arn"]]
    assert key["key_manager"] == "CUSTOMER" and key["key_state"] == "Enabled"
    assert key_policy_document(frames, seed.expected["key_arn"])["Statement"][0]["Sid"] == "Enable IAM User Permissions"
    grants = frames.events[(frames.events["event_name"] == "CreateGrant") & frames.events["error_code"].notna()]
    mine = grants[grants["instance_ids"].map(lambda ids: seed.instance_id in ids)]
    assert len(mine) >= 1
    event = mine.iloc[0]
    assert event["principal_arn"] == seed.expected["principal_arn"]
    assert seed.expected["key_arn"] in event["key_arns"]
    assert volume["volume_id"] in event["volume_ids"]
    assert str(frames.events["event_time"].dtype) == "datetime64[ns, UTC]"
    policies = policy_documents_for(frames, seed.expected["principal_arn"])
    assert [p.name for p in policies.identity] == ["inline:ec2-full-access"]


def trails_listed(documents):
    from kit.collect.cli_commands import trails_listed as listed

    return listed(documents)


def mirror_live(sim, live, folder: Path) -> dict[str, str]:
    """The cli: folder a customer would paste for the same queries the live collection made: for every
    document live wrote, the contract's AWS CLI command (same ids, same CloudTrail windows) run with the
    real AWS CLI. Returns the stderr of commands that failed, by file name."""
    documents = live.documents
    instance = documents["ec2.describe-instances.json"]["Reservations"][0]
    tags = {t["Key"]: t["Value"] for t in instance["Instances"][0].get("Tags") or []}
    key_arns = [d["KeyMetadata"]["Arn"] for n, d in documents.items() if n.startswith("kms.describe-key.")]
    commands = {c.file_name: c for c in cli_commands(
        live.instance_id, live.region, key_arns, account_id=instance.get("OwnerId"),
        image_ids=[i["ImageId"] for i in (documents.get("ec2.describe-images.json") or {}).get("Images") or []],
        snapshot_ids=[x["SnapshotId"] for x in (documents.get("ec2.describe-snapshots.json") or {}).get("Snapshots") or []],
        autoscaling_group=tags.get("aws:autoscaling:groupName"),
        scp_targets=[n.split(".")[2] for n in documents if n.startswith("organizations.list-policies-for-target.")],
        scp_policy_ids=[n.split(".")[2] for n in documents if n.startswith("organizations.describe-policy.")],
        kms_events=True, trails=trails_listed(documents))}
    lookups = lookup_calls(live)
    # the look-back for changes (contracts.md 3a), each in its own Region (IAM's in us-east-1), as the checklist asks
    lookups.update({c.file_name: list(c.argv) for c in checklist(documents, live.instance_id, live.region)
                    if c.file_name.startswith("cloudtrail.lookup-events.change-")})
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(sim.environ(live.region))
    folder.mkdir(parents=True, exist_ok=True)
    failed: dict[str, str] = {}
    for name in documents:
        if name.startswith("cloudtrail.lookup-events."):
            argv = lookups[name]  # the query live made, as the AWS CLI takes it
        else:
            assert name in commands, f"no contract command gives {name}"
            argv = list(commands[name].argv)
        result = subprocess.run([str(AWS_CLI), *argv[1:]], env=env, capture_output=True, text=True, timeout=300,
                                check=False)
        if result.returncode == 0:
            (folder / name).write_text(result.stdout, encoding="utf-8")
        else:
            failed[name] = result.stderr.strip()
    return failed


def lookup_calls(live) -> dict[str, list[str]]:
    """`aws cloudtrail lookup-events ...` for every LookupEvents query live recorded, by the file it fills
    (qualifiers as live names them: the instance id, a key id, `kms`, a role name)."""
    out: dict[str, list[str]] = {}
    for call in live.calls:
        params = call["params"]
        if call["operation"] != "cloudtrail:LookupEvents" or "NextToken" in params:
            continue
        [attribute] = params["LookupAttributes"]
        key, value = attribute["AttributeKey"], attribute["AttributeValue"]
        if key == "EventSource":
            qualifier = "kms"
        elif ":key/" in value or ":role/" in value:
            qualifier = value.rsplit("/", 1)[-1]
        else:
            qualifier = value
        out[f"cloudtrail.lookup-events.{qualifier}.json"] = [
            "aws", "cloudtrail", "lookup-events", "--lookup-attributes", f"AttributeKey={key},AttributeValue={value}",
            "--start-time", params["StartTime"], "--end-time", params["EndTime"], "--region", live.region,
            "--output", "json"]
    return out


# The seed; a cross-account key (its policy unreadable); an Auto Scaling launch whose volumes are gone (AMI,
# snapshots, the default key, scaling activities); a role session created with a session policy.
@pytest.mark.parametrize("scenario", ["seed", "cross-account-key", "autoscaling-slr", "session-policy"])
def test_same_frames_from_cli_live_and_bundle(sim, sim_env, tmp_path, scenario):
    seeded = sim.scenario(scenario)
    live = load_evidence("live", seeded.instance_id, seeded.region)
    failed = mirror_live(sim, live, tmp_path / "cli")
    assert not failed
    from_cli = build_frames(load_evidence(f"cli:{tmp_path / 'cli'}", seeded.instance_id, seeded.region))
    from_live = build_frames(live)
    bundle = write_bundle(live, tmp_path / "bundle")
    from_bundle = build_frames(load_evidence(f"bundle:{bundle}", seeded.instance_id, seeded.region))
    assert len(from_live.events) > 0 and len(from_live.instances) == 1
    for name in Frames.frame_names():
        pd.testing.assert_frame_equal(getattr(from_bundle, name), getattr(from_live, name), obj=f"bundle {name}")
        pd.testing.assert_frame_equal(getattr(from_cli, name), getattr(from_live, name), obj=f"cli {name}")
    if scenario == "cross-account-key":
        assert seeded.expected["key_arn"] in set(from_cli.keys["key_arn"])
        assert not bool(from_cli.keys.set_index("key_arn").loc[seeded.expected["key_arn"], "policy_available"])
    if scenario == "autoscaling-slr":
        assert len(from_cli.autoscaling_activities) > 0 and len(from_cli.images) > 0
    if scenario == "session-policy":  # the launching session's creating event was looked up by role ARN
        assert "cloudtrail.lookup-events.github-actions-deploy.json" in live.documents


def test_checklist_folder_of_other_scenarios_loads(sim, tmp_path):
    """The checklist, run to its end, on a cross-account key: the refused key policy read is the one gap."""
    seeded = sim.scenario("cross-account-key")
    failed = run_checklist(sim, seeded.instance_id, seeded.region, tmp_path / "cli")
    evidence = load_cli_folder(tmp_path / "cli")
    assert {g.next_step.split(" > ")[1] for g in evidence.gaps} == set(failed)
    key_arn = seeded.expected["key_arn"]
    assert key_arn.split(":")[4] != seeded.account_id
    assert [g.call for g in evidence.gaps if key_arn in (g.next_step or "")] == ["kms:GetKeyPolicy"]
    frames = build_frames(evidence)
    assert key_arn in set(frames.keys["key_arn"])


def test_same_frames_from_live_and_bundle_in_every_scenario(sim, sim_env, tmp_path):
    assert len(sim.seeded) >= 20
    for seeded in sim.seeded:
        live = load_evidence("live", seeded.instance_id, seeded.region)
        bundle = write_bundle(live, tmp_path / seeded.name / seeded.instance_id)
        loaded = load_evidence(f"bundle:{bundle}", seeded.instance_id, seeded.region)
        assert loaded.documents == live.documents and loaded.gaps == live.gaps
        from_live, from_bundle = build_frames(live), build_frames(loaded)
        for name in Frames.frame_names():
            pd.testing.assert_frame_equal(getattr(from_bundle, name), getattr(from_live, name),
                                          obj=f"{seeded.name} {name}")
