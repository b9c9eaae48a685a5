"""`kit scan` over a fleet seeded in two Regions of two accounts, against the simulated account over HTTP.

The oracle is the simulator's own record of what it seeded: every instance whose expected verdict is a
launch failure, in the scanned accounts and Regions, and nothing else (not the instance a user stopped,
not the healthy one, not the seeder's running bastions).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from kit.batch.incidents import read_parameter_file
from kit.batch.scan import ScanRequest, scan
from kit.causes import causes_of_kind

pytestmark = pytest.mark.xdist_group("batch-fleet")

REGIONS = ("ap-southeast-2", "ca-central-1")  # Regions no other test seeds into
ACCOUNTS = ("123456789012", "444455556666")
ROLE = "OrganizationAccountAccessRole"
NOT_FAILED = causes_of_kind("not-a-failure")
# (scenario, Region, account): four launch failures (one per pair, KMS and non-KMS), two lookalikes
FLEET = (
    ("seed", REGIONS[0], ACCOUNTS[0]),
    ("key-disabled", REGIONS[1], ACCOUNTS[0]),
    ("volume-limit", REGIONS[0], ACCOUNTS[1]),
    ("seed", REGIONS[1], ACCOUNTS[1]),
    ("user-stop", REGIONS[0], ACCOUNTS[0]),
    ("healthy-running", REGIONS[1], ACCOUNTS[1]),
)


@pytest.fixture(scope="module")
def fleet(sim):
    """The fleet seeded into the shared simulated account; returns the SeededScenario of each."""
    return [sim.seed(name, region=region, account_id=account) for name, region, account in FLEET]


def _expected(sim, regions=REGIONS, accounts=ACCOUNTS) -> set[str]:
    return {s.instance_id for s in sim.seeded
            if s.region in regions and s.account_id in accounts and s.expected["cause"] not in NOT_FAILED}


def _scan(sim, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**sim.process_environ_without_aws(), **sim.environ()}
    return subprocess.run([sys.executable, "-m", "kit", "scan", *args, "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=300)


def test_scan_finds_exactly_the_failed_instances_across_regions_and_accounts(sim, fleet, tmp_path) -> None:
    regions = [a for r in REGIONS for a in ("--region", r)]
    accounts = [a for acc in ACCOUNTS for a in ("--account", acc)]
    result = _scan(sim, tmp_path, *regions, *accounts, "--role-name", ROLE)
    assert result.returncode == 0, result.stderr

    expected = _expected(sim)
    assert len(expected) == 4  # the fleet's four launch failures, nothing else in these Regions
    summary = json.loads((tmp_path / "scan-summary.json").read_text())
    found = {i["instance_id"] for i in summary["instances"]}
    assert found == expected
    assert {t["status"] for t in summary["targets"]} == {"ok"}
    assert {(t["account_id"], t["region"]) for t in summary["targets"]} == {(a, r) for a in ACCOUNTS for r in REGIONS}

    files = sorted(tmp_path.glob("*.yaml"))
    assert len(files) == len(expected)
    by_instance = {s.instance_id: s for s in fleet}
    for path in files:
        params = read_parameter_file(path)  # exactly what `kit batch` will accept
        seeded = by_instance[params.instance_id]
        assert params.region == seeded.region
        assert params.role_arn == f"arn:aws:iam::{seeded.account_id}:role/{ROLE}"
        assert set(yaml.safe_load(path.read_text())) <= {"instance_id", "region", "role_arn"}
        assert path.name == f"{seeded.account_id}-{seeded.region}-{seeded.instance_id}.yaml"
    entry = next(i for i in summary["instances"] if by_instance[i["instance_id"]].name == "volume-limit")
    assert (entry["kind"], entry["cause"]) == ("cause", "volume-limit-exceeded")


def test_an_unreadable_region_is_reported_and_skipped(sim, fleet, tmp_path) -> None:
    # moto has no backend for a Region it does not know: DescribeInstances fails there, as it does in
    # AWS for a Region that is not enabled. The other pairs are scanned and written all the same.
    result = _scan(sim, tmp_path, "--region", REGIONS[0], "--region", "eu-fake-9",
                   "--account", ACCOUNTS[0], "--account", ACCOUNTS[1], "--role-name", ROLE)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "scan-summary.json").read_text())
    skipped = {(t["account_id"], t["region"]) for t in summary["skipped"]}
    assert skipped == {(ACCOUNTS[0], "eu-fake-9"), (ACCOUNTS[1], "eu-fake-9")}
    assert all(t["error"] and t["status"] == "failed" for t in summary["skipped"])
    assert "skipped account" in result.stderr and "eu-fake-9" in result.stderr
    assert {i["instance_id"] for i in summary["instances"]} == _expected(sim, regions=(REGIONS[0],))
    assert len(list(tmp_path.glob("*.yaml"))) == 2


def test_since_and_until_keep_only_failures_in_the_time_range(sim, fleet, sim_env) -> None:
    failures = [s for s in fleet if s.expected["cause"] not in NOT_FAILED]
    times = sorted({s.launched_at for s in failures})
    assert len(times) >= 2  # the seeder spaces launches apart

    def found(**window: str) -> set[str]:
        request = ScanRequest.from_args(regions=list(REGIONS), accounts=list(ACCOUNTS), role_name=ROLE, **window)
        return {f.instance_id for f in scan(request).instances}

    cut = times[1]  # the oldest failure(s) drop out, the newer ones stay
    newer = found(since=cut.isoformat())
    assert newer == {s.instance_id for s in failures if s.launched_at >= cut}
    assert not any(s.instance_id in newer for s in failures if s.launched_at == times[0])

    until = times[-2]
    assert found(since=times[0].isoformat(), until=until.isoformat()) == \
        {s.instance_id for s in failures if s.launched_at <= until}
    assert found(since=(times[-1] + timedelta(seconds=1)).isoformat()) == set()


def test_a_new_scan_replaces_the_previous_parameter_files(sim, fleet, tmp_path) -> None:
    accounts = [a for acc in ACCOUNTS for a in ("--account", acc)]
    assert _scan(sim, tmp_path, "--region", REGIONS[0], "--region", REGIONS[1], *accounts,
                 "--role-name", ROLE).returncode == 0
    (tmp_path / "notes.yaml").write_text("mine: true\n")  # not the scan's: stays
    assert _scan(sim, tmp_path, "--region", REGIONS[1], *accounts, "--role-name", ROLE).returncode == 0
    names = {p.name for p in tmp_path.glob("*.yaml")}
    assert names == {"notes.yaml"} | {f"{s.account_id}-{s.region}-{s.instance_id}.yaml" for s in fleet
                                      if s.region == REGIONS[1] and s.expected["cause"] not in NOT_FAILED}


@pytest.mark.parametrize(("args", "field"), [
    (["--region", "eu-west-1", "--account", "123456789012"], "--role-name"),
    (["--region", "eu-west-1", "--role-name", ROLE], "--account"),
    (["--region", "eu-west-1", "--account", "12345", "--role-name", ROLE], "--account"),
    (["--region", "Europe", ], "--region"),
    (["--region", "eu-west-1", "--since", "last tuesday"], "--since"),
    (["--region", "eu-west-1", "--since", "2024-05-02", "--until", "2024-05-01"], "--until"),
])
def test_bad_options_exit_2_naming_the_option(sim, tmp_path, args, field) -> None:
    result = _scan(sim, tmp_path, *args)
    assert result.returncode == 2
    assert f"error: {field}: expected" in result.stderr
    assert not list(tmp_path.glob("*.yaml"))
