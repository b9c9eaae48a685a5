"""Throttling gives the same evidence as none: LookupEvents at AWS's 2 requests/s, retried by botocore.

A second simulator server over the same simulated world runs the throttle; its token bucket is drained
before collecting, so the collection's LookupEvents calls are refused at first and must be retried.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from kit.collect.live import collect_live
from kit.evidence import Evidence


def session_for(sim) -> boto3.Session:
    env = sim.environ()
    return boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                         region_name="eu-west-1")


def collect(sim, seed, sent: list[str], compete: int = 0) -> Evidence:
    """Collect; before the first `compete` LookupEvents requests leave, another client of the same account
    spends the account's LookupEvents budget (as a second tool polling CloudTrail would)."""
    session = session_for(sim)
    session.events.register("before-send", lambda request, **_: sent.append(request.url))
    competing = {"left": compete}

    def spend_budget(**_: Any) -> None:
        if competing["left"] > 0:
            competing["left"] -= 1
            assert drain(sim) > 0

    session.events.register("before-send.cloudtrail.LookupEvents", spend_budget)
    return collect_live(seed.instance_id, seed.region, session=session)


def drain(sim) -> int:
    """Spend the LookupEvents tokens with unretried calls until one is refused; returns how many were."""
    from botocore.config import Config

    client = session_for(sim).client("cloudtrail", endpoint_url=sim.endpoint_url,
                                     config=Config(retries={"mode": "standard", "max_attempts": 1}))
    for _ in range(50):
        try:
            client.lookup_events(MaxResults=1)
        except client.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] == "ThrottlingException"
            return 1
    return 0


@pytest.fixture(scope="module")
def throttled(sim) -> Iterator[Any]:
    from kit.simulate import SimulatedAccount

    with SimulatedAccount(throttle=True) as account:
        yield account


def test_throttled_lookups_are_retried_into_the_same_evidence(sim, throttled, monkeypatch):
    seed = sim.scenario("seed")
    monkeypatch.setenv("AWS_ENDPOINT_URL", sim.endpoint_url)
    plain_sent: list[str] = []
    plain = collect(sim, seed, plain_sent)

    monkeypatch.setenv("AWS_ENDPOINT_URL", throttled.endpoint_url)
    throttled_sent: list[str] = []
    slow = collect(throttled, seed, throttled_sent, compete=2)

    assert len(throttled_sent) > len(slow.calls)  # some requests were refused and sent again
    assert len(plain_sent) == len(plain.calls)
    assert slow.documents == plain.documents
    assert slow.gaps == plain.gaps
    assert Counter(c["operation"] for c in slow.calls) == Counter(c["operation"] for c in plain.calls)
    assert not any(g.error == "ThrottlingException" for g in slow.gaps)
