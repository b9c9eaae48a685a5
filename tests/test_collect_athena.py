"""CloudTrail from Athena (`athena:DATABASE.TABLE`) against the simulated Athena, over real HTTP.

The table is made the way a user makes it: `kit athena ddl` prints the statement, and it runs through Athena's
StartQueryExecution (the simulated Athena executes it and then SELECTs over the trail bucket with DuckDB).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from kit.causes import causes_of_kind
from kit.collect.bundle import load_bundle, write_bundle
from kit.collect.clients import ReadOnlyClients
from kit.collect.cloudtrail_athena import scan_estimate
from kit.collect.live import collect_live
from kit.diagnose import diagnose
from kit.errors import ReadOnlyViolation
from kit.frames.build import build_frames
from kit.simulate.logs import trail_bucket

AWSCLI_DATA = "AWS_DATA_PATH"  # awscli sets it once, when imported: an environment reset must keep it

ACCOUNT = "123456789012"
OTHER = "444455556666"
ATHENA_REGION = "eu-west-1"
RESULTS = "s3://kit-athena-results/queries/"
ORG_BUCKET = "kit-org-trail-athena-test"
ORG_ID = "o-kitathena01"


def plain(sim, service: str, region: str = ATHENA_REGION):
    env = sim.environ()
    return boto3.client(service, region_name=region, endpoint_url=env["AWS_ENDPOINT_URL"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def kit_cli(sim, *argv: str) -> subprocess.CompletedProcess:
    env = sim.process_environ_without_aws() | sim.environ(ATHENA_REGION)
    return subprocess.run([sys.executable, "-m", "kit", *argv], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def run_sql(sim, sql: str, parameters: list[str] | None = None) -> dict:
    """A statement through the plain Athena API; its final execution and (for a SELECT) its rows."""
    athena = plain(sim, "athena")
    started = athena.start_query_execution(QueryString=sql, ResultConfiguration={"OutputLocation": RESULTS},
                                           **({"ExecutionParameters": parameters} if parameters else {}))
    execution = athena.get_query_execution(QueryExecutionId=started["QueryExecutionId"])["QueryExecution"]
    rows = []
    if execution["Status"]["State"] == "SUCCEEDED":
        for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=started["QueryExecutionId"]):
            rows += [[c.get("VarCharValue") for c in r["Data"]] for r in page["ResultSet"]["Rows"]]
    return {"execution": execution, "rows": rows}


def trail_records(sim, bucket: str) -> list[dict]:
    s3 = plain(sim, "s3")
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            out += json.loads(gzip.decompress(body))["Records"]
    return out


@pytest.fixture(scope="module")
def account_table(sim) -> str:
    """`default.trail_<account>` on the default account's trail bucket, created from `kit athena ddl`."""
    ddl = kit_cli(sim, "athena", "ddl", "--bucket", trail_bucket(ACCOUNT), "--accounts", ACCOUNT,
                  "--table", f"trail_{ACCOUNT}")
    assert ddl.returncode == 0, ddl.stderr
    created = run_sql(sim, ddl.stdout)
    assert created["execution"]["Status"]["State"] == "SUCCEEDED", created["execution"]["Status"]
    return f"athena:default.trail_{ACCOUNT}?output={RESULTS}&region={ATHENA_REGION}"


def test_the_ddl_creates_a_working_table(sim, account_table):
    metadata = plain(sim, "athena").get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="default",
                                                       TableName=f"trail_{ACCOUNT}")["TableMetadata"]
    assert [k["Name"] for k in metadata["PartitionKeys"]] == ["account", "region", "timestamp"]
    assert metadata["Parameters"]["projection.timestamp.format"] == "yyyy/MM/dd"
    records = trail_records(sim, trail_bucket(ACCOUNT))
    expected: dict[tuple[str, str], int] = {}
    for record in records:
        key = (record["awsRegion"], record["eventName"])
        expected[key] = expected.get(key, 0) + 1
    answer = run_sql(sim, f'SELECT awsregion, eventname, count(*) AS n FROM default.trail_{ACCOUNT} '
                          'WHERE account = ? GROUP BY awsregion, eventname', [f"'{ACCOUNT}'"])
    assert answer["rows"][0] == ["awsregion", "eventname", "n"]  # Athena's header row first
    assert {(r[0], r[1]): int(r[2]) for r in answer["rows"][1:]} == expected
    assert answer["execution"]["Statistics"]["DataScannedInBytes"] > 0
    # a struct field and JSON text inside a string column come back as CloudTrail wrote them
    one = next(r for r in records if r.get("errorCode") and (r.get("userIdentity") or {}).get("invokedBy"))
    found = run_sql(sim, f"SELECT useridentity.invokedby, json_extract_scalar(requestparameters, '$.keyId') "
                         f"FROM default.trail_{ACCOUNT} WHERE eventid = ?", [f"'{one['eventID']}'"])
    assert found["rows"][1] == [one["userIdentity"]["invokedBy"], one["requestParameters"].get("keyId")]


def test_partition_predicates_bound_what_is_scanned(sim, account_table):
    everything = run_sql(sim, f"SELECT count(*) FROM default.trail_{ACCOUNT}")
    none = run_sql(sim, f'SELECT count(*) FROM default.trail_{ACCOUNT} WHERE "timestamp" = ?', ["'1999/01/01'"])
    assert int(none["rows"][1][0]) == 0 and none["execution"]["Statistics"]["DataScannedInBytes"] == 0
    assert int(everything["rows"][1][0]) == len(trail_records(sim, trail_bucket(ACCOUNT)))
    assert everything["execution"]["Statistics"]["DataScannedInBytes"] > 0


def test_the_simulated_athena_refuses_other_statements(sim, account_table):
    failed = run_sql(sim, f"DROP TABLE default.trail_{ACCOUNT}")
    assert failed["execution"]["Status"]["State"] == "FAILED"
    assert "SELECT" in failed["execution"]["Status"]["StateChangeReason"]
    still = run_sql(sim, f"SELECT count(*) FROM default.trail_{ACCOUNT}")
    assert still["execution"]["Status"]["State"] == "SUCCEEDED"


REFUSED_SQL = [
    "CREATE EXTERNAL TABLE x (a string) LOCATION 's3://b/'",
    "DROP TABLE default.trail",
    "INSERT INTO default.trail SELECT * FROM default.trail",
    "ALTER TABLE default.trail ADD PARTITION (region = 'x')",
    "MSCK REPAIR TABLE default.trail",
    "UNLOAD (SELECT 1) TO 's3://b/' WITH (format = 'JSON')",
    "CREATE TABLE x AS SELECT 1",
    "SELECT 1; DROP TABLE default.trail",
    "DELETE FROM default.trail",
]


@pytest.mark.parametrize("sql", REFUSED_SQL)
def test_the_read_only_guard_refuses_every_other_statement(sim, sim_env, sql):
    client = ReadOnlyClients(boto3.Session(region_name=ATHENA_REGION), ATHENA_REGION)("athena")
    sent: list[str] = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    with pytest.raises(ReadOnlyViolation):
        client.start_query_execution(QueryString=sql, ResultConfiguration={"OutputLocation": RESULTS})
    with pytest.raises(ReadOnlyViolation):  # nor may a parameter smuggle SQL in
        client.start_query_execution(QueryString="SELECT ?", ExecutionParameters=["1) OR (1 = 1"],
                                     ResultConfiguration={"OutputLocation": RESULTS})
    assert sent == []
    answer = client.start_query_execution(QueryString="SELECT ?", ExecutionParameters=["'ok'"],
                                          ResultConfiguration={"OutputLocation": RESULTS})
    assert answer["QueryExecutionId"] and len(sent) == 1


@pytest.mark.parametrize("method, params", [
    ("create_work_group", {"Name": "x"}), ("delete_work_group", {"WorkGroup": "primary"}),
    ("stop_query_execution", {"QueryExecutionId": "x"}),
    ("create_named_query", {"Name": "x", "Database": "default", "QueryString": "SELECT 1"}),
    ("update_work_group", {"WorkGroup": "primary"}),
])
def test_the_read_only_guard_refuses_other_athena_operations(sim, sim_env, method, params):
    client = ReadOnlyClients(boto3.Session(region_name=ATHENA_REGION), ATHENA_REGION)("athena")
    with pytest.raises(ReadOnlyViolation, match="not a read operation"):
        getattr(client, method)(**params)


# every catalogue scenario in the default account: the verdict from Athena is the verdict from LookupEvents
SCENARIOS = ["seed", "cross-account-key", "key-disabled", "key-pending-deletion", "default-ebs-key", "scp-deny",
             "permissions-boundary", "session-policy", "autoscaling-slr", "user-stop", "volume-limit",
             "healthy-running", "shared-ami", "sso-role", "explicit-deny-identity", "key-unusable"]


@pytest.fixture(scope="module")
def collected(sim, account_table):
    out = {}
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("AWS_") and n != AWSCLI_DATA]:
            patch.delenv(name)
        for name, value in sim.environ().items():
            patch.setenv(name, value)
        for scenario in SCENARIOS:
            seeded = sim.scenario(scenario)
            out[scenario] = (collect_live(seeded.instance_id, seeded.region),
                             collect_live(seeded.instance_id, seeded.region, cloudtrail_source=account_table))
    return out


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_athena_gives_the_verdict_lookup_events_gives(sim, collected, scenario):
    lookup, athena = collected[scenario]
    assert not any(g.call.startswith("athena:") for g in athena.gaps), athena.gaps
    assert not any(g.call.startswith("cloudtrail:") for g in athena.gaps) or any(
        g.call.startswith("cloudtrail:") for g in lookup.gaps), athena.gaps
    via_athena, via_lookup = diagnose(athena).to_dict(), diagnose(lookup).to_dict()
    for field in ("cause", "denied_by", "principal_arn", "key_arn", "confidence"):
        assert via_athena["verdict"][field] == via_lookup["verdict"][field], (scenario, field)
    assert via_athena["verdict"]["cause"] == sim.scenario(scenario).expected["cause"]
    # the events both read are the same rows of the events frame (every column but the raw record); the
    # look-back for changes runs through the same table (its own query), never through LookupEvents
    # (the role session's AssumeRole look-up is LookupEvents' only: live collection skips it for a trail source)
    session = (lookup.parameters.get("launching_principal") or {}).get("name")
    window_only = replace(lookup, documents={n: d for n, d in lookup.documents.items()
                                             if not n.startswith("cloudtrail.lookup-events.change-")
                                             and n != f"cloudtrail.lookup-events.{session}.json"})
    frame_a, frame_l = build_frames(athena).events, build_frames(window_only).events
    common = sorted(set(frame_a.event_id) & set(frame_l.event_id))
    missing = set(frame_l.event_id) - set(frame_a.event_id)
    assert common and not missing, [n for n, d in window_only.documents.items() if n.startswith("cloudtrail.")
                                     and missing & {e.get("EventId") for e in (d or {}).get("Events") or []}]
    columns = [c for c in frame_l.columns if c != "record"]
    rows_a = frame_a.set_index("event_id").loc[common, [c for c in columns if c != "event_id"]]
    rows_l = frame_l.set_index("event_id").loc[common, [c for c in columns if c != "event_id"]]
    assert rows_a.astype(str).to_dict("index") == rows_l.astype(str).to_dict("index")
    documents = [d for n, d in athena.documents.items() if n.startswith("cloudtrail-athena/")]
    assert len(documents) == 2 and not any(n.startswith("cloudtrail.lookup-events") for n in athena.documents)
    assert sorted(d["Purpose"].startswith("the look-back") for d in documents) == [False, True]


def test_a_bundle_keeps_the_query_and_its_rows(sim, collected, tmp_path):
    _, athena = collected["seed"]
    loaded = load_bundle(write_bundle(athena, tmp_path / "bundle"))
    name = next(n for n, d in athena.documents.items() if n.startswith("cloudtrail-athena/")
                and not d["Purpose"].startswith("the look-back"))
    document = loaded.documents[name]
    assert name == f"cloudtrail-athena/{document['QueryExecutionId']}.json"
    assert document["Query"].startswith("SELECT ") and '"timestamp" BETWEEN ? AND ?' in document["Query"]
    assert document["ExecutionParameters"][2:4] == [f"'{ACCOUNT}'", "'eu-west-1'"]
    assert document["Records"] and document == athena.documents[name]
    starts = [c for c in athena.calls if c["operation"] == "athena:StartQueryExecution"]
    assert len(starts) == 2 and starts[0]["params"]["QueryString"] == document["Query"]  # then the look-back
    assert diagnose(loaded).to_dict()["verdict"] == diagnose(athena).to_dict()["verdict"]
    assert len(build_frames(loaded).events) == len(build_frames(athena).events) > 0


@pytest.fixture(scope="module")
def org_table(sim) -> tuple[str, list]:
    """An organisation trail bucket (AWSLogs/o-.../<account>/...) holding both accounts' log files, one seeded
    failure in the second account and Region more, and its table from `kit athena ddl --org-id`."""
    extra = [sim.seed("seed", account_id=OTHER), sim.seed("seed", region="us-east-1")]
    s3 = plain(sim, "s3")
    s3.create_bucket(Bucket=ORG_BUCKET, CreateBucketConfiguration={"LocationConstraint": ATHENA_REGION})
    for account in (ACCOUNT, OTHER):
        source = plain(sim, "s3")
        for page in source.get_paginator("list_objects_v2").paginate(Bucket=trail_bucket(account)):
            for item in page.get("Contents", []):
                body = source.get_object(Bucket=trail_bucket(account), Key=item["Key"])["Body"].read()
                s3.put_object(Bucket=ORG_BUCKET, Key=item["Key"].replace("AWSLogs/", f"AWSLogs/{ORG_ID}/", 1),
                              Body=body)
    ddl = kit_cli(sim, "athena", "ddl", "--bucket", ORG_BUCKET, "--org-id", ORG_ID, "--accounts", ACCOUNT, OTHER,
                  "--table", "org_trail")
    assert ddl.returncode == 0, ddl.stderr
    assert run_sql(sim, ddl.stdout)["execution"]["Status"]["State"] == "SUCCEEDED"
    return f"athena:default.org_trail?output={RESULTS}&region={ATHENA_REGION}", extra


def test_kit_scan_from_athena_finds_exactly_the_seeded_launch_failures(sim, org_table, tmp_path):
    source, extra = org_table
    from kit.simulate.catalogue import scenario_named

    kms = set(causes_of_kind("kms"))
    # a trail that leaves KMS events out (trail-excludes-kms) cannot show the refusal: the trail scan misses it
    hidden = {s.instance_id for s in sim.seeded if "kms.amazonaws.com" in (
        (scenario_named(s.name).spec.get("trail") or {}).get("exclude_management_event_sources") or [])}
    expected = {(s.account_id, s.region, s.instance_id) for s in sim.seeded
                if s.expected["cause"] in kms and s.instance_id not in hidden}
    # other tests of this process may have seeded more launches into these accounts (their files were copied
    # too): every launch the simulated world failed with a refused KMS call its trail recorded is expected
    from kit.simulate.world import world

    expected |= {tuple(key) for key, launch in world().failures.items()
                 if key[0] in (ACCOUNT, OTHER) and any(c.error for c in launch.kms_calls)
                 and tuple(key[:2]) not in world().kms_unrecorded and key[2] not in hidden}
    assert {(s.account_id, s.region) for s in extra} <= {(a, r) for a, r, _ in expected}
    assert len({a for a, _, _ in expected}) == 2 and len({r for _, r, _ in expected}) >= 2
    since = min(s.launched_at for s in sim.seeded) - timedelta(minutes=5)
    until = datetime.now(timezone.utc) + timedelta(minutes=1)
    out = tmp_path / "scan"
    done = kit_cli(sim, "scan", "--cloudtrail-source", source, "--since", since.isoformat(),
                   "--until", until.isoformat(), "--out", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "scan-summary.json").read_text())
    found = {(i["account_id"], i["region"], i["instance_id"]) for i in summary["instances"]}
    assert found == expected and not {i for _, _, i in found} & hidden
    launched = {s.instance_id: s.launched_at for s in sim.seeded}
    for item in summary["instances"]:  # the launch call's time (the refusal's, seconds later, when none names it)
        if item["instance_id"] in launched:  # (not for launches other tests seeded)
            after = datetime.fromisoformat(item["failed_at"].replace("Z", "+00:00")) - launched[item["instance_id"]]
            assert timedelta(seconds=-1) < after < timedelta(minutes=1)
        params = (out / item["params_file"]).read_text()
        assert f"instance_id: {item['instance_id']}" in params and f"region: {item['region']}" in params
        assert "cloudtrail_source: athena:default.org_trail" in params
    # the scan's parameter file runs as it is in kit batch, which reads the instance's events from the same table
    seed = sim.scenario("seed")
    [item] = [i for i in summary["instances"] if i["instance_id"] == seed.instance_id]
    batch = kit_cli(sim, "batch", str(out / item["params_file"]), "--out", str(tmp_path / "batch"), "--jobs", "1")
    assert batch.returncode == 0, batch.stderr
    [incident] = json.loads((tmp_path / "batch" / "summary.json").read_text())["incidents"]
    assert (incident["status"], incident["cause"]) == ("ok", seed.expected["cause"]), incident
    bundle = load_bundle(tmp_path / "batch" / incident["out_dir"] / "evidence")
    assert any(n.startswith("cloudtrail-athena/") for n in bundle.documents)
    athena = json.loads((out / "scan-athena.json").read_text())
    assert athena["query_execution_id"] and athena["data_scanned_bytes"] > 0
    assert '"timestamp" BETWEEN ? AND ?' in athena["query"] and athena["execution_parameters"]


def test_scan_estimate_counts_the_partitions_the_window_keeps():
    files = [("AWSLogs/o-abcdefghij/111111111111/CloudTrail/eu-west-1/2024/05/01/a.json.gz", 100),
             ("AWSLogs/o-abcdefghij/111111111111/CloudTrail/eu-west-1/2024/05/02/b.json.gz", 200),
             ("AWSLogs/222222222222/CloudTrail/us-east-1/2024/05/01/c.json.gz", 400),
             ("AWSLogs/222222222222/CloudTrail-Digest/us-east-1/2024/05/01/d.json.gz", 800),
             ("AWSLogs/222222222222/CloudTrail/us-east-1/2024/04/30/e.json.gz", 1600)]
    day = datetime(2024, 5, 1, tzinfo=timezone.utc)
    whole_day = scan_estimate(files, day, day + timedelta(hours=23, minutes=59))
    assert (whole_day.queries, whole_day.partitions, whole_day.files, whole_day.bytes) == (1, 3, 3, 700)
    one_region = scan_estimate(files, day, day + timedelta(hours=2), regions=["eu-west-1"])
    assert (one_region.files, one_region.bytes) == (1, 100)


def test_kit_collect_stores_the_athena_rows_in_its_bundle(sim, account_table, tmp_path):
    seeded = sim.scenario("key-disabled")
    done = kit_cli(sim, "collect", "--instance-id", seeded.instance_id, "--region", seeded.region,
                   "--cloudtrail-source", account_table, "--out", str(tmp_path / "bundle"))
    assert done.returncode == 0, done.stderr
    evidence = load_bundle(tmp_path / "bundle")
    [name] = [n for n, d in evidence.documents.items() if n.startswith("cloudtrail-athena/")
              and not d["Purpose"].startswith("the look-back")]
    assert evidence.parameters["cloudtrail_source"] == account_table
    assert diagnose(evidence).to_dict()["verdict"]["cause"] == seeded.expected["cause"]
    assert evidence.documents[name]["QueryExecutionId"] in name


@pytest.mark.parametrize("source", ["athena:nodot", "athena:db.ta-ble", "athena:db.t?workgroup=a b",
                                    "athena:db.t?output=http://x/", "athena:db.t?colour=red",
                                    "athena:db.t?region=nowhere"])
def test_a_bad_athena_source_is_bad_input_naming_it(sim, source, tmp_path):
    done = kit_cli(sim, "collect", "--instance-id", "i-0123456789abcdef0", "--region", "eu-west-1",
                   "--cloudtrail-source", source, "--out", str(tmp_path / "b"))
    assert done.returncode == 2 and "cloudtrail_source" in done.stderr, done.stderr


def test_aws_documented_day_partitioned_table_works_too(sim, sim_env, account_table):
    """AWS's own single-account, single-Region table (a `timestamp` partition only): the kit reads its layout
    from GetTableMetadata and filters account and Region on the columns."""
    from kit.collect.athena_ddl import COLUMNS

    seeded = sim.scenario("seed")
    base = f"s3://{trail_bucket(ACCOUNT)}/AWSLogs/{ACCOUNT}/CloudTrail/{seeded.region}"
    ddl = (f"CREATE EXTERNAL TABLE documented_trail (\n{COLUMNS}\n)\nPARTITIONED BY (`timestamp` string)\n"
           "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'\n"
           "STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'\n"
           "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n"
           f"LOCATION '{base}'\nTBLPROPERTIES ('projection.enabled'='true', "
           "'projection.timestamp.format'='yyyy/MM/dd', 'projection.timestamp.interval'='1', "
           "'projection.timestamp.interval.unit'='DAYS', 'projection.timestamp.range'='2020/01/01,NOW', "
           f"'projection.timestamp.type'='date', 'storage.location.template'='{base}/${{timestamp}}')")
    assert run_sql(sim, ddl)["execution"]["Status"]["State"] == "SUCCEEDED"
    evidence = collect_live(seeded.instance_id, seeded.region,
                            cloudtrail_source=f"athena:default.documented_trail?output={RESULTS}")
    document = next(d for n, d in evidence.documents.items() if n.startswith("cloudtrail-athena/"))
    assert '"timestamp" BETWEEN ? AND ?' in document["Query"] and '"account"' not in document["Query"]
    assert diagnose(evidence).to_dict()["verdict"]["cause"] == seeded.expected["cause"]


def test_an_injected_account_partition_needs_the_accounts_named(sim, sim_env, tmp_path):
    ddl = kit_cli(sim, "athena", "ddl", "--bucket", trail_bucket(ACCOUNT), "--regions", "eu-west-1",
                  "--table", "injected_trail")
    assert "'projection.account.type'='injected'" in ddl.stdout
    assert run_sql(sim, ddl.stdout)["execution"]["Status"]["State"] == "SUCCEEDED"
    source = f"athena:default.injected_trail?output={RESULTS}&region={ATHENA_REGION}"
    refused = kit_cli(sim, "scan", "--cloudtrail-source", source, "--out", str(tmp_path / "a"))
    assert refused.returncode == 2 and "--account" in refused.stderr, refused.stderr
    named = kit_cli(sim, "scan", "--cloudtrail-source", source, "--account", ACCOUNT, "--region", "eu-west-1",
                    "--since", (sim.scenario("seed").launched_at - timedelta(minutes=1)).isoformat(),
                    "--out", str(tmp_path / "b"))
    assert named.returncode == 0, named.stderr
    found = json.loads((tmp_path / "b" / "scan-summary.json").read_text())["instances"]
    assert sim.scenario("seed").instance_id in {i["instance_id"] for i in found}
    assert {(i["account_id"], i["region"]) for i in found} == {(ACCOUNT, "eu-west-1")}


def test_the_ddl_follows_the_layout_it_is_given():
    from kit.collect.athena_ddl import cloudtrail_ddl
    from kit.errors import BadInput

    single = cloudtrail_ddl(bucket="my-trail", prefix="/logs/ct/", accounts=["111122223333"], regions=["eu-west-1"])
    assert "LOCATION 's3://my-trail/logs/ct/AWSLogs/'" in single
    assert ("'storage.location.template'='s3://my-trail/logs/ct/AWSLogs/${account}/CloudTrail/${region}/${timestamp}'"
            in single)
    assert "'projection.account.values'='111122223333'" in single and "'projection.region.values'='eu-west-1'" in single
    org = cloudtrail_ddl(bucket="org-trail", org_id="o-abcdefghij")
    assert "s3://org-trail/AWSLogs/o-abcdefghij/${account}/CloudTrail/${region}/${timestamp}" in org
    assert "'projection.account.type'='injected'" in org and "eu-west-1" in org and "us-east-1" in org
    for options, field in [({"bucket": "Bad_Bucket"}, "--bucket"), ({"bucket": "b-1", "org_id": "org1"}, "--org-id"),
                           ({"bucket": "b-1", "accounts": ["12"]}, "--accounts"),
                           ({"bucket": "b-1", "regions": ["Mars"]}, "--regions"),
                           ({"bucket": "b-1", "prefix": "a'b"}, "--prefix"), ({"bucket": "b-1", "table": "x;y"}, "--table")]:
        with pytest.raises(BadInput) as refused:
            cloudtrail_ddl(**options)
        assert refused.value.field == field


def test_rows_become_cloudtrail_records():
    from kit.collect.cloudtrail_athena import records_from_rows

    columns = ["eventname", "useridentity", "readonly", "requestparameters", "resources", "errorcode"]
    rows = [{"Data": [{"VarCharValue": c} for c in columns]},
            {"Data": [{"VarCharValue": "CreateGrant"},
                      {"VarCharValue": json.dumps({"type": "AssumedRole", "invokedby": "ec2.amazonaws.com",
                                                   "sessioncontext": {"sessionissuer": {"arn": "arn:r", "type": None}}})},
                      {"VarCharValue": "false"}, {"VarCharValue": '{"keyId":"k"}'},
                      {"VarCharValue": json.dumps([{"arn": "arn:aws:kms:x", "accountid": "1", "type": "AWS::KMS::Key"}])},
                      {}]}]
    [record] = records_from_rows(columns, rows)
    assert record == {"eventName": "CreateGrant", "readOnly": False, "requestParameters": {"keyId": "k"},
                      "userIdentity": {"type": "AssumedRole", "invokedBy": "ec2.amazonaws.com",
                                       "sessionContext": {"sessionIssuer": {"arn": "arn:r"}}},
                      "resources": [{"ARN": "arn:aws:kms:x", "accountId": "1", "type": "AWS::KMS::Key"}]}


def test_a_row_cast_to_a_json_array_is_read_by_position():
    """Engines that cast ROW to a JSON array (Presto, Athena engine 2) give the same record."""
    from kit.collect.cloudtrail_athena import records_from_rows

    identity = ["AssumedRole", "AROA:x", "arn:aws:sts::1:assumed-role/r/s", "111122223333", "ec2.amazonaws.com",
                None, None, None, [[None, "2024-05-01T10:00:00Z"], ["Role", "AROA", "arn:aws:iam::1:role/r", "1", "r"],
                                   None, None]]
    rows = [{"Data": [{"VarCharValue": json.dumps(identity)}, {"VarCharValue": json.dumps([["arn:k", "1", "K"]])}]}]
    [record] = records_from_rows(["useridentity", "resources"], rows)
    assert record["userIdentity"] == {
        "type": "AssumedRole", "principalId": "AROA:x", "arn": "arn:aws:sts::1:assumed-role/r/s",
        "accountId": "111122223333", "invokedBy": "ec2.amazonaws.com",
        "sessionContext": {"attributes": {"creationDate": "2024-05-01T10:00:00Z"},
                           "sessionIssuer": {"type": "Role", "principalId": "AROA", "arn": "arn:aws:iam::1:role/r",
                                             "accountId": "1", "userName": "r"}}}
    assert record["resources"] == [{"ARN": "arn:k", "accountId": "1", "type": "K"}]


def test_kit_investigate_reads_cloudtrail_from_athena(sim, account_table, tmp_path):
    from kit.simulate.athena import athena_world  # the simulated account runs in this process: its queries

    seeded = sim.scenario("scp-deny")
    before = set(athena_world().executions)
    done = kit_cli(sim, "investigate", "--instance-id", seeded.instance_id, "--region", seeded.region,
                   "--cloudtrail-source", account_table, "--out", str(tmp_path / "report"))
    assert done.returncode == 0, done.stderr
    findings = json.loads((tmp_path / "report" / "findings.json").read_text())
    assert (findings["verdict"]["cause"], findings["verdict"]["denied_by"]) == (
        seeded.expected["cause"], seeded.expected["denied_by"])
    assert not [g for g in findings["gaps"] if g["call"].startswith(("athena:", "cloudtrail:"))]
    ran = [e for k, e in athena_world().executions.items()
           if k not in before and f"'{seeded.instance_id}'" in e.parameters]
    # the window's query and the look-back for changes (which looks for the instance's earlier launches)
    assert len(ran) == 2 and all(e.state == "SUCCEEDED" and e.result and e.result.rows for e in ran)
