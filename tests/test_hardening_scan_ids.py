"""Issue 16 #9: `kit scan` never trusts ids from the listing it reads. An owner id with `../` cannot write
outside --out, line breaks in a state reason cannot inject keys into a parameter file, a `/` cannot crash the
scan, and ids with a trailing newline are not ids."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kit.aws_ids import ACCOUNT_ID, INSTANCE_ID, REGION
from kit.batch.scan import FailedLaunch, ScanRequest, ScanResult, TargetResult, write_scan


def _failed(**changes: str | None) -> FailedLaunch:
    values = dict(instance_id="i-0123456789abcdef0", region="eu-west-1", account_id="123456789012", state="stopped",
                  state_reason_code="Client.InternalError", state_reason_message="Client.InternalError: error",
                  effective_reason=None, kind="kms-candidate", cause=None, failed_at="2024-05-01T10:00:00+00:00")
    values.update(changes)
    return FailedLaunch(**values)  # type: ignore[arg-type]


def _write(tmp_path: Path, *failed: FailedLaunch, role_name: str = "") -> tuple[Path, list[Path], dict]:
    out = tmp_path / "deep" / "out"
    result = ScanResult(ScanRequest(regions=("eu-west-1",), role_name=role_name),
                        [TargetResult(account_id=None, region="eu-west-1", failed=list(failed))], "2024-05-01T11:00Z")
    written = write_scan(result, out)
    return out, written, json.loads((out / "scan-summary.json").read_text())


def test_an_owner_id_with_a_path_stays_inside_out(tmp_path: Path) -> None:
    out, written, summary = _write(tmp_path, _failed(account_id="../../../escaped"), _failed(account_id="12/34"))
    assert not list(tmp_path.rglob("*escaped*"))
    assert all(path.parent == out for path in written)
    assert all(path.name.startswith("account-eu-west-1-") for path in written)


def test_line_breaks_from_aws_cannot_inject_parameters(tmp_path: Path) -> None:
    hostile = "Client.InternalError\nregion: us-east-1\ninstance_id: i-0fffffffffffffff0\r\u2028profile: evil"
    out, written, _ = _write(tmp_path, _failed(state_reason_message=hostile, effective_reason=hostile))
    (path,) = written
    assert yaml.safe_load(path.read_text()) == {"instance_id": "i-0123456789abcdef0", "region": "eu-west-1"}
    assert all(line.startswith("#") or ":" in line for line in path.read_text().splitlines())


def test_ids_that_are_not_ids_are_refused_and_listed_not_written(tmp_path: Path) -> None:
    out, written, summary = _write(tmp_path, _failed(instance_id="i-0123456789abcdef0\nregion: x"),
                                   _failed(region="../eu-west-1"), _failed())
    assert [p.name for p in written] == ["123456789012-eu-west-1-i-0123456789abcdef0.yaml"]
    assert len(summary["refused"]) == 2 and all("expected" in r["error"] for r in summary["refused"])
    assert [i["params_file"] for i in summary["instances"]] == [written[0].name]


def test_a_hostile_account_in_a_role_arn_is_refused(tmp_path: Path) -> None:
    hostile = _failed(account_id="123456789012\nprofile: x", role_arn="arn:aws:iam::123456789012\nx:role/r")
    out, written, summary = _write(tmp_path, hostile, role_name="r")
    assert written == [] and len(summary["refused"]) == 1


def test_anchored_id_patterns_refuse_a_trailing_newline() -> None:
    assert not INSTANCE_ID.match("i-0123456789abcdef0\n")
    assert not ACCOUNT_ID.match("123456789012\n")
    assert not REGION.match("eu-west-1\n")
