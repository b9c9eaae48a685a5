"""kit.postmortem on its own: grouping by change then cause, the spreadsheet-safe CSV, the Timesketch JSONL,
hostile strings (tags, change events) escaped in index.html and postmortem.html, and the shipped notebook
committed without outputs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from kit.batch.incidents import Outcome, load_incidents
from kit.batch.index import write_index
from kit.batch.summary import build_summary, write_summary
from kit.errors import BadInput
from kit.postmortem.batch import read_batch
from kit.postmortem.exports import FORMULA_STARTS, incidents_csv, spreadsheet_safe, timeline_jsonl
from kit.postmortem.groups import group_incidents
from kit.postmortem.names import short_name

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ('<img src=x onerror="alert(1)">', "<script>alert(1)</script>", "\"'><svg onload=alert(1)>")
FORMULAS = ("=HYPERLINK(\"http://x\",\"y\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\tx", "\rx")
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _change(event_id: str | None, summary: str = "SCP attached", who: str = "arn:aws:iam::111122223333:user/tf"):
    return {"event_id": event_id, "event_name": "AttachPolicy", "event_time": "2026-01-01T10:00:00Z",
            "principal_arn": who, "layer": "scp", "summary": summary}


def _entry(name: str, *, cause: str = "kms-grant-denied", denied_by: str | None = "scp", change=None,
           status: str = "ok", account: str = "123456789012", region: str = "eu-west-1", time: str = "2026-01-02T00:00:00Z"):
    return {"name": name, "status": status, "instance_id": f"i-{abs(hash(name)) % 16**17:017x}", "account_id": account,
            "region": region, "cause": cause if status == "ok" else None, "denied_by": denied_by, "change": change,
            "incident_time": time, "autoscaling_group": None, "principal_arn": None, "key_arn": None, "fix": None}


def test_incidents_of_one_change_event_are_one_group_whatever_their_account_and_region() -> None:
    entries = [_entry("a", change=_change("e-1")), _entry("b", change=_change("e-1"), account="444455556666",
                                                               region="us-west-2", time="2026-01-02T00:05:00Z"),
               _entry("c", change=_change("e-2")), _entry("d"), _entry("e", denied_by="identity-policy"),
               _entry("f", status="failed")]
    groups = group_incidents(entries)
    assert [g["incidents"] for g in groups] == [["a", "b"], ["c"], ["d"], ["e"], ["f"]]
    first = groups[0]
    assert first["change"]["event_id"] == "e-1" and first["id"] == "g1"
    assert first["blast_radius"]["accounts"] == ["123456789012", "444455556666"]
    assert first["blast_radius"]["regions"] == ["eu-west-1", "us-west-2"]
    assert (first["first_failure"], first["last_failure"]) == ("2026-01-02T00:00:00Z", "2026-01-02T00:05:00Z")
    assert groups[-1]["title"] == "Investigation failed" and groups[-1]["cause"] is None


def test_a_change_without_event_id_groups_by_name_time_and_who() -> None:
    entries = [_entry("a", change=_change(None)), _entry("b", change=_change(None)),
               _entry("c", change=_change(None, who="arn:aws:iam::111122223333:user/other"))]
    assert [g["incidents"] for g in group_incidents(entries)] == [["a", "b"], ["c"]]


def test_short_names_keep_the_part_a_person_recognises() -> None:
    assert short_name("arn:aws:iam::123456789012:role/path/to/batch-runner") == "role/batch-runner"
    assert short_name("arn:aws:sts::123456789012:assumed-role/r/session") == "assumed-role/r/session"
    assert short_name(KEY) == "key/1234abcd…"
    assert short_name("p-m6naq1f5") == "p-m6naq1f5" and short_name(None) == ""


@pytest.mark.parametrize("value", FORMULAS + ("\0x",))
def test_a_cell_that_a_spreadsheet_would_evaluate_gets_a_leading_quote(value: str) -> None:
    safe = spreadsheet_safe(value)
    assert safe == "'" + value and not safe.startswith(FORMULA_STARTS)


def test_plain_cells_are_unchanged() -> None:
    assert [spreadsheet_safe(v) for v in ("i-0abc", "kms-grant-denied", None, 3, True)] == [
        "i-0abc", "kms-grant-denied", "", "3", "True"]


def _batch_folder(tmp_path: Path, tags: tuple[str, ...]) -> Path:
    """A batch folder as kit batch writes it (summary.json, findings.json per incident, index.html), with
    hostile text in the Name tag, the verdict's change and the error of a failed incident."""
    params = tmp_path / "params"
    params.mkdir()
    files = []
    for number in range(len(tags)):
        path = params / f"incident-{number}.yaml"
        path.write_text(f"instance_id: i-{number:017x}\nregion: eu-west-1\n")
        files.append(path)
    out = tmp_path / "batch"
    outcomes = []
    for number, (incident, tag) in enumerate(zip(load_incidents(files, out), tags)):
        incident.out_dir.mkdir(parents=True)
        findings = {
            "schema": "kit.findings/1", "instance_id": f"i-{number:017x}", "region": "eu-west-1",
            "account_id": "123456789012",
            "verdict": {"cause": "kms-grant-denied", "denied_by": "scp",
                        "principal_arn": f"arn:aws:iam::123456789012:role/{tag}", "key_arn": KEY,
                        "confidence": "confirmed", "summary": f"summary {tag}",
                        "change": _change("e-1", summary=f"attached {tag}",
                                          who=f"arn:aws:iam::111122223333:user/{tag}")},
            "ruled_out": [], "steps": [], "gaps": [],
            "remediation": [{"kind": "iam-policy", "target": f"p-{tag}", "layer": "scp", "verified": True,
                             "title": f"SCP {tag}", "document": {"Version": "2012-10-17", "Statement": []}}],
            "incident": {"name": tag, "autoscaling_group": tag, "launched_at": "2026-01-02T00:00:00Z",
                         "failed_at": f"2026-01-02T00:00:0{number}Z",
                         "timeline": [{"time": f"2026-01-02T00:00:0{number}Z", "event_name": "CreateGrant",
                                       "kind": "kms", "error_code": "AccessDenied", "event_id": f"ev-{number}",
                                       "principal_arn": None, "label": f"CreateGrant refused {tag}"}]},
        }
        (incident.out_dir / "findings.json").write_text(json.dumps(findings))
        (incident.out_dir / "report.html").write_text("<html></html>")
        outcomes.append(Outcome(incident, "ok", findings=findings, findings_file=incident.out_dir / "findings.json",
                                report=incident.out_dir / "report.html"))
    summary = build_summary(outcomes, out)
    write_summary(summary, out)
    write_index(summary, out)
    return out


def test_exports_load_back_and_no_cell_starts_a_formula(tmp_path) -> None:
    batch = read_batch(_batch_folder(tmp_path, FORMULAS))
    text = incidents_csv(batch)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 1 + len(FORMULAS)
    assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert list(frame["instance_name"]) == ["'" + f for f in FORMULAS]  # the value, marked as text
    assert set(frame["change_event"]) == {"AttachPolicy"} and set(frame["group"]) == {"g1"}
    lines = timeline_jsonl(batch).splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == len(FORMULAS) + 1  # each incident's refused call, plus the one change
    assert [e["kind"] for e in events][0] == "change"
    assert all({"message", "datetime", "timestamp_desc"} <= set(e) for e in events)


def test_hostile_strings_are_escaped_in_index_html(tmp_path) -> None:
    out = _batch_folder(tmp_path, HOSTILE)
    html = (out / "index.html").read_text()
    for hostile in HOSTILE:
        assert hostile not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script>") == 1  # the page's own
    assert "attached &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    [group] = json.loads((out / "summary.json").read_text())["groups"]
    assert group["blast_radius"]["autoscaling_groups"] == sorted(HOSTILE) and "3 Auto Scaling groups" in html
    assert group["fix"]["resolves"] == "first" and group["fix"]["distinct_fixes"] == 3  # three SCPs


@pytest.mark.slow
def test_hostile_strings_are_escaped_in_postmortem_html(tmp_path) -> None:
    from kit.postmortem.run import run_postmortem

    out = _batch_folder(tmp_path, HOSTILE)
    page = run_postmortem(out)
    html = page.read_text()
    for hostile in HOSTILE:
        assert hostile not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<h3>Trigger</h3>" in html and "AttachPolicy" in html


def test_read_batch_names_batch_dir_and_skips_broken_findings(tmp_path) -> None:
    with pytest.raises(BadInput, match="batch_dir"):
        read_batch(tmp_path)
    out = _batch_folder(tmp_path, ("a", "b"))
    first = json.loads((out / "summary.json").read_text())["incidents"][0]
    (out / first["findings"]).write_text("{not json")
    batch = read_batch(out)
    assert len(batch.findings) == 1 and batch.problems and first["findings"] in batch.problems[0]
    assert len(batch.incidents_frame()) == 2


def test_the_postmortem_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(str(ROOT / "notebooks" / "postmortem.ipynb"), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    [parameters] = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert 'batch_dir: str = ""' in parameters.source
