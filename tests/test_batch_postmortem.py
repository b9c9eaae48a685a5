"""The batch as a postmortem, end to end on the simulated account over HTTP: the outage scenario (one SCP
attached by Terraform in the management account breaks launches in two accounts and two Regions) found by
`kit scan`, investigated by `kit batch`, read back as groups, exports, the postmortem notebook (papermill,
headless) and `kit postmortem DIR`.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from kit.postmortem.exports import FORMULA_STARTS
from kit.simulate.organization import change_reader_arn
from kit.simulate.world import MANAGEMENT_ACCOUNT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("batch-postmortem")]

SCENARIO = "outage-scp-two-accounts"
REGIONS = ("ap-northeast-2", "ap-south-1")  # the scenario's Regions; no other test seeds into them
ACCOUNTS = ("123456789012", "444455556666")
ROLE = "OrganizationAccountAccessRole"
ORG_ROLE = change_reader_arn()  # the management account's read-only role (kit.simulate.organization)
ROOT = Path(__file__).resolve().parents[1]


class _Blocks(HTMLParser):
    """index.html's group blocks (their text) and the incident table's headers."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[list[str]] = []
        self.headers: list[str] = []
        self._in_group = 0
        self._in_th = False

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class") or ""
        if tag == "section" and "kit-group" in classes.split():
            self.groups.append([])
            self._in_group = 1
        elif tag == "section" and self._in_group:
            self._in_group += 1
        self._in_th = tag == "th"

    def handle_endtag(self, tag):
        if tag == "section" and self._in_group:
            self._in_group -= 1
        if tag == "th":
            self._in_th = False

    def handle_data(self, data):
        if self._in_group:
            self.groups[-1].append(data)
        if self._in_th:
            self.headers.append(data.strip())


def _kit(sim, *args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {**sim.process_environ_without_aws(), **sim.environ()}
    return subprocess.run([sys.executable, "-m", "kit", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def outage(sim, tmp_path_factory):
    """kit scan over the scenario's accounts and Regions, then kit batch on the parameter files it wrote."""
    seeded = [s for s in sim.seeded if s.name == SCENARIO]
    params = tmp_path_factory.mktemp("outage-params")
    regions = [a for r in REGIONS for a in ("--region", r)]
    accounts = [a for acc in ACCOUNTS for a in ("--account", acc)]
    scan = _kit(sim, "scan", *regions, *accounts, "--role-name", ROLE, "--out", str(params))
    assert scan.returncode == 0, scan.stderr[-3000:]
    files = sorted(params.glob("*.yaml"))
    out = tmp_path_factory.mktemp("outage-batch")
    batch = _kit(sim, "batch", *map(str, files), "--out", str(out), "--jobs", "2")
    assert batch.returncode == 0, batch.stderr[-3000:]
    return {"seeded": seeded, "files": files, "out": out, "stdout": batch.stdout,
            "summary": json.loads((out / "summary.json").read_text())}


def test_scan_writes_one_parameter_file_per_failed_instance(outage) -> None:
    assert len(outage["seeded"]) == 4
    assert {(s.account_id, s.region) for s in outage["seeded"]} == {(a, r) for a in ACCOUNTS for r in REGIONS}
    assert len(outage["files"]) == 4
    assert outage["summary"]["counts"] == {"incidents": 4, "ok": 4, "failed": 0}


def test_the_outage_is_one_group_with_its_whole_blast_radius(outage) -> None:
    summary, seeded = outage["summary"], outage["seeded"]
    [group] = summary["groups"]
    assert group["count"] == 4 and sorted(group["incidents"]) == sorted(e["name"] for e in summary["incidents"])
    assert (group["cause"], group["denied_by"]) == ("kms-grant-denied", "scp")
    radius = group["blast_radius"]
    assert radius["instances"] == sorted(s.instance_id for s in seeded)
    assert radius["accounts"] == sorted(ACCOUNTS) and radius["regions"] == sorted(REGIONS)
    assert radius["principals"] == sorted({s.principal_arn for s in seeded})  # render-farm-worker in each account
    times = sorted(e["incident_time"] for e in summary["incidents"])
    assert (group["first_failure"], group["last_failure"]) == (times[0], times[-1]) and times[0] < times[-1]
    launched = {s.instance_id: s.launched_at for s in seeded}
    for entry in summary["incidents"]:  # the refused CreateGrant, seconds after the launch
        failed_at = pd.Timestamp(entry["incident_time"])
        assert pd.Timedelta(0) <= failed_at - pd.Timestamp(launched[entry["instance_id"]]) <= pd.Timedelta("1min")
        assert entry["instance_name"] and entry["instance_name"].startswith("render-node")
        assert entry["fix"]["owner"].startswith("Organizations administrators")
    fix = group["fix"]  # one edit of the same SCP (each incident's key carved out) resolves all four
    assert fix["layer"] == "scp" and fix["target"].startswith("p-") and fix["verified"] is True
    assert fix["resolves"] in ("all", "same-target")
    assert {e["fix"]["target"] for e in summary["incidents"]} == {fix["target"]}


def test_the_outage_group_says_where_its_scp_change_is_recorded(outage) -> None:
    """AWS records the SCP's AttachPolicy in the management account only; without access there (no
    --org-role-arn) live collection from the member accounts does not read it, so no change is named (never a
    guess), each incident's gap names the look-ups to run there, and the group block says where to look."""
    [group] = outage["summary"]["groups"]
    assert group["change"] is None
    assert all(e["change"] is None for e in outage["summary"]["incidents"])
    html = (outage["out"] / "index.html").read_text()
    assert "recorded in the organization's management account" in html
    assert "AttributeKey=EventSource,AttributeValue=organizations.amazonaws.com" in html
    for entry in outage["summary"]["incidents"]:
        findings = json.loads((outage["out"] / entry["name"] / "findings.json").read_text())
        [gap] = [g for g in findings["gaps"] if g["error"] == "ManagementAccountNotRead"]
        assert "--org-role-arn" in gap["impact"] and "--region us-east-1" in gap["impact"]


@pytest.fixture(scope="module")
def outage_with_org(sim, outage, tmp_path_factory):
    """kit batch on the same parameter files, with read-only access to the management account."""
    out = tmp_path_factory.mktemp("outage-batch-org")
    batch = _kit(sim, "batch", *map(str, outage["files"]), "--out", str(out), "--jobs", "2",
                 "--org-role-arn", ORG_ROLE)
    assert batch.returncode == 0, batch.stderr[-3000:]
    return {"out": out, "summary": json.loads((out / "summary.json").read_text())}


def test_with_management_access_the_outage_is_one_group_naming_the_attach(sim, outage_with_org) -> None:
    """With --org-role-arn the look-ups run where AWS records SCP changes: the four incidents name the same
    AttachPolicy event (who, when), so the batch is ONE group led by that change, and its fix edits that SCP."""
    summary = outage_with_org["summary"]
    assert summary["counts"] == {"incidents": 4, "ok": 4, "failed": 0}
    [group] = summary["groups"]
    change = group["change"]
    assert group["count"] == 4 and change["event_name"] == "AttachPolicy" and change["layer"] == "scp"
    assert change["principal_arn"] == f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:user/terraform-org-admin"
    assert {e["change"]["event_id"] for e in summary["incidents"]} == {change["event_id"]}
    launched = min(s.launched_at for s in sim.seeded if s.name == SCENARIO)
    assert pd.Timedelta(hours=23) < pd.Timestamp(launched) - pd.Timestamp(change["event_time"]) < pd.Timedelta(hours=25)
    findings = json.loads((outage_with_org["out"] / summary["incidents"][0]["name"] / "findings.json").read_text())
    attached = findings["verdict"]["change"]
    denies = lambda chain: {s.get("Sid") for level in chain for doc in level for s in doc["Statement"]}  # noqa: E731
    assert "DenyRenderFarmGrants" in denies(attached["after"]) - denies(attached["before"])
    assert not any(g["error"] == "ManagementAccountNotRead" for g in findings["gaps"])
    fix = group["fix"]  # the SCP the change attached is the one the fix edits (detach or narrow it)
    assert fix["layer"] == "scp" and fix["verified"] is True
    evidence = outage_with_org["out"] / summary["incidents"][0]["name"] / "evidence"  # the bundle kept
    records = [json.loads(e["CloudTrailEvent"]) for path in evidence.glob("cloudtrail.lookup-events.change-scp-*.json")
               for e in json.loads(path.read_text())["Events"]]
    [record] = {r["eventID"]: r for r in records if r["eventID"] == change["event_id"]}.values()
    assert fix["target"] == record["requestParameters"]["policyId"]
    html = (outage_with_org["out"] / "index.html").read_text()
    assert "AttachPolicy" in html and "terraform-org-admin" in html
    assert "run <code>" not in html  # the where-to-look hint is only for groups without a change


def test_scan_writes_the_management_role_into_every_parameter_file(sim, tmp_path) -> None:
    regions = [a for r in REGIONS for a in ("--region", r)]
    accounts = [a for acc in ACCOUNTS for a in ("--account", acc)]
    scan = _kit(sim, "scan", *regions, *accounts, "--role-name", ROLE, "--org-role-arn", ORG_ROLE,
                "--out", str(tmp_path))
    assert scan.returncode == 0, scan.stderr[-3000:]
    files = sorted(tmp_path.glob("*.yaml"))
    assert len(files) == 4 and all(f"org_role_arn: {ORG_ROLE}" in f.read_text() for f in files)
    bad = _kit(sim, "scan", *regions, "--org-role-arn", "arn:aws:iam::111122223333:user/not-a-role",
               "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "--org-role-arn" in bad.stderr


def test_index_opens_with_the_group_block_then_the_incident_table(outage) -> None:
    html = (outage["out"] / "index.html").read_text()
    page = _Blocks()
    page.feed(html)
    [block] = page.groups
    text = " ".join(" ".join(block).split())
    assert "4 instances" in text and "2 accounts (123456789012, 444455556666)" in text
    assert "2 Regions (ap-northeast-2, ap-south-1)" in text and "0 Auto Scaling groups" in text
    assert "owner: Organizations administrators" in text and "resolves the group" in text
    assert html.index('class="kit-group') < html.index('id="incidents"')
    assert page.headers[:5] == ["Incident time", "Instance", "Name", "Account", "Region"]
    assert html.count("Investigation done") == 4 and "Status" not in page.headers
    assert 'title="arn:aws:iam::444455556666:role/render-farm-worker"' in html and ">role/render-farm-worker<" in html
    assert 'id="filter"' in html and 'id="group-filter"' in html


def test_incidents_csv_loads_back_one_row_per_incident(outage) -> None:
    out, summary = outage["out"], outage["summary"]
    frame = pd.read_csv(out / "incidents.csv", dtype=str, keep_default_na=False)
    assert len(frame) == len(summary["incidents"]) == 4
    assert sorted(frame["instance_id"]) == sorted(e["instance_id"] for e in summary["incidents"])
    assert set(frame["account_id"]) == set(ACCOUNTS) and set(frame["group"]) == {"g1"}
    assert set(frame["cause"]) == {"kms-grant-denied"} and set(frame["fix_verified"]) <= {"True", "False"}
    with (out / "incidents.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            assert not any(cell.startswith(FORMULA_STARTS) for cell in row)


def test_timeline_jsonl_is_one_timesketch_event_per_line(outage) -> None:
    out, summary = outage["out"], outage["summary"]
    lines = (out / "timeline.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == len(lines) >= 3 * 4  # per incident at least its launch, the refused call, the state
    for event in events:
        assert {"message", "datetime", "timestamp_desc", "timestamp"} <= set(event)
        assert event["message"] and event["timestamp_desc"]
        assert pd.Timestamp(event["datetime"]).value // 1000 == event["timestamp"]
    assert [e["datetime"] for e in events] == sorted((e["datetime"] for e in events), key=pd.Timestamp)
    refused = [e for e in events if e.get("event_name") == "CreateGrant" and e.get("error_code")]
    assert sorted(e["instance_id"] for e in refused) == sorted(e["instance_id"] for e in summary["incidents"])
    frame = pd.read_json(out / "timeline.jsonl", lines=True)
    assert len(frame) == len(events)


def test_the_postmortem_notebook_runs_headless_with_papermill(outage, tmp_path) -> None:
    executed = tmp_path / "postmortem.ipynb"
    result = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "postmortem.ipynb"),
                             str(executed), "-p", "batch_dir", str(outage["out"]), "--no-progress-bar"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    nb = nbformat.read(str(executed), as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # failures over time per account
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    for heading in ("Impact", "Trigger", "Detection", "Fix"):
        assert f"<h3>{heading}</h3>" in html
    assert "4 instances failed to launch" in html and "2 accounts" in html


def test_kit_postmortem_writes_postmortem_html_without_code(sim, outage) -> None:
    result = _kit(sim, "postmortem", str(outage["out"]), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    page = outage["out"] / "postmortem.html"
    assert result.stdout.strip() == f"postmortem: {page}"
    html = page.read_text()
    assert "Postmortem.open" not in html and "batch_dir" not in html  # no code
    assert "data:image/png;base64," in html and "<h3>Impact</h3>" in html
    assert "4 instances failed to launch" in html


def test_kit_postmortem_names_a_folder_that_is_no_batch(sim, tmp_path) -> None:
    result = _kit(sim, "postmortem", str(tmp_path), timeout=120)
    assert result.returncode == 2
    assert "batch_dir" in result.stderr and "summary.json" in result.stderr
    assert not (tmp_path / "postmortem.html").exists()
