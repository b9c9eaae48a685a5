"""CloudTrail delivery: records go to the trail (what LookupEvents serves) and, as gzipped log files, to the
recipient account's trail bucket, and to the organisation trail's bucket in the management account
(`AWSLogs/o-xxxx/<account>/CloudTrail/...`) with its chained digest files (`CloudTrail-Digest/`)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from kit.simulate.records import lookup_resources
from kit.simulate.trail import delivered_files, log_files
from kit.simulate.world import MANAGEMENT_ACCOUNT, world

TRAIL_NAME = "management-events"


def org_trail_bucket() -> str:
    """The organisation trail's bucket, in the management account."""
    return f"aws-cloudtrail-logs-{MANAGEMENT_ACCOUNT}-organization"


def trail_bucket(account_id: str) -> str:
    """The S3 bucket the account's trail delivers log files to."""
    return f"aws-cloudtrail-logs-{account_id}-management"


def publish(events: list[dict[str, Any]]) -> None:
    """Store records in the trail (for LookupEvents) and deliver them as log files to the trail buckets; KMS
    management events of an account and Region whose trail leaves them out (a scenario's `trail`) are not
    recorded at all."""
    from moto.s3.models import s3_backends

    w = world()
    trail = w.trail
    events = [r for r in events if not (r.get("eventSource") == "kms.amazonaws.com" and (
        str(r.get("recipientAccountId")), str(r.get("awsRegion"))) in w.kms_unrecorded)]
    for record in events:
        trail.add(record, lookup_resources(record))
    for key, body in log_files(events):
        account_id = key.split("/")[1]
        s3_backends[account_id]["aws"].put_object(trail_bucket(account_id), key, body)
    chain = world().org_trail
    if chain is None:  # no organisation yet
        return
    backend = s3_backends[MANAGEMENT_ACCOUNT]["aws"]
    files = delivered_files(events, chain.org_id)
    for f in files:
        backend.put_object(chain.bucket, f.key, f.body)
    for key, body, signature in chain.digests(files, datetime.now(timezone.utc)):
        stored = backend.put_object(chain.bucket, key, body)
        stored.set_metadata({"x-amz-meta-signature": signature, "x-amz-meta-signature-algorithm": "SHA256withRSA"})
