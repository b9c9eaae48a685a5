"""`kit policy check CASE.json` through the installed entry point (contracts.md section 4)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

KIT = Path(sys.prefix) / "bin" / "kit"
CASES = json.loads(Path("/work/shared/data/iam/cases.json").read_text())["cases"]


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KIT), "policy", "check", str(path)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case_id", ["kms-eval-ex1-alice-no-iam-decrypt", "kms-eval-ex2-cross-account-decrypt",
                                     "explicit-deny-identity-beats-keypolicy-allow", "scp-allowlist-without-kms"])
def test_check_prints_one_json_decision(tmp_path: Path, case_id: str) -> None:
    case = next(c for c in CASES if c["id"] == case_id)
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))  # the extra fields (id, why, expected, ...) are ignored
    done = _check(path)
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert set(output) == {"decision", "decided_by", "explanation"}
    assert output["decision"] == case["expected"]
    assert output["decided_by"] in ("explicit-deny", "identity-policy", "key-policy", "permissions-boundary", "scp",
                                    "session-policy", "allowed")
    assert all(isinstance(line, str) for line in output["explanation"]) and output["explanation"]


def test_contract_example_shape(tmp_path: Path) -> None:
    case = {
        "principal_arn": "arn:aws:iam::111122223333:user/Alice",
        "action": "kms:CreateGrant",
        "resource": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "identity_policies": [{"Version": "2012-10-17", "Statement": []}],
        "resource_policy": {"Version": "2012-10-17", "Statement": []},
        "boundary": None,
        "scps": [[{"Version": "2012-10-17", "Statement": []}]],
        "context": {"kms:GrantIsForAWSResource": "true", "kms:ViaService": "ec2.us-west-2.amazonaws.com",
                    "kms:GrantOperations": ["Decrypt"]},
    }
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    done = _check(path)
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["decision"] == "deny" and output["decided_by"] == "scp"


def test_malformed_policy_exits_2_naming_the_statement(tmp_path: Path) -> None:
    case = {"principal_arn": "arn:aws:iam::111122223333:user/Alice", "action": "kms:Decrypt",
            "resource": "arn:aws:kms:us-west-2:111122223333:key/k",
            "resource_policy": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*",
                 "Condition": {"StringEqualsNot": {"kms:ViaService": "x"}}}]}}
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    done = _check(path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "key-policy: Statement[1].Condition.StringEqualsNot" in done.stderr
    assert "known condition operator" in done.stderr


def test_malformed_case_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text('{"principal_arn": "arn:aws:iam::111122223333:user/Alice", "action": ')
    done = _check(path)
    assert done.returncode == 2 and str(path) in done.stderr
    path.write_text(json.dumps({"principal_arn": "arn:aws:iam::111122223333:user/Alice", "action": "Decrypt",
                                "resource": "*"}))
    done = _check(path)
    assert done.returncode == 2 and "action" in done.stderr
    done = _check(tmp_path / "missing.json")
    assert done.returncode == 2 and "missing.json" in done.stderr
