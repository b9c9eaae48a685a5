"""`kit batch` end to end: a small fleet in two Regions and two accounts, one broken parameter file and
one missing instance, run with the real notebook against the simulated account over HTTP.
"""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import jsonschema
import nbformat
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("batch-fleet")]

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "kit/report/findings.schema.json").read_text())
ROLE = "OrganizationAccountAccessRole"
VERDICT = ("cause", "denied_by", "principal_arn", "key_arn", "confidence", "summary")
FLEET = (("seed", "eu-north-1", "123456789012"), ("key-disabled", "eu-north-1", "444455556666"),
         ("seed", "us-west-2", "444455556666"), ("key-pending-deletion", "us-west-2", "123456789012"))
BROKEN = "bad<b>name.yaml"  # a file name with markup: the index and the failure report must escape it


class _Page(HTMLParser):
    """Rows (cells' text) and links of index.html; scripts and external references."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self.headers: list[str] = []
        self.external: list[str] = []
        self.scripts = 0
        self._cell: list[str] | None = None
        self._in_header = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []
            self._in_header = tag == "th"
        if tag == "a":
            self.links.append(attrs["href"])
        if tag == "script":
            self.scripts += 1
            if attrs.get("src"):
                self.external.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.external.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            (self.headers if self._in_header else self.rows[-1]).append(text)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def batch(sim, tmp_path_factory):
    """Seed the fleet, write its parameter files (plus a broken one and a missing instance), run kit batch."""
    seeded = [sim.seed(name, region=region, account_id=account) for name, region, account in FLEET]
    folder = tmp_path_factory.mktemp("params")
    files = []
    for number, item in enumerate(seeded):
        path = folder / f"incident-{number}.yaml"
        role = f"role_arn: arn:aws:iam::{item.account_id}:role/{ROLE}\n" if item.account_id != "123456789012" else ""
        path.write_text(f"instance_id: {item.instance_id}\nregion: {item.region}\n{role}")
        files.append(path)
    broken = folder / BROKEN
    broken.write_text("instance_id: i-0123456789abcdef0\nregoin: eu-north-1\n")  # misspelt parameter
    missing = folder / "missing.yaml"
    missing.write_text("instance_id: i-0fffffffffffffff0\nregion: eu-north-1\n")
    empty = tmp_path_factory.mktemp("empty-cli")  # a cli: folder without describe-instances: the cell raises
    raises = folder / "raises.yaml"
    raises.write_text(f"instance_id: i-0eeeeeeeeeeeeeee0\nregion: eu-north-1\nsource: 'cli:{empty}'\n")
    files[2:2] = [broken]
    files[4:4] = [raises]
    files.append(missing)
    out = tmp_path_factory.mktemp("batch")
    env = {**sim.process_environ_without_aws(), **sim.environ()}
    result = subprocess.run([sys.executable, "-m", "kit", "batch", *map(str, files), "--out", str(out), "--jobs", "2"],
                            env=env, capture_output=True, text=True, timeout=600)
    return {"result": result, "out": out, "files": files, "seeded": seeded,
            "summary": json.loads((out / "summary.json").read_text())}


def test_every_usable_incident_is_reported_and_the_failures_are_listed(batch) -> None:
    result, summary = batch["result"], batch["summary"]
    assert result.returncode == 0, result.stderr[-3000:]
    entries = summary["incidents"]
    assert [e["params_file"] for e in entries] == [str(p) for p in batch["files"]]
    assert summary["counts"] == {"incidents": 7, "ok": 4, "failed": 3}
    for entry, seeded in zip([e for e in entries if e["status"] == "ok"], batch["seeded"]):
        assert entry["instance_id"] == seeded.instance_id
        assert entry["account_id"] == seeded.account_id and entry["region"] == seeded.region
        for name in ("cause", "denied_by", "principal_arn", "key_arn"):
            assert entry[name] == seeded.expected[name], (seeded.name, name)
        assert entry["error"] is None

    broken = next(e for e in entries if e["params_file"].endswith(BROKEN))
    assert broken["status"] == "failed" and "regoin" in broken["error"]
    page = (batch["out"] / broken["report"]).read_text()
    assert "regoin" in page and "bad&lt;b&gt;name.yaml" in page and "<b>name" not in page

    missing = next(e for e in entries if e["params_file"].endswith("missing.yaml"))
    assert missing["status"] == "failed"
    assert "InvalidInstanceID.NotFound" in missing["error"]
    assert (batch["out"] / missing["report"]).is_file()
    assert "missing.yaml: failed" in result.stderr and f"{BROKEN}: failed" in result.stderr

    raised = next(e for e in entries if e["params_file"].endswith("raises.yaml"))
    assert raised["status"] == "failed" and raised["error"].startswith("BadInput")
    assert "ec2.describe-instances.json" in raised["error"]
    assert raised["cause"] == "undetermined"  # the notebook's failure findings, with the error as a gap
    assert "did not finish" in (batch["out"] / raised["report"]).read_text()


def test_summary_agrees_with_each_findings_json(batch) -> None:
    out = batch["out"]
    for entry in batch["summary"]["incidents"]:
        if entry["findings"] is None:  # the broken parameter file: nothing was investigated
            assert entry["status"] == "failed" and entry["cause"] is None
            continue
        findings = json.loads((out / entry["findings"]).read_text())
        jsonschema.validate(findings, SCHEMA)
        assert (out / entry["out_dir"]) == (out / entry["findings"]).parent
        assert entry["instance_id"] == findings["instance_id"] and entry["region"] == findings["region"]
        assert entry["account_id"] == findings["account_id"]
        assert {k: entry[k] for k in VERDICT} == {k: findings["verdict"][k] for k in VERDICT}


def test_index_links_resolve_and_it_works_offline(batch) -> None:
    out = batch["out"]
    html = (out / "index.html").read_text()
    page = _Page()
    page.feed(html)
    assert page.headers[:5] == ["Incident time", "Instance", "Name", "Account", "Region"]
    assert {"Investigation", "Verdict", "Cause", "Principal", "Key", "Fix owner", "Fix verified", "Confidence",
            "Group", "Report"} <= set(page.headers)
    body = [row for row in page.rows if row]
    assert len(body) == 7
    assert len(page.links) == 7
    for href in page.links:
        assert not urlparse(href).scheme and not href.startswith("/")
        target = (out / unquote(href)).resolve()
        assert target.is_file() and out.resolve() in target.parents
    reports = {(out / e["report"]).resolve() for e in batch["summary"]["incidents"]}
    assert {(out / unquote(h)).resolve() for h in page.links} == reports
    assert page.scripts == 1 and not page.external  # sorting is inline; nothing is fetched
    assert "<b>name" not in html
    causes = {row[page.headers.index("Cause")] for row in body}
    assert {s.expected["cause"] for s in batch["seeded"]} <= causes


def test_each_incident_ran_in_a_fresh_kernel_on_shared_evidence(batch) -> None:
    out, summary = batch["out"], batch["summary"]
    ran = [e for e in summary["incidents"] if e["notebook"]]
    assert len(ran) == 6
    for entry in ran:
        nb = nbformat.read(str(out / entry["notebook"]), as_version=4)
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code" and c.execution_count]
        assert counts and counts[0] == 1  # a kernel that ran another incident before would count on
        if entry["params_file"].endswith("raises.yaml"):  # reads its own cli: folder
            assert not entry["notes"]
            continue
        assert any(n.startswith("evidence: bundle:") for n in entry["notes"]), entry["notes"]
        assert (out / entry["out_dir"] / "evidence" / "manifest.json").is_file()
    shared = summary["shared_evidence"]
    assert shared["incidents_collected"] == 5
    assert shared["calls_shared"] > 0 and shared["credentials"] == 2


def test_no_usable_parameter_file_exits_2_with_an_index(sim, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- not\n- a mapping\n")
    out = tmp_path / "out"
    env = {**sim.process_environ_without_aws(), **sim.environ()}
    result = subprocess.run([sys.executable, "-m", "kit", "batch", str(bad), str(tmp_path / "absent.yaml"),
                             "--out", str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "no parameter file was usable" in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [e["status"] for e in summary["incidents"]] == ["failed", "failed"]
    assert "a YAML mapping" in summary["incidents"][0]["error"]
    assert "readable" in summary["incidents"][1]["error"]
    assert (out / "index.html").is_file()
