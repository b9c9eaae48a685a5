"""Evidence bundles: round trip, tamper refusal, credential refusal."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.collect import load_evidence
from kit.collect.bundle import MANIFEST, load_bundle, write_bundle
from kit.errors import BadInput
from kit.evidence import Evidence, Gap

INVICTUS = Path("/work/shared/data/cloudtrail/invictus-ir/CloudTrail")
LOG_DIR = "cloudtrail-logs/AWSLogs/123837392027/CloudTrail/us-east-1/2023/07/10/"


def _without_tokens(document: dict) -> dict:
    """The invictus records, with the (real, expired) STS session tokens CloudTrail logged replaced."""
    document = copy.deepcopy(document)
    for record in document["Records"]:
        credentials = (record.get("responseElements") or {}).get("credentials")
        if credentials and "sessionToken" in credentials:
            credentials["sessionToken"] = "<redacted>"
    return document


@pytest.fixture()
def evidence() -> Evidence:
    from tests.test_cli_folder import sample_documents

    documents = sample_documents()
    for i, path in enumerate(sorted(INVICTUS.glob("*.json"))):
        suffix = ".gz" if i % 2 else ""
        documents[LOG_DIR + path.name + suffix] = _without_tokens(json.loads(path.read_text()))
    return Evidence(
        instance_id="i-0abc12345678def01",
        region="eu-west-1",
        documents=documents,
        gaps=[Gap("kms:ListGrants", "AccessDeniedException", "grants unknown", "aws kms list-grants --key-id K")],
        source="live",
        collector_arn="arn:aws:iam::123456789012:user/support",
        collected_at="2024-05-01T11:00:00+00:00",
        parameters={"window": {"days": 7}},
        calls=[{"operation": "ec2:DescribeInstances", "params": {"InstanceIds": ["i-0abc12345678def01"]}, "at": "2024-05-01T11:00:00+00:00"}],
    )


def test_round_trip(tmp_path, evidence):
    folder = write_bundle(evidence, tmp_path / "bundle")
    loaded = load_bundle(folder)
    assert loaded.documents == evidence.documents
    assert loaded.gaps == evidence.gaps
    assert loaded.calls == evidence.calls
    assert (loaded.instance_id, loaded.region, loaded.collector_arn, loaded.collected_at, loaded.parameters) == (
        evidence.instance_id, evidence.region, evidence.collector_arn, evidence.collected_at, evidence.parameters)
    assert loaded.source == f"bundle:{folder}"
    assert load_evidence(f"bundle:{folder}", evidence.instance_id, evidence.region).documents == evidence.documents
    with pytest.raises(BadInput, match="instance_id"):
        load_evidence(f"bundle:{folder}", "i-0fffffffffffffff0", evidence.region)


def test_layout_and_manifest(tmp_path, evidence):
    folder = write_bundle(evidence, tmp_path / "bundle")
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["schema"] == "kit.bundle/1"
    for key in ("kit_version", "collected_at", "collector_arn", "region", "instance_id", "source", "parameters", "files", "calls", "gaps"):
        assert key in manifest
    assert manifest["calls"] == evidence.calls
    assert manifest["gaps"][0]["next_step"] == "aws kms list-grants --key-id K"
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(evidence.documents)
    for name, entry in listed.items():
        payload = (folder / name).read_bytes()
        assert hashlib.sha256(payload).hexdigest() == entry["sha256"]
        if name.endswith(".gz"):
            assert json.loads(gzip.decompress(payload)) == evidence.documents[name]
        else:
            text = payload.decode()
            assert text.startswith("{\n  ")  # pretty-printed
            assert json.loads(text) == evidence.documents[name]
    assert listed["ec2.describe-instances.json"]["call"] == "ec2:DescribeInstances"
    assert listed["kms.describe-key.8e3426b8-1111-2222-3333-444455556666.json"]["call"] == "kms:DescribeKey"
    assert sum(p.endswith(".json.gz") for p in listed) == 3


def test_refuses_non_empty_folder_and_bad_names(tmp_path, evidence):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(BadInput, match="out"):
        write_bundle(evidence, tmp_path / "full")
    for bad in ("../escape.json", "/abs.json", "notes.txt", MANIFEST):
        wrong = copy.copy(evidence)
        wrong.documents = {bad: {}}
        with pytest.raises(BadInput):
            write_bundle(wrong, tmp_path / ("b" + str(abs(hash(bad)))))


@pytest.fixture()
def bundle(tmp_path, evidence) -> Path:
    return write_bundle(evidence, tmp_path / "bundle")


def test_changed_byte_is_refused(bundle):
    target = bundle / "ec2.describe-volumes.json"
    data = bytearray(target.read_bytes())
    data[data.index(b"gp3")] = ord("G")
    target.write_bytes(bytes(data))
    with pytest.raises(BadInput) as err:
        load_bundle(bundle)
    assert err.value.field == "ec2.describe-volumes.json"


def test_changed_gzipped_log_is_refused(bundle):
    name = next(p for p in (f["path"] for f in json.loads((bundle / MANIFEST).read_text())["files"]) if p.endswith(".gz"))
    path = bundle / name
    records = json.loads(gzip.decompress(path.read_bytes()))
    records["Records"].pop()
    path.write_bytes(gzip.compress(json.dumps(records).encode()))
    with pytest.raises(BadInput) as err:
        load_bundle(bundle)
    assert err.value.field == name


def test_missing_file_is_refused(bundle):
    (bundle / "kms.list-aliases.json").unlink()
    with pytest.raises(BadInput) as err:
        load_bundle(bundle)
    assert err.value.field == "kms.list-aliases.json" and "missing" in str(err.value)


def test_extra_file_is_refused(bundle):
    (bundle / "cloudtrail-logs" / "planted.json").write_text('{"Records": []}')
    with pytest.raises(BadInput) as err:
        load_bundle(bundle)
    assert err.value.field == "cloudtrail-logs/planted.json"


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.update(schema="kit.bundle/2"),
        lambda m: m.pop("files"),
        lambda m: m.update(files=[{"path": "ec2.describe-instances.json", "sha256": "abc"}]),
        lambda m: m["files"].append(dict(m["files"][0])),
        lambda m: m["files"].__setitem__(0, dict(m["files"][0], path="../x.json")),
        lambda m: m.update(gaps=[{"call": "x"}]),
        lambda m: m.pop("instance_id"),
        lambda m: m.pop("collected_at"),
    ],
)
def test_bad_manifest_is_refused(bundle, change):
    manifest = json.loads((bundle / MANIFEST).read_text())
    change(manifest)
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BadInput) as err:
        load_bundle(bundle)
    assert err.value.field.startswith(MANIFEST)


def test_unreadable_or_absent_manifest(bundle, tmp_path):
    (bundle / MANIFEST).write_text("{not json")
    with pytest.raises(BadInput, match=MANIFEST):
        load_bundle(bundle)
    (bundle / MANIFEST).unlink()
    with pytest.raises(BadInput, match=MANIFEST):
        load_bundle(bundle)
    with pytest.raises(BadInput, match="bundle:DIR"):
        load_bundle(tmp_path / "nowhere")


SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr" + "A" * 300


@pytest.mark.parametrize(
    "name, document",
    [
        ("sts.assume-role.json", {"Credentials": {"AccessKeyId": "ASIAIOSFODNN7EXAMPLE", "SecretAccessKey": SECRET,
                                                   "SessionToken": TOKEN, "Expiration": "2024-01-01T00:00:00Z"}}),
        ("notes.json", {"text": f"aws_secret_access_key = {SECRET}"}),
        ("notes.json", {"text": "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"}),
        ("cloudtrail-logs/x.json", {"Records": [{"responseElements": {"credentials": {"accessKeyId": "ASIAIOSFODNN7EXAMPLE", "sessionToken": TOKEN}}}]}),
        ("cloudtrail.lookup-events.x.json", {"Events": [{"CloudTrailEvent": json.dumps({"responseElements": {"credentials": {"sessionToken": TOKEN}}})}]}),
    ],
)
def test_credentials_are_never_written(tmp_path, evidence, name, document):
    evidence.documents[name] = document
    with pytest.raises(BadInput) as err:
        write_bundle(evidence, tmp_path / "bundle")
    assert err.value.field.startswith(name)
    assert not (tmp_path / "bundle").exists()


def test_real_cloudtrail_session_tokens_are_refused(tmp_path, evidence):
    name = sorted(INVICTUS.glob("*.json"))
    raw = {LOG_DIR + p.name: json.loads(p.read_text()) for p in name}
    with_token = [n for n, d in raw.items() if "IQoJb3JpZ2lu" in json.dumps(d)]
    assert with_token
    evidence.documents[with_token[0]] = raw[with_token[0]]
    with pytest.raises(BadInput, match=r"responseElements\.credentials"):
        write_bundle(evidence, tmp_path / "bundle")


def test_environment_secret_is_refused(tmp_path, evidence, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "an-unusual-secret-value-1234")
    evidence.documents["ec2.describe-instances.json"]["Reservations"][0]["Instances"][0]["Tags"].append(
        {"Key": "leak", "Value": "x an-unusual-secret-value-1234 y"})
    with pytest.raises(BadInput, match="environment"):
        write_bundle(evidence, tmp_path / "bundle")


def test_logged_access_key_ids_are_not_credentials(tmp_path, evidence):
    """CloudTrail logs the access key id of every caller (userIdentity.accessKeyId); that alone is kept."""
    logs = [d for n, d in evidence.documents.items() if n.startswith("cloudtrail-logs/")]
    assert any("AKIA" in json.dumps(d) for d in logs)
    assert load_bundle(write_bundle(evidence, tmp_path / "bundle")).documents == evidence.documents


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
names = st.from_regex(r"[a-z]{1,8}\.[a-z-]{1,12}(\.[a-z0-9-]{1,8})?\.json", fullmatch=True) | st.from_regex(
    r"cloudtrail-logs/[a-z0-9]{1,6}/[a-z0-9_]{1,12}\.json(\.gz)?", fullmatch=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents=st.dictionaries(names, json_values, min_size=1, max_size=6))
def test_any_documents_round_trip(tmp_path_factory, documents):
    """Whatever a bundle may hold (its names' shapes checked on write) loads back exactly."""
    evidence = Evidence("i-0abc12345678def01", "eu-west-1", documents=documents)
    try:
        folder = write_bundle(evidence, tmp_path_factory.mktemp("bundle"))
    except BadInput as refused:
        assert refused.field in documents and "as the file name says" in str(refused)
        return
    assert load_bundle(folder).documents == documents
