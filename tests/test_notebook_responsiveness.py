"""The notebook answers quickly without ever showing a wrong answer, against the simulated account over HTTP:
responses reused across window changes (kit.collect.memo) give the findings a fresh investigation gives; the
listed instances are investigated in the background (kit.notebook.prefetch); a slow pick of A overtaken by a
pick of B never puts A's verdict on screen after B's."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from kit.collect.clients import CallRecorder, ReadOnlyClients, make_session
from kit.collect.cloudtrail_lookup import lookup_events
from kit.collect.cloudtrail_window import TimeRange, parse_time
from kit.collect.fetcher import Fetcher
from kit.collect.memo import MAX_AGE, ResponseMemo
from kit.notebook.controls import InvestigationControls
from kit.notebook.investigation import Investigation
from kit.params import validate
from kit.simulate import SimulatedAccount

REGION = "eu-west-1"
SCENARIOS = ("seed", "key-disabled", "scp-deny")


@pytest.fixture(scope="module")
def account() -> Iterator[SimulatedAccount]:
    """Three incidents with three different causes in one Region, and the process pointed at them."""
    with SimulatedAccount(scenarios=[]) as sim, pytest.MonkeyPatch.context() as patch:
        for name in SCENARIOS:
            sim.seed(name, region=REGION)
            time.sleep(1.1)  # launches in different seconds (CloudTrail's resolution): ranges can split them
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
            patch.delenv(name, raising=False)
        for name, value in sim.environ(REGION).items():
            patch.setenv(name, value)
        yield sim


def _seeded(account: SimulatedAccount, name: str) -> str:
    return next(s.instance_id for s in account.seeded if s.name == name)


def _comparable(investigation: Investigation) -> str:
    """The findings as the reader gets them, without the run's own times (when it was collected)."""
    findings = dict(investigation.findings_dict())
    for name in ("investigated_at", "kit_version"):
        findings.pop(name, None)
    findings["evidence_source"] = {k: v for k, v in findings["evidence_source"].items() if k != "collected_at"}
    return json.dumps(findings, sort_keys=True, default=str)


def _fresh(params) -> str:  # type: ignore[no-untyped-def]
    """A new investigation of `params`, nothing reused."""
    fresh = Investigation(params)
    fresh.analyse()
    return _comparable(fresh)


def _interactive(account: SimulatedAccount, name: str = "seed") -> Investigation:
    investigation = Investigation.start(validate({"instance_id": _seeded(account, name), "region": REGION,
                                                  "interactive": True}))
    investigation.show_verdict()
    investigation.show_manual_step(2)
    return investigation


def test_window_change_reads_only_cloudtrail_and_finds_what_a_fresh_investigation_finds(
        account: SimulatedAccount) -> None:
    investigation = _interactive(account)
    controls = InvestigationControls(investigation, failed=None)
    investigation.prefetcher.cancel()  # this test counts the calls of the window changes alone
    investigation.prefetcher.wait_idle(120)
    changes = [(lambda: controls.presets[1].click(), (60, 60)), (lambda: setattr(controls.window_before, "value", 5),
               (5, 60)), (lambda: controls.presets[3].click(), (1440, 1440)), (lambda: controls.presets[0].click(),
               (15, 15))]
    for change, window in changes:
        made = investigation.memo.made
        change()
        assert (investigation.params.window_before_minutes, investigation.params.window_after_minutes) == window
        sent = [c["operation"] for c in investigation.evidence.calls if not c.get("reused")]
        assert sent and set(sent) <= {"cloudtrail:LookupEvents"}, sent  # everything else was reused
        assert investigation.memo.made - made == len(sent)
        reused = [c for c in investigation.evidence.calls if c.get("reused")]
        assert reused and all(c["read_at"] <= c["at"] for c in reused)  # when the reused answer was read
        assert _comparable(investigation) == _fresh(investigation.params)
    assert 'data-cause="' in investigation.sections.named("verdict").html


def test_widened_and_narrowed_lookups_equal_fresh_lookups(account: SimulatedAccount) -> None:
    """CloudTrail held for one range answers a narrower one, and a wider one reads only what is missing: the
    launches of the seeded instances (StartInstances, at different times), held in part, then merged."""
    memo = ResponseMemo(delivery_delay=timedelta(0))  # the simulated events are seconds old: trust them at once
    query = ("StartInstances", "EventName", "StartInstances")

    def lookup(window: TimeRange, with_memo: bool) -> tuple[list[str], int]:
        recorder = CallRecorder()
        fetch = Fetcher(ReadOnlyClients(make_session(region=REGION), REGION, recorder),
                        memo=memo if with_memo else None)
        document = lookup_events(fetch, *query, window, 5) or {}
        sent = [c for c in recorder.calls if not c.get("reused")]
        return [e["EventId"] for e in document.get("Events", [])], len(sent)

    everything = TimeRange(parse_time("2000-01-01T00:00:00Z"), parse_time("2100-01-01T00:00:00Z"))
    fetch = Fetcher(ReadOnlyClients(make_session(region=REGION), REGION, CallRecorder()))
    times = sorted(parse_time(e["EventTime"]) for e in (lookup_events(fetch, *query, everything, 5) or {})["Events"])
    assert len(times) >= len(SCENARIOS)
    first, last = times[0], times[-1]
    assert first < last - timedelta(seconds=1)  # the second step reads the earlier launches and merges them
    while datetime.now(timezone.utc) <= last + timedelta(seconds=1):  # the ranges below end in the past
        time.sleep(0.1)
    second, hour = timedelta(seconds=1), timedelta(hours=1)
    steps = [(TimeRange(last - second / 2, last + second), 1),  # nothing held: read
             (TimeRange(first - second, last + second), 1),  # earlier only: the missing part alone, merged
             (TimeRange(first - second / 2, first + second / 2), 0),  # inside what is held: nothing read
             (TimeRange(first - hour, last + hour), 1),  # wider on both sides: read whole (one call, as fresh)
             (TimeRange(first - hour / 2, last + second), 0)]  # inside again
    for window, calls in steps:
        events, sent = lookup(window, True)
        assert sent == calls, window
        assert events and events == lookup(window, False)[0], window  # the same events, in the same order
    merged, _ = lookup(TimeRange(first - second, last + second), True)
    assert len(merged) >= len(SCENARIOS)


def test_listed_instances_are_investigated_in_the_background_and_picked_without_reading(
        account: SimulatedAccount) -> None:
    investigation = Investigation.start(validate({"region": REGION, "interactive": True}))
    investigation.show_verdict()
    controls = InvestigationControls(investigation)
    listed = set(controls.table_buttons)
    assert {_seeded(account, name) for name in SCENARIOS} <= listed
    assert investigation.prefetcher.wait_idle(300)
    assert investigation.prefetcher.done >= len(SCENARIOS)
    for name in SCENARIOS:
        made = investigation.memo.made
        controls.pick(_seeded(account, name))
        assert investigation.memo.made == made  # nothing read: the background had it
        cause = next(s.expected["cause"] for s in account.seeded if s.name == name)
        assert investigation.findings is not None and investigation.findings.verdict.cause == cause
        assert f'data-cause="{cause}"' in investigation.sections.named("verdict").html
        assert _comparable(investigation) == _fresh(investigation.params)


def test_region_change_drops_the_queued_background_work(account: SimulatedAccount) -> None:
    investigation = Investigation.start(validate({"region": REGION, "interactive": True}))
    controls = InvestigationControls(investigation)
    assert investigation.prefetcher.pending() > 0  # just listed: queued or running
    controls.region.value = "us-east-2"  # nothing failed there
    assert investigation.prefetcher.wait_idle(300)
    assert not controls.table_buttons and investigation.params.region == "us-east-2"
    assert investigation.prefetcher.done < len(SCENARIOS)  # at most the ones already running finished


def test_quick_pick_of_a_then_b_shows_b_and_never_a_after_it(account: SimulatedAccount) -> None:
    """A is slow (never investigated), B is instant (investigated before): the analyst picks A, then B before
    A's evidence is in. A's result arrives last and must not replace B's on screen."""
    a, b = _seeded(account, "scp-deny"), _seeded(account, "key-disabled")
    investigation = _interactive(account, "key-disabled")
    investigation.analyse(instance_id=_seeded(account, "seed"))  # B is now "seen before"
    shown: list[str] = []
    investigation.listeners.append(lambda: shown.append(investigation.params.instance_id))
    requested = investigation._requested
    picking_a = threading.Thread(target=investigation.analyse, kwargs={"instance_id": a})
    picking_a.start()
    while investigation._requested == requested and picking_a.is_alive():  # A is asked for before B
        time.sleep(0.001)
    investigation.analyse(instance_id=b)
    picking_a.join(timeout=300)
    assert not picking_a.is_alive()
    assert investigation.params.instance_id == b and investigation.findings.instance_id == b
    cause_b = next(s.expected["cause"] for s in account.seeded if s.instance_id == b)
    assert investigation.findings.verdict.cause == cause_b
    assert f'data-cause="{cause_b}"' in investigation.sections.named("verdict").html
    assert shown[shown.index(b):] == [b]  # once B was shown, nothing else was
    # A's analysis was not wasted: picking A now shows it without reading the account again
    made = investigation.memo.made
    investigation.analyse(instance_id=a)
    assert investigation.memo.made == made and investigation.findings.instance_id == a


def test_sections_are_drawn_again_only_when_their_inputs_change(account: SimulatedAccount) -> None:
    investigation = _interactive(account)
    verdict = investigation.sections.named("verdict")
    renders, first = verdict.renders, verdict.html
    investigation.sections.refresh()  # nothing changed: nothing drawn
    assert verdict.renders == renders and verdict.html == first
    investigation.analyse(instance_id=_seeded(account, "scp-deny"))
    assert verdict.renders == renders + 1 and verdict.html != first
    investigation.analyse(instance_id=_seeded(account, "seed"))  # back: drawn again, from the kept analysis
    assert verdict.renders == renders + 2 and verdict.html == first
    before = verdict.renders
    investigation.analyse(window_before_minutes=investigation.params.window_before_minutes + 5)
    assert verdict.renders == before + 1  # a new window is a new analysis: drawn again


def test_responses_are_reused_until_too_old_and_errors_never(account: SimulatedAccount) -> None:
    now = [datetime.now(timezone.utc)]
    memo = ResponseMemo(clock=lambda: now[0])

    def describe(instance: str) -> tuple[int, int]:
        """(calls sent, gaps) of one DescribeInstances through the memo."""
        recorder = CallRecorder()
        fetch = Fetcher(ReadOnlyClients(make_session(region=REGION), REGION, recorder), memo=memo)
        fetch.fetch("ec2.describe-instances.json", "ec2", "DescribeInstances", {"InstanceIds": [instance]})
        return len([c for c in recorder.calls if not c.get("reused")]), len(fetch.gaps)

    seed = _seeded(account, "seed")
    assert describe(seed) == (1, 0)
    assert describe(seed) == (0, 0)  # reused
    now[0] += MAX_AGE + timedelta(seconds=1)
    assert describe(seed) == (1, 0)  # too old: read again
    missing = "i-0000000000000dead"
    assert describe(missing) == (1, 1) and describe(missing) == (1, 1)  # an error is asked again, every time


def test_moving_answers_are_never_reused_and_callers_never_share() -> None:
    """An Athena query's progress and an S3 listing are asked again every time (a kept RUNNING would time the
    query out); one caller's answers are never given to another (another profile or access key)."""
    memo = ResponseMemo()
    answers = iter([{"QueryExecution": {"Status": {"State": s}}} for s in ("RUNNING", "SUCCEEDED")])
    poll = [memo.call("athena", "GetQueryExecution", REGION, {"QueryExecutionId": "q-1"}, None, None,
                      lambda _: next(answers))[0]["QueryExecution"]["Status"]["State"] for _ in range(2)]
    assert poll == ["RUNNING", "SUCCEEDED"]
    listings = iter([{"Contents": []}, {"Contents": [{"Key": "new.json.gz"}]}])
    listed = [memo.call("s3", "ListObjectsV2", REGION, {"Bucket": "b"}, None, None, lambda _: next(listings))[0]
              for _ in range(2)]
    assert listed[1]["Contents"] == [{"Key": "new.json.gz"}]
    asked: list[str] = []

    def read(who: str):
        return lambda _: asked.append(who) or {"Policy": who}

    mine = memo.call("kms", "GetKeyPolicy", REGION, {"KeyId": "k"}, None, None, read("me"), scope="default|AKIA1")
    theirs = memo.call("kms", "GetKeyPolicy", REGION, {"KeyId": "k"}, None, None, read("them"), scope="other|AKIA2")
    again = memo.call("kms", "GetKeyPolicy", REGION, {"KeyId": "k"}, None, None, read("me"), scope="default|AKIA1")
    assert (mine[0], theirs[0], again[0]) == ({"Policy": "me"}, {"Policy": "them"}, {"Policy": "me"})
    assert asked == ["me", "them"] and again[1] is not None  # the third came from memory
