"""CloudTrail log files in the trail bucket: the real key layout, gzipped Records equal to LookupEvents."""

from __future__ import annotations

import gzip
import json
import re
from datetime import timedelta

KEY = re.compile(r"^AWSLogs/(?P<acct>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
                 r"(?P=acct)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$")


def test_log_files_decompress_to_the_records_lookup_events_serves(sim, sim_client):
    s3, cloudtrail = sim_client("s3"), sim_client("cloudtrail")
    [trail] = cloudtrail.describe_trails()["trailList"]
    assert trail["IsMultiRegionTrail"] is True
    bucket = trail["S3BucketName"]
    prefix = "AWSLogs/123456789012/CloudTrail/eu-west-1/"
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]
    assert keys
    delivered: dict[str, dict] = {}
    for key in keys:
        match = KEY.match(key)
        assert match, key
        assert match["stamp"].startswith(match["y"] + match["m"] + match["d"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        document = json.loads(gzip.decompress(body))
        assert list(document) == ["Records"]
        for record in document["Records"]:
            assert (record["recipientAccountId"], record["awsRegion"]) == ("123456789012", "eu-west-1")
            assert record["eventID"] not in delivered, "each event is delivered once"
            delivered[record["eventID"]] = record
    times = [s.launched_at for s in sim.seeded if s.launched_at]
    window = {"StartTime": min(times) - timedelta(hours=4), "EndTime": max(times) + timedelta(minutes=5)}
    looked_up = {e["EventId"]: json.loads(e["CloudTrailEvent"])
                 for page in cloudtrail.get_paginator("lookup_events").paginate(**window) for e in page["Events"]}
    in_window = {k: v for k, v in delivered.items() if k in looked_up or
                 window["StartTime"].strftime("%Y-%m-%dT%H:%M:%SZ") <= v["eventTime"]
                 <= window["EndTime"].strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert in_window == looked_up


def test_log_file_time_stamps_follow_their_records(sim, sim_client):
    s3 = sim_client("s3")
    bucket = "aws-cloudtrail-logs-123456789012-management"
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="AWSLogs/123456789012/CloudTrail/eu-central-1/") for o in page.get("Contents", [])]
    assert keys
    for key in keys:
        stamp = KEY.match(key)["stamp"]
        records = json.loads(gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))["Records"]
        newest = max(r["eventTime"] for r in records)
        delivered = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:00Z"
        assert delivered >= newest[:17] + "00Z", "a file is delivered after its newest record"
