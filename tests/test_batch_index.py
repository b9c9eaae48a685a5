"""index.html and summary.json from outcomes: everything from AWS or a parameter file is escaped, links are
relative and quoted, and summary entries carry the verdict of findings.json field for field.
"""

from __future__ import annotations

import json
from pathlib import Path

from kit.batch.incidents import Outcome, load_incidents
from kit.batch.index import render_index, write_index
from kit.batch.summary import VERDICT_FIELDS, build_summary, write_summary

HOSTILE = '<img src=x onerror="alert(1)">'


def _findings(instance_id: str, principal: str) -> dict:
    return {"schema": "kit.findings/1", "instance_id": instance_id, "region": "eu-west-1",
            "account_id": "123456789012",
            "verdict": {"cause": "kms-grant-denied", "denied_by": "identity-policy", "principal_arn": principal,
                        "key_arn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                        "confidence": "confirmed", "summary": f"summary {HOSTILE}"},
            "ruled_out": [], "steps": [], "gaps": [], "remediation": []}


def _outcomes(tmp_path: Path) -> tuple[list[Outcome], Path]:
    params = tmp_path / "params"
    params.mkdir()
    (params / "a b%.yaml").write_text("instance_id: i-0123456789abcdef0\nregion: eu-west-1\n")
    (params / "broken.yaml").write_text(f"instance_id: '{HOSTILE}'\nregion: eu-west-1\n")
    out = tmp_path / "out"
    incidents = load_incidents([params / "a b%.yaml", params / "broken.yaml"], out)
    ok, broken = incidents
    ok.out_dir.mkdir(parents=True)
    (ok.out_dir / "report.html").write_text("<html></html>")
    findings = _findings("i-0123456789abcdef0", f"arn:aws:iam::123456789012:user/{HOSTILE}")
    (ok.out_dir / "findings.json").write_text(json.dumps(findings))
    outcomes = [Outcome(ok, "ok", findings=findings, report=ok.out_dir / "report.html",
                        findings_file=ok.out_dir / "findings.json"),
                Outcome(broken, "failed", error=broken.error)]
    return outcomes, out


def test_every_value_is_escaped_and_links_are_relative(tmp_path) -> None:
    outcomes, out = _outcomes(tmp_path)
    assert outcomes[1].incident.error and "instance_id" in outcomes[1].incident.error
    summary = build_summary(outcomes, out)
    page = render_index(summary)
    assert HOSTILE not in page and "onerror=" not in page.replace("onerror=&quot;", "")
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert 'href="a_b/report.html"' in page  # folder name made safe, then the link quoted
    assert "<script>" in page and "src=" not in page.split("<script>")[1].split("</script>")[0]
    assert "http://" not in page and "https://" not in page


def test_summary_entry_copies_the_verdict_and_is_written_atomically(tmp_path) -> None:
    outcomes, out = _outcomes(tmp_path)
    path = write_summary(build_summary(outcomes, out), out)
    write_index(json.loads(path.read_text()), out)
    summary = json.loads(path.read_text())
    ok, broken = summary["incidents"]
    findings = json.loads((out / ok["findings"]).read_text())
    assert {k: ok[k] for k in VERDICT_FIELDS} == findings["verdict"]
    assert (ok["status"], ok["out_dir"], ok["report"]) == ("ok", "a_b", "a_b/report.html")
    assert broken["status"] == "failed" and broken["cause"] is None and "instance_id" in broken["error"]
    assert summary["counts"] == {"incidents": 2, "ok": 1, "failed": 1}
    assert sorted(p.name for p in out.iterdir()) == ["a_b", "index.html", "summary.json"]
