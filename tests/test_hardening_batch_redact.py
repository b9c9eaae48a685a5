"""Issue 16 #5: an incident with `redact: true` shows no account id anywhere the batch writes about it:
summary.json, index.html, its folder name (kit scan names files <account>-<region>-<instance>.yaml)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from kit.batch.command import run_batch

AWSCLI_DATA = "AWS_DATA_PATH"  # awscli sets it once, when imported: an environment reset must keep it

ACCOUNT = "123456789012"  # the simulated account the seed scenario lives in


@pytest.mark.slow
def test_a_redacted_incident_shows_no_account_id_in_the_batch_pages(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_") and n != AWSCLI_DATA]:
        monkeypatch.delenv(name)  # the scenario starts its own simulated account in the kernel
    redacted = tmp_path / f"{ACCOUNT}-eu-west-1-seed.yaml"
    redacted.write_text("scenario: seed\ninteractive: false\nredact: true\n")
    plain = tmp_path / f"{ACCOUNT}-eu-west-1-plain.yaml"
    plain.write_text("scenario: seed\ninteractive: false\n")
    out = tmp_path / "batch"
    args = argparse.Namespace(params=[str(redacted), str(plain)], out=str(out), jobs=1, no_shared_evidence=True,
                              org_role_arn=None)

    assert run_batch(args) == 0

    summary = json.loads((out / "summary.json").read_text())
    first, second = summary["incidents"]
    assert first["status"] == "ok" and first["cause"] == "kms-grant-denied"
    assert ACCOUNT not in json.dumps(first), "the redacted incident's summary entry shows the account id"
    assert first["account_id"] is None
    assert ACCOUNT not in first["name"] and (out / first["name"]).is_dir()
    assert ACCOUNT in json.dumps(second), "the incident without redact keeps its account id"
    index = (out / "index.html").read_text()
    redacted_row = next(line for line in index.splitlines() if first["name"] in line)
    assert ACCOUNT not in redacted_row
    for file in (out / first["name"]).rglob("*"):
        if file.is_file():
            assert ACCOUNT not in file.read_text(errors="replace"), f"{file.name} shows the account id"
    exported = (out / "incidents.csv").read_text().splitlines()
    assert ACCOUNT not in next(line for line in exported if first["name"] in line), "incidents.csv shows it"
    events = [json.loads(line) for line in (out / "timeline.jsonl").read_text().splitlines()]
    mine = [e for e in events if e.get("incident") == first["name"]]
    assert mine and ACCOUNT not in json.dumps(mine), "timeline.jsonl shows the account id"
