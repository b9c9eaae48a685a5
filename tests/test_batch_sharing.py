"""Shared evidence: incidents of one account read what they have in common once, and get the same evidence.

kit.collect's live collector runs unchanged against the simulated account over HTTP, once through plain
boto3 sessions and once through one SharingSession; the evidence must be identical, with far fewer calls.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit.batch.sharing import SharingSession, _merge, _missing
from kit.collect.cloudtrail_window import CollectWindow
from kit.collect.live import collect_live

pytestmark = pytest.mark.xdist_group("batch-fleet")

REGION = "sa-east-1"  # a Region no other test seeds into
FLEET = 3


@pytest.fixture(scope="module")
def outage(sim):
    """Three instances failing on one disabled key (the seeder reuses a scenario's named key)."""
    return [sim.seed("key-disabled", region=REGION) for _ in range(FLEET)]


def _counting(session: boto3.Session) -> Counter[str]:
    """Count the calls that really go to the endpoint (a before-call handler that answers stops the chain)."""
    sent: Counter[str] = Counter()

    def count(model, **_):
        sent[f"{model.service_model.service_name}:{model.name}"] += 1

    session.events.register_last("before-call", count)
    return sent


def _call_log(evidence) -> Counter[str]:
    """The calls of a collection's log (operation and parameters), whatever their order; the look-back's "to
    now" end and the moments of the calls aside."""
    import json

    return Counter(json.dumps([c["operation"], {k: v for k, v in c["params"].items() if k != "EndTime"}],
                              sort_keys=True, default=str) for c in evidence.calls)


def _without_now(parameters: dict) -> dict:
    """The parameters but the change look-back's end, which is the moment of collection ("to now")."""
    window = parameters.get("change_window")
    return {**parameters, "change_window": {**window, "end": None}} if isinstance(window, dict) else parameters


def test_shared_collection_gives_the_same_evidence_with_each_common_call_made_once(sim_env, outage) -> None:
    assert len({s.expected["key_arn"] for s in outage}) == 1

    plain_session = boto3.Session(region_name=REGION)
    plain_calls = _counting(plain_session)
    # the incident's calls only: the look-back for changes (its own budget) is shared by the same mechanism
    window = CollectWindow(change_lookback_days=0)
    plain = [collect_live(s.instance_id, s.region, session=plain_session, window=window) for s in outage]

    shared_session = SharingSession(boto3.Session(region_name=REGION))
    shared_calls = _counting(shared_session)
    shared = [collect_live(s.instance_id, s.region, session=shared_session, window=window) for s in outage]

    for alone, together in zip(plain, shared):
        assert together.documents == alone.documents
        assert [g.to_dict() for g in together.gaps] == [g.to_dict() for g in alone.gaps]
        assert _without_now(together.parameters) == _without_now(alone.parameters)
        assert len(together.calls) == len(alone.calls)  # the collector's own call log is unchanged
        assert _call_log(together) == _call_log(alone)  # the same calls, each in its own incident's log

    for call in ("kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants", "kms:ListAliases",
                 "iam:GetAccountAuthorizationDetails", "sts:GetCallerIdentity"):
        assert plain_calls[call] >= FLEET, call
        assert shared_calls[call] == plain_calls[call] // FLEET, call
    assert shared_calls["ec2:DescribeInstances"] == FLEET  # each instance is its own
    # CloudTrail: each instance's own events, plus one read of the key's window serving every instance
    assert plain_calls["cloudtrail:LookupEvents"] == 2 * FLEET
    assert shared_calls["cloudtrail:LookupEvents"] == FLEET + 1
    assert sum(shared_calls.values()) < sum(plain_calls.values())
    stats = shared_session.shared.stats()
    assert stats["calls_shared"] > 0


def test_concurrent_collections_wait_for_the_call_in_flight(sim_env, outage) -> None:
    from concurrent.futures import ThreadPoolExecutor

    session = SharingSession(boto3.Session(region_name=REGION))
    sent = _counting(session)
    with ThreadPoolExecutor(FLEET) as pool:
        evidence = list(pool.map(lambda s: collect_live(s.instance_id, s.region, session=session), outage))
    assert [e.instance_id for e in evidence] == [s.instance_id for s in outage]
    for each in evidence:  # clients are shared by the collections: each log still holds its own calls only
        described = [c["params"]["InstanceIds"] for c in each.calls if c["operation"] == "ec2:DescribeInstances"
                     and "InstanceIds" in c["params"]]
        assert described and all(ids == [each.instance_id] for ids in described), described
        assert sum(1 for c in each.calls if c["operation"] == "sts:GetCallerIdentity") == 1
    assert sent["kms:DescribeKey"] == 1 and sent["iam:GetAccountAuthorizationDetails"] >= 1
    assert sent["iam:GetAccountAuthorizationDetails"] < FLEET


_T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
_minutes = st.integers(min_value=0, max_value=600)
_interval = st.tuples(_minutes, _minutes).map(lambda p: (min(p), max(p)))


@given(covered=st.lists(_interval, max_size=6), wanted=_interval)
def test_missing_parts_and_covered_parts_make_up_the_window(covered, wanted) -> None:
    def at(minute: int) -> datetime:
        return _T0 + timedelta(minutes=minute)

    merged = _merge([(at(a), at(b)) for a, b in covered])
    start, end = at(wanted[0]), at(wanted[1])
    gaps = _missing(merged, start, end)
    for low, high in gaps:
        assert start <= low <= high <= end
    # every minute of the window is covered already or inside a gap to read
    for minute in range(wanted[0], wanted[1] + 1):
        point = at(minute)
        assert any(a <= point <= b for a, b in merged) or any(a <= point <= b for a, b in gaps), minute
    # nothing wholly covered is read again
    if any(a <= start and end <= b for a, b in merged):
        assert gaps == []


@pytest.mark.parametrize("code, status, shared", [
    ("AccessDeniedException", 400, True),  # what the account allows: the same for every incident
    ("ExpiredToken", 400, False),  # the caller's credentials were stale: the next call (refreshed) may pass
    ("InvalidClientTokenId", 403, False),
    ("ThrottlingException", 400, False),
    ("InternalFailure", 500, False),
])
def test_refusals_are_shared_only_when_they_say_what_the_account_allows(code, status, shared) -> None:
    from types import SimpleNamespace

    from kit.batch.sharing import _shareable

    assert _shareable(SimpleNamespace(status_code=status), {"Error": {"Code": code}}) is shared
