"""CloudTrail normalisation against real recorded data (invictus-ir, 203 records)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

from kit.evidence import Evidence
from kit.frames.cloudtrail import events_frame, principal_arn, records_from_documents, touched_resources
from kit.frames.schemas import validate_frame

DATA = Path("/work/shared/data/cloudtrail/invictus-ir/CloudTrail")


@pytest.fixture(scope="module")
def log_documents() -> dict[str, dict]:
    files = sorted(DATA.glob("*.json"))
    assert len(files) == 7
    return {
        f"cloudtrail-logs/AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/{f.name}": json.loads(f.read_text())
        for f in files
    }


@pytest.fixture(scope="module")
def raw_records(log_documents) -> list[dict]:
    return [r for doc in log_documents.values() for r in doc["Records"]]


@pytest.fixture(scope="module")
def frame(log_documents) -> pd.DataFrame:
    evidence = Evidence("i-05c30218156bcc246", "us-east-1", documents=copy.deepcopy(log_documents))
    return events_frame(records_from_documents(evidence))


def test_every_record_is_read(frame, raw_records):
    assert len(raw_records) == 203
    assert len(frame) == 203
    assert frame["event_id"].is_unique
    assert set(frame["event_id"]) == {r["eventID"] for r in raw_records}
    validate_frame("events", frame)


def test_records_are_kept_whole(frame, raw_records):
    by_id = {r["eventID"]: r for r in raw_records}
    for row in frame.itertuples():
        original = by_id[row.event_id]
        assert row.record == original
        assert row.request == original["requestParameters"]
        assert row.response == original["responseElements"]
        assert row.event_source == original["eventSource"]
        assert row.event_name == original["eventName"]
        assert row.event_version == original["eventVersion"]
        assert row.read_only == original["readOnly"]
        assert row.event_time == pd.Timestamp(original["eventTime"])


def test_times_are_utc_and_sorted(frame):
    assert str(frame["event_time"].dtype) == "datetime64[ns, UTC]"
    assert frame["event_time"].notna().all()
    assert frame["event_time"].is_monotonic_increasing


def test_versions_and_optional_keys_survive(frame):
    assert set(frame["event_version"]) == {"1.08", "1.09"}
    assert frame["response"].isna().sum() > 0  # responseElements null
    with_code = frame[frame["error_code"].notna()]
    assert len(with_code) == 20
    no_message = with_code[with_code["error_message"].isna()]
    assert len(no_message) == 1
    assert (frame["record"].map(lambda r: "tlsDetails" in r)).sum() == 174
    assert (frame["record"].map(lambda r: "resources" in r)).sum() == 39


def test_errors_of_run_instances(frame):
    run = frame[frame["event_name"] == "RunInstances"]
    assert sorted(run["error_code"].dropna()) == ["Client.InvalidParameterValue", "Client.VcpuLimitExceeded"]
    success = run[run["error_code"].isna()].iloc[0]
    assert "i-05c30218156bcc246" in success["instance_ids"]
    assert success["principal_arn"] == "arn:aws:iam::123837392027:user/bert-jan"


def test_identities(frame):
    assert dict(frame["identity_type"].value_counts()) == {"IAMUser": 197, "AssumedRole": 4, "AWSService": 2}
    roles = frame[frame["identity_type"] == "AssumedRole"]
    assert (roles["principal_arn"] == roles["session_issuer_arn"]).all()
    assert roles["principal_arn"].str.startswith("arn:aws:iam::123837392027:role/").all()
    assert roles["identity_arn"].str.contains(":assumed-role/").all()
    services = frame[frame["identity_type"] == "AWSService"]
    assert services["principal_arn"].isna().all()
    assert services["invoked_by"].notna().all()
    users = frame[frame["identity_type"] == "IAMUser"]
    assert (users["principal_arn"] == users["identity_arn"]).all()
    assert set(frame["account_id"].dropna()) <= {"123837392027"}
    assert set(frame["recipient_account_id"]) == {"123837392027"}


def test_kms_events_name_their_keys(frame):
    kms = frame[frame["event_source"] == "kms.amazonaws.com"]
    assert len(kms) == 13
    assert kms["key_arns"].map(len).gt(0).all()
    for arns in kms["key_arns"]:
        for arn in arns:
            assert arn.startswith("arn:aws:kms:us-east-1:123837392027:key/")
    decrypt_by_service = kms[(kms["event_name"] == "Decrypt") & kms["invoked_by"].notna()]
    assert len(decrypt_by_service) > 0


def test_gzipped_logs_and_lookup_events_give_the_same_frame(frame, log_documents, raw_records):
    half = len(raw_records) // 2
    lookup = {
        "Events": [
            {
                "EventId": r["eventID"],
                "EventName": r["eventName"],
                "ReadOnly": str(r["readOnly"]).lower(),
                "EventTime": pd.Timestamp(r["eventTime"]).timestamp(),  # CLI v1 prints epoch numbers
                "EventSource": r["eventSource"],
                "CloudTrailEvent": json.dumps(r),
            }
            for r in raw_records[:half]
        ]
    }
    documents = {"cloudtrail.lookup-events.a.json": lookup, "cloudtrail.lookup-events.b.json": lookup}
    documents.update({name + ".gz": doc for name, doc in log_documents.items()})  # overlap: duplicates dropped
    mixed = events_frame(records_from_documents(Evidence("i-1", "us-east-1", documents=documents)))
    pd.testing.assert_frame_equal(mixed, frame)


def test_principal_of_each_identity_kind():
    issuer_arn = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_abc"
    sso = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_abc/alice@example.com",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": issuer_arn}},
    }
    assert principal_arn(sso) == issuer_arn
    bare = {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/scheduler/run-1"}
    assert principal_arn(bare) == "arn:aws:iam::111122223333:role/scheduler"
    assert principal_arn({"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"}) == (
        "arn:aws:iam::111122223333:root"
    )
    assert principal_arn({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}) is None


def test_create_grant_touches_instance_volume_and_key():
    key = "arn:aws:kms:eu-west-1:123456789012:key/8e3426b8-1111-2222-3333-444455556666"
    record = {
        "eventID": "e1",
        "eventTime": "2024-01-01T10:00:05Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "CreateGrant",
        "errorCode": "AccessDenied",
        "errorMessage": f"User: arn:aws:iam::123456789012:user/test is not authorized to perform: kms:CreateGrant on resource: {key} because no identity-based policy allows the kms:CreateGrant action",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/test", "invokedBy": "ec2.amazonaws.com"},
        "requestParameters": {
            "keyId": key,
            "granteePrincipal": "arn:aws:sts::123456789012:assumed-role/aws:ec2-infrastructure/i-0abc12345678def01",
            "constraints": {"encryptionContextSubset": {"aws:ebs:id": "vol-0123456789abcdef0"}},
            "operations": ["Decrypt"],
        },
        "responseElements": None,
    }
    assert touched_resources(record) == (["i-0abc12345678def01"], ["vol-0123456789abcdef0"], [key])
    old_style = dict(record, requestParameters={"keyId": "8e3426b8-1111-2222-3333-444455556666",
                                                "granteePrincipal": "123456789012:aws:ec2-infrastructure:i-0abc12345678def01"},
                     errorMessage=None)
    assert touched_resources(old_style) == (["i-0abc12345678def01"], [], [])
    row = events_frame([record]).iloc[0]
    assert row["principal_arn"] == "arn:aws:iam::123456789012:user/test"
    assert row["invoked_by"] == "ec2.amazonaws.com"
    assert row["response"] is None
