"""CloudTrail LookupEvents on the simulated account, against the real API's rules, over real HTTP."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError


def lookup_all(cloudtrail, **params) -> list[dict]:
    pages = cloudtrail.get_paginator("lookup_events").paginate(**params)
    return [event for page in pages for event in page["Events"]]


def attribute(key: str, value: str) -> dict:
    return {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]}


@pytest.fixture(scope="module")
def seed_events(sim, sim_client) -> list[dict]:
    """The seed's key's events (refused CreateGrant by user test), decoded."""
    events = lookup_all(sim_client("cloudtrail"), **attribute("ResourceName", sim.scenario("seed").expected["key_arn"]))
    return [json.loads(e["CloudTrailEvent"]) for e in events]


@pytest.fixture(scope="module")
def window(sim) -> dict:
    """A time range that holds every seeded launch and excludes later replays."""
    times = [s.launched_at for s in sim.seeded if s.launched_at]
    return {"StartTime": min(times) - timedelta(hours=4), "EndTime": max(times) + timedelta(minutes=5)}


@pytest.mark.parametrize("key, value_of, check", [
    ("EventName", lambda r: "CreateGrant", lambda r, v: r["eventName"] == v),
    ("EventSource", lambda r: "kms.amazonaws.com", lambda r, v: r["eventSource"] == v),
    ("EventId", lambda r: r["eventID"], lambda r, v: r["eventID"] == v),
    ("ReadOnly", lambda r: "false", lambda r, v: r["readOnly"] is False),
    ("Username", lambda r: "test", lambda r, v: r["userIdentity"].get("userName") == v),
    ("AccessKeyId", lambda r: r["userIdentity"]["accessKeyId"], lambda r, v: r["userIdentity"]["accessKeyId"] == v),
    ("ResourceType", lambda r: "AWS::KMS::Key",
     lambda r, v: any(res["type"] == v for res in r.get("resources", []))),
    ("ResourceName", lambda r: r["resources"][0]["ARN"],
     lambda r, v: any(res["ARN"] == v for res in r.get("resources", []))),
])
def test_each_lookup_attribute_selects_exactly_its_events(sim_client, seed_events, key, value_of, check):
    grant = next(r for r in seed_events if r["eventName"] == "CreateGrant")
    value = value_of(grant)
    events = lookup_all(sim_client("cloudtrail"), **attribute(key, value))
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    assert grant["eventID"] in {r["eventID"] for r in records}
    assert records and all(check(r, value) for r in records)
    if key == "EventId":
        assert len(records) == 1


def test_read_only_true_finds_the_describe_noise(sim_client):
    events = lookup_all(sim_client("cloudtrail"), **attribute("ReadOnly", "true"))
    names = {e["EventName"] for e in events}
    assert "DescribeInstances" in names
    assert all(e["ReadOnly"] == "true" for e in events)
    assert "StartInstances" not in names


def test_username_of_a_role_session_is_the_session_name(sim, sim_client):
    events = lookup_all(sim_client("cloudtrail"), **attribute("Username", "alice@example.com"))
    assert events
    for event in events:
        identity = json.loads(event["CloudTrailEvent"])["userIdentity"]
        assert identity["type"] == "AssumedRole"
        assert identity["sessionContext"]["sessionIssuer"]["arn"] == sim.scenario("sso-role").principal_arn


def test_event_shape_is_the_real_api_shape(sim, sim_client):
    seed = sim.scenario("seed")
    response = sim_client("cloudtrail").lookup_events(**attribute("ResourceName", seed.instance_id))
    event = next(e for e in response["Events"] if e["EventName"] == "StartInstances")
    assert set(event) >= {"EventId", "EventName", "ReadOnly", "AccessKeyId", "EventTime", "EventSource", "Username",
                          "Resources", "CloudTrailEvent"}
    assert isinstance(event["CloudTrailEvent"], str)
    assert {"ResourceType": "AWS::EC2::Instance", "ResourceName": seed.instance_id} in event["Resources"]
    record = json.loads(event["CloudTrailEvent"])
    assert record["eventID"] == event["EventId"]
    assert record["eventVersion"] == "1.09" and record["tlsDetails"]["clientProvidedHostHeader"] == \
        "ec2.eu-west-1.amazonaws.com"
    assert record["responseElements"]["instancesSet"]["items"][0]["currentState"] == {"code": 0, "name": "pending"}
    assert "errorCode" not in record


def test_time_range_is_inclusive_and_filters(sim, sim_client):
    seed = sim.scenario("seed")
    cloudtrail = sim_client("cloudtrail")
    launch = seed.launched_at
    exact = lookup_all(cloudtrail, StartTime=launch, EndTime=launch, **attribute("ResourceName", seed.instance_id))
    assert [e["EventName"] for e in exact] == ["StartInstances"]
    before = lookup_all(cloudtrail, EndTime=launch - timedelta(seconds=1), **attribute("ResourceName", seed.instance_id))
    assert before == []
    kms_after = lookup_all(cloudtrail, StartTime=launch + timedelta(seconds=1), EndTime=launch + timedelta(minutes=1),
                           **attribute("ResourceName", seed.expected["key_arn"]))
    assert kms_after, "EC2's CreateGrant follows the start call"
    assert all(launch + timedelta(seconds=1) <= e["EventTime"] <= launch + timedelta(minutes=1) for e in kms_after)
    mine = [e["EventName"] for e in kms_after if seed.instance_id in e["CloudTrailEvent"]]
    assert mine == ["CreateGrant"]     # (later seedings of `seed` reuse the key and may fall in the window)


def test_pagination_is_newest_first_without_gaps_or_repeats(sim_client, window):
    cloudtrail = sim_client("cloudtrail")
    whole = lookup_all(cloudtrail, **window)
    assert len(whole) > 50, "enough events for more than one full page"
    pages = list(cloudtrail.get_paginator("lookup_events").paginate(PaginationConfig={"PageSize": 7}, **window))
    assert len(pages) > 2
    assert all(len(page["Events"]) <= 7 for page in pages)
    assert all("NextToken" in page for page in pages[:-1]) and "NextToken" not in pages[-1]
    paged = [e for page in pages for e in page["Events"]]
    assert [e["EventId"] for e in paged] == [e["EventId"] for e in whole]
    times = [e["EventTime"] for e in paged]
    assert times == sorted(times, reverse=True)
    first = cloudtrail.lookup_events(**window)
    assert len(first["Events"]) == 50 and "NextToken" in first     # default and maximum page: 50


def error_of(call, **params) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value


@pytest.fixture(scope="module")
def raw_cloudtrail(sim_client):
    """A client that sends what botocore would refuse locally, so the service's own validation answers."""
    return sim_client("cloudtrail", parameter_validation=False, retries={"max_attempts": 1})


@pytest.mark.parametrize("params, code", [
    ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateGrant"},
                           {"AttributeKey": "Username", "AttributeValue": "test"}]}, "InvalidLookupAttributesException"),
    ({"LookupAttributes": [{"AttributeKey": "Bogus", "AttributeValue": "x"}]}, "InvalidLookupAttributesException"),
    ({"LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "maybe"}]},
     "InvalidLookupAttributesException"),
    ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": ""}]}, "InvalidLookupAttributesException"),
    ({"StartTime": datetime(2026, 1, 2, tzinfo=timezone.utc), "EndTime": datetime(2026, 1, 1, tzinfo=timezone.utc)},
     "InvalidTimeRangeException"),
    ({"MaxResults": 0}, "InvalidMaxResultsException"),
    ({"MaxResults": 51}, "InvalidMaxResultsException"),
    ({"NextToken": "not-a-token"}, "InvalidNextTokenException"),
    ({"EventCategory": "data"}, "InvalidEventCategoryException"),
])
def test_bad_requests_get_the_real_error_codes(raw_cloudtrail, params, code):
    error = error_of(raw_cloudtrail.lookup_events, **params)
    assert error.response["Error"]["Code"] == code
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_next_token_is_bound_to_its_request(raw_cloudtrail):
    first = raw_cloudtrail.lookup_events(MaxResults=2, **attribute("EventSource", "ec2.amazonaws.com"))
    assert "NextToken" in first
    error = error_of(raw_cloudtrail.lookup_events, MaxResults=2, NextToken=first["NextToken"],
                     **attribute("EventSource", "kms.amazonaws.com"))
    assert error.response["Error"]["Code"] == "InvalidNextTokenException"
    second = raw_cloudtrail.lookup_events(MaxResults=2, NextToken=first["NextToken"],
                                          **attribute("EventSource", "ec2.amazonaws.com"))
    assert {e["EventId"] for e in second["Events"]}.isdisjoint({e["EventId"] for e in first["Events"]})


def test_insight_category_is_empty(raw_cloudtrail):
    assert raw_cloudtrail.lookup_events(EventCategory="insight")["Events"] == []


def test_events_are_per_account_and_region(sim, sim_client):
    central = lookup_all(sim_client("cloudtrail", region="eu-central-1"))
    assert central and all(json.loads(e["CloudTrailEvent"])["awsRegion"] == "eu-central-1" for e in central)
    default_key = sim.scenario("default-ebs-key")
    assert any(e["EventName"] == "RunInstances" and
               {"ResourceType": "AWS::EC2::Instance", "ResourceName": default_key.instance_id} in e["Resources"]
               for e in central)


def test_cross_account_key_event_is_also_delivered_to_the_key_owner(sim, sim_client):
    """CloudTrail gives the key's account its own copy of a cross-account KMS call (same sharedEventID)."""
    import boto3

    key_arn = sim.scenario("cross-account-key").expected["key_arn"]
    credentials = sim_client("sts").assume_role(
        RoleArn="arn:aws:iam::444455556666:role/OrganizationAccountAccessRole", RoleSessionName="kit")["Credentials"]
    owner = boto3.client("cloudtrail", region_name="eu-west-1", endpoint_url=sim.endpoint_url,
                         aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"])
    theirs = [json.loads(e["CloudTrailEvent"]) for e in lookup_all(owner, **attribute("ResourceName", key_arn))]
    ours = [json.loads(e["CloudTrailEvent"])
            for e in lookup_all(sim_client("cloudtrail"), **attribute("ResourceName", key_arn))]
    assert theirs and ours
    assert {r["recipientAccountId"] for r in theirs} == {"444455556666"}
    assert {r["sharedEventID"] for r in theirs} == {r["sharedEventID"] for r in ours}


def test_throttle_answers_throttling_exception_and_botocore_retries_it(sim):
    import boto3
    from botocore.config import Config

    from kit.simulate import SimulatedAccount

    with SimulatedAccount(throttle=True) as throttled:   # a second server on the same simulated world
        env = throttled.environ()

        def client(region: str, **config):
            return boto3.client("cloudtrail", region_name=region, endpoint_url=throttled.endpoint_url,
                                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], config=Config(**config))

        no_retry = client("eu-west-1", retries={"max_attempts": 1})
        refused = None
        for _ in range(50):
            try:
                no_retry.lookup_events(MaxResults=1)
            except ClientError as exc:
                refused = exc
                break
        assert refused is not None, "more than 2 requests a second are throttled"
        assert refused.response["Error"]["Code"] == "ThrottlingException"
        assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        # the bucket is per account and Region: another Region still has its tokens
        assert client("eu-central-1", retries={"max_attempts": 1}).lookup_events(MaxResults=1)["Events"]

        retrying = client("eu-west-1", retries={"mode": "standard", "max_attempts": 10})
        attempts = [retrying.lookup_events(MaxResults=1)["ResponseMetadata"]["RetryAttempts"] for _ in range(6)]
        assert sum(attempts) > 0, "botocore retried the throttled calls and they succeeded"
    # the session's own server is not throttled
    plain = boto3.client("cloudtrail", region_name="eu-west-1", endpoint_url=sim.endpoint_url,
                         aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                         config=Config(retries={"max_attempts": 1}))
    for _ in range(6):
        plain.lookup_events(MaxResults=1)


def test_lookup_sees_only_the_last_90_days_but_the_log_files_keep_everything(sim, sim_client):
    """An old record seeded into the trail: gone from LookupEvents, still in the trail bucket."""
    import gzip

    from kit.simulate.logs import publish
    from kit.simulate.records import describe
    from kit.simulate.world import world

    viewer = world().noise_principals["123456789012"]
    old = describe(viewer, "DescribeInstances", "eu-west-1", datetime.now(timezone.utc) - timedelta(days=91))
    recent = describe(viewer, "DescribeInstances", "eu-west-1", datetime.now(timezone.utc) - timedelta(days=89))
    publish([old, recent])
    cloudtrail = sim_client("cloudtrail")
    assert lookup_all(cloudtrail, **attribute("EventId", old["eventID"])) == []
    assert [e["EventId"] for e in lookup_all(cloudtrail, **attribute("EventId", recent["eventID"]))] == \
        [recent["eventID"]]
    day = old["eventTime"][:10].replace("-", "/")
    s3 = sim_client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(
        Bucket="aws-cloudtrail-logs-123456789012-management",
        Prefix=f"AWSLogs/123456789012/CloudTrail/eu-west-1/{day}/")["Contents"]]
    delivered = [r["eventID"] for k in keys for r in json.loads(gzip.decompress(
        s3.get_object(Bucket="aws-cloudtrail-logs-123456789012-management", Key=k)["Body"].read()))["Records"]]
    assert old["eventID"] in delivered


ATTRIBUTES = [None, ("EventSource", "ec2.amazonaws.com"), ("EventSource", "kms.amazonaws.com"),
              ("ReadOnly", "true"), ("ReadOnly", "false"), ("Username", "test"), ("Username", "ops-viewer"),
              ("ResourceType", "AWS::EC2::Instance"), ("EventName", "CreateGrant")]


def test_any_page_size_and_attribute_pages_to_the_same_newest_first_list(sim_client, window):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    cloudtrail = sim_client("cloudtrail")
    paginator = cloudtrail.get_paginator("lookup_events")

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(page_size=st.integers(min_value=1, max_value=50), chosen=st.sampled_from(ATTRIBUTES))
    def check(page_size: int, chosen):
        params = dict(window, **(attribute(*chosen) if chosen else {}))
        pages = list(paginator.paginate(PaginationConfig={"PageSize": page_size}, **params))
        paged = [e for page in pages for e in page["Events"]]
        whole = [e for page in paginator.paginate(**params) for e in page["Events"]]
        assert [e["EventId"] for e in paged] == [e["EventId"] for e in whole]
        assert len({e["EventId"] for e in paged}) == len(paged)
        assert all(len(page["Events"]) <= page_size for page in pages)
        keys = [(e["EventTime"], e["EventId"]) for e in paged]
        assert keys == sorted(keys, reverse=True)

    check()
