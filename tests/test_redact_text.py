"""Redaction: account ids, ARNs' accounts, IP addresses and access key ids, on real CloudTrail records."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from kit.redact import redact_notebook, redact_text, redact_value

DATA = Path("/work/shared/data/cloudtrail/invictus-ir/CloudTrail")
IPV4 = re.compile(r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b")


def _records() -> list[dict]:
    records: list[dict] = []
    for path in sorted(DATA.glob("*.json")):
        records.extend(json.loads(path.read_text())["Records"])
    return records


def test_real_cloudtrail_records_keep_no_account_ip_or_key() -> None:
    records = _records()
    assert len(records) == 203
    raw = json.dumps(records)
    # the accounts, read from the fields that hold them (not by pattern, which is what is under test)
    accounts = {r.get("recipientAccountId") for r in records} | {r["userIdentity"].get("accountId") for r in records}
    accounts |= set(re.findall(r"arn:aws:[a-z0-9-]*:[a-z0-9-]*:([0-9]{12}):", raw))
    accounts.discard(None)
    assert "123837392027" in accounts and IPV4.search(raw) and "AKIATFQR7NSC8Q4X20BJ" in raw
    redacted = json.dumps(redact_value(records))
    for account in accounts:
        assert account not in redacted
    assert not re.search(r"(AKIA|ASIA)[A-Z0-9]{16}", redacted)
    # structure survives: same records, same event names
    assert [r["eventName"] for r in redact_value(records)] == [r["eventName"] for r in records]
    assert "XXXXXXXX2027" in redacted and not IPV4.search(redacted.replace("x.x.x.x", ""))


def test_ids_that_merely_contain_digits_are_kept() -> None:
    kept = ["i-123456789012abcde", "vol-0123456789012", "8e3426b8-87b4-434c-ae74-123456789012",
            "2024-01-01T12:30:45Z", "arn:aws:s3:::bucket", "1700000000123"]
    for value in kept:
        assert redact_text(value) == value
    assert redact_text("arn:aws:iam::123456789012:user/test") == "arn:aws:iam::XXXXXXXX9012:user/test"
    assert redact_text("from 2001:db8::1 and 10.0.0.1") == "from x:x:x:x and x.x.x.x"
    assert "AKIAIOSFODNN7EXAMPLE" not in redact_text("key AKIAIOSFODNN7EXAMPLE used")
    assert redact_text(redact_text("arn:aws:iam::123456789012:root")) == redact_text("arn:aws:iam::123456789012:root")


def test_notebook_sources_outputs_and_metadata_are_redacted() -> None:
    nb = nbformat.v4.new_notebook(metadata={"papermill": {"parameters": {"role_arn": "arn:aws:iam::111122223333:role/R"}}})
    cell = nbformat.v4.new_code_cell('role_arn = "arn:aws:iam::111122223333:role/R"')
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="caller 111122223333 from 192.0.2.10\n"),
        nbformat.v4.new_output("display_data", data={"text/html": "<td>111122223333</td>",
                                                     "application/json": {"account": "111122223333"},
                                                     "image/png": "iVBORw0KGgo="}),
        nbformat.v4.new_output("error", ename="E", evalue="111122223333", traceback=["at 111122223333"]),
    ]
    nb.cells.append(cell)
    text = json.dumps(redact_notebook(nb))
    assert "111122223333" not in text and "192.0.2.10" not in text
    assert "iVBORw0KGgo=" in text
    nbformat.validate(nb)
