"""The pieces of live collection that need no AWS: window, principal, log archives, CLI shapes, gaps.

Checked against the real CloudTrail records in shared/data (invictus-ir) where records matter.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from kit.collect.cli_json import cli_document
from kit.collect.clients import ReadOnlyClients, loggable_params
from kit.collect.cloudtrail_logs import collect_log_archive, wanted
from kit.collect.cloudtrail_window import CollectWindow, TimeRange, incident_window, kms_window, reason_time
from kit.collect.fetcher import Fetcher
from kit.collect.gaps import cli_command
from kit.collect.principal import launching_principal, principal_of, role_kind
from kit.collect.redact import MASK, redact_log, redact_lookup
from kit.errors import BadInput

REAL = Path("/work/shared/data/cloudtrail/invictus-ir/CloudTrail")
UTC = timezone.utc


def real_records() -> list[dict]:
    return [r for f in sorted(REAL.glob("*.json")) for r in json.loads(f.read_text())["Records"]]


def offline_fetcher(region: str = "us-east-1") -> Fetcher:
    session = boto3.Session(aws_access_key_id="none", aws_secret_access_key="none", region_name=region)
    return Fetcher(ReadOnlyClients(session, region))


def test_incident_window_is_bounded_around_the_state_transition_time() -> None:
    instance = {"LaunchTime": "2024-05-01T09:00:00+00:00",
                "StateTransitionReason": "User initiated (2024-05-01 10:00:00 GMT)"}
    rng = incident_window(instance, CollectWindow(before_minutes=30, after_minutes=5))
    assert rng.start == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert rng.end == datetime(2024, 5, 1, 10, 5, tzinfo=UTC)


def test_incident_window_uses_launch_time_when_the_reason_has_no_time() -> None:
    instance = {"LaunchTime": "2024-05-01T09:00:00.000Z",
                "StateTransitionReason": "Client.InternalError: Client error on launch"}
    rng = incident_window(instance, CollectWindow())
    assert rng.end - rng.start == timedelta(minutes=90)
    assert rng.start == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_kms_window_narrows_to_the_latest_launch_event() -> None:
    outer = TimeRange(datetime(2024, 5, 1, 8, tzinfo=UTC), datetime(2024, 5, 1, 10, tzinfo=UTC))
    events = [{"EventName": "StartInstances", "EventTime": "2024-05-01T08:10:00+00:00"},
              {"EventName": "StartInstances", "EventTime": "2024-05-01T09:00:00+00:00"},
              {"EventName": "StopInstances", "EventTime": "2024-05-01T09:30:00+00:00"}]
    narrow = kms_window(events, outer, CollectWindow(kms_before_minutes=2, kms_after_minutes=15))
    assert narrow == TimeRange(datetime(2024, 5, 1, 8, 58, tzinfo=UTC), datetime(2024, 5, 1, 9, 15, tzinfo=UTC))
    assert kms_window([], outer, CollectWindow()) == outer


@pytest.mark.parametrize("kwargs", [{"before_minutes": -1}, {"max_pages": 0}, {"after_minutes": "5"}])
def test_bad_window_parameters_are_bad_input(kwargs: dict) -> None:
    with pytest.raises(BadInput) as error:
        CollectWindow(**kwargs)
    assert error.value.field.startswith("window.")


def test_reason_time_reads_the_gmt_time_in_user_initiated() -> None:
    assert reason_time("User initiated (2019-01-02 03:04:05 GMT)") == datetime(2019, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert reason_time("Client.InternalError: Client error on launch") is None


def test_launching_principal_from_real_records() -> None:
    principal = launching_principal(real_records(), "i-05c30218156bcc246")
    assert principal is not None
    assert (principal.arn, principal.kind, principal.name) == (
        "arn:aws:iam::123837392027:user/bert-jan", "user", "bert-jan")
    assert principal.event_name == "RunInstances"


def test_role_sessions_are_reported_as_their_role() -> None:
    assumed = [r for r in real_records() if r["userIdentity"].get("type") == "AssumedRole"][0]
    principal = principal_of(assumed["userIdentity"])
    assert principal is not None and principal.kind == "role"
    assert principal.arn.startswith("arn:aws:iam::") and ":role/" in principal.arn
    assert principal.session_arn == assumed["userIdentity"]["arn"]
    sso = {"type": "AssumedRole", "accountId": "111122223333",
           "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_abc/alice@example.com"}
    assert principal_of(sso).arn == "arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_abc"
    assert role_kind("arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_X") == "sso-role"
    assert role_kind("arn:aws:iam::1:role/aws-service-role/autoscaling.amazonaws.com/"
                     "AWSServiceRoleForAutoScaling") == "service-linked-role"


def test_log_archive_reads_only_the_window_files_of_the_region() -> None:
    fetch = offline_fetcher()
    # files are stamped with their delivery time; events reach a file up to 30 minutes later
    window = TimeRange(datetime(2023, 7, 10, 11, 0, tzinfo=UTC), datetime(2023, 7, 10, 11, 40, tzinfo=UTC))
    records = collect_log_archive(fetch, str(REAL), "218007301253", "us-east-1", window)
    expected = {f"cloudtrail-logs/{f.name}" for f in REAL.glob("*.json") if "T1215Z" not in f.name}
    assert set(fetch.documents) == expected and len(expected) == 5
    assert len(records) == sum(len(json.loads((REAL / n.split("/", 1)[1]).read_text())["Records"]) for n in expected)
    # as delivered, except the session tokens AssumeRole records carry (real ones, in this data)
    raw = {n: json.loads((REAL / n.split("/", 1)[1]).read_text()) for n in expected}
    assert "IQoJb3JpZ2lu" in json.dumps(raw) and "IQoJb3JpZ2lu" not in json.dumps(fetch.documents)
    assert all(fetch.documents[n] == redact_log(raw[n]) for n in expected)
    assert fetch.clients.recorder.calls == []  # a local folder costs no AWS call
    other_region = offline_fetcher("eu-west-1")
    assert collect_log_archive(other_region, str(REAL), None, "eu-west-1", window) == []
    earlier = TimeRange(datetime(2023, 7, 9, 0, tzinfo=UTC), datetime(2023, 7, 9, 1, tzinfo=UTC))
    assert collect_log_archive(offline_fetcher(), str(REAL), None, "us-east-1", earlier) == []


def test_log_archive_date_folders_outside_the_window_are_skipped() -> None:
    window = TimeRange(datetime(2024, 3, 2, 10, tzinfo=UTC), datetime(2024, 3, 2, 11, tzinfo=UTC))
    base = "AWSLogs/123456789012/CloudTrail/eu-west-1"
    assert wanted(f"{base}/2024/03/02/123456789012_CloudTrail_eu-west-1_20240302T1015Z_x.json.gz", "eu-west-1", window)
    assert not wanted(f"{base}/2024/03/01/123456789012_CloudTrail_eu-west-1_20240301T1015Z_x.json.gz",
                      "eu-west-1", window)
    assert not wanted(f"{base}/2024/03/02/123456789012_CloudTrail_eu-west-1_20240302T0815Z_x.json.gz",
                      "eu-west-1", window)
    assert not wanted("AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/02/a.json.gz", "eu-west-1", window)


def test_log_archive_source_must_be_a_folder_or_s3() -> None:
    window = TimeRange(datetime(2024, 3, 2, 10, tzinfo=UTC), datetime(2024, 3, 2, 11, tzinfo=UTC))
    with pytest.raises(BadInput) as error:
        collect_log_archive(offline_fetcher(), "/no/such/folder", None, "eu-west-1", window)
    assert error.value.field == "cloudtrail_source"


def test_cli_document_drops_response_metadata_and_formats_times() -> None:
    response = {"ResponseMetadata": {"RequestId": "x"}, "Volumes": [{"CreateTime": datetime(2024, 1, 2, tzinfo=UTC),
                                                                     "Blob": b"\x00\x01"}]}
    assert cli_document(response) == {"Volumes": [{"CreateTime": "2024-01-02T00:00:00+00:00", "Blob": "AAE="}]}


def test_call_log_never_holds_secrets_and_next_steps_are_cli_commands() -> None:
    logged = loggable_params({"SecretAccessKey": "s", "NextToken": "t" * 300, "KeyId": "k"})
    assert logged == {"SecretAccessKey": "<redacted>", "NextToken": "<next page>", "KeyId": "k"}
    command = cli_command("kms:GetKeyPolicy", {"KeyId": "arn:aws:kms:eu-west-1:1:key/k", "PolicyName": "default"},
                          "eu-west-1")
    assert command == ("aws kms get-key-policy --key-id arn:aws:kms:eu-west-1:1:key/k --policy-name default "
                       "--region eu-west-1")
    lookup = cli_command("cloudtrail:LookupEvents",
                         {"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": "i-1"}],
                          "StartTime": datetime(2024, 1, 1, tzinfo=UTC)}, "eu-west-1")
    assert lookup == ("aws cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue=i-1 "
                      "--start-time 2024-01-01T00:00:00+00:00 --region eu-west-1")


def test_real_session_tokens_are_masked_and_the_bundle_accepts_the_logs(tmp_path) -> None:
    from kit.collect.bundle import write_bundle
    from kit.evidence import Evidence

    fetch = offline_fetcher()
    window = TimeRange(datetime(2023, 7, 10, 11, 50, tzinfo=UTC), datetime(2023, 7, 10, 12, 20, tzinfo=UTC))
    records = collect_log_archive(fetch, str(REAL), "218007301253", "us-east-1", window)
    assumed = [r for r in records if r["eventName"] == "AssumeRole" and r.get("responseElements")]
    assert assumed and all(r["responseElements"]["credentials"]["sessionToken"] == MASK for r in assumed)
    assert all(r["responseElements"]["credentials"]["accessKeyId"].startswith("ASIA") for r in assumed)
    evidence = Evidence("i-05c30218156bcc246", "us-east-1", documents=dict(fetch.documents))
    folder = write_bundle(evidence, tmp_path / "bundle")  # refuses any credential: none is left
    assert (folder / "manifest.json").is_file()
    raw = next(r for f in sorted(REAL.glob("*.json")) for r in json.loads(f.read_text())["Records"]
               if r["eventName"] == "AssumeRole" and r.get("responseElements"))
    document = {"Events": [{"EventId": "1", "CloudTrailEvent": json.dumps(raw)},
                           {"EventId": "2", "CloudTrailEvent": '{"eventName": "Decrypt"}'}]}
    redact_lookup(document)
    assert json.loads(document["Events"][0]["CloudTrailEvent"])["responseElements"]["credentials"][
        "sessionToken"] == MASK
    assert document["Events"][1]["CloudTrailEvent"] == '{"eventName": "Decrypt"}'
