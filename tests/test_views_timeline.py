"""The timeline picture's points come straight from the findings' timeline frame (kit.diagnose.timeline)."""

from __future__ import annotations

import pandas as pd

from kit.collect.live import collect_live
from kit.diagnose import diagnose
from kit.diagnose.timeline import COLUMNS
from kit.views.timeline import LANES, points_from_timeline


def test_points_keep_each_moment_in_its_lane_with_the_kms_failure_marked(sim, sim_env) -> None:
    seeded = sim.scenario("seed")
    timeline = diagnose(collect_live(seeded.instance_id, seeded.region)).timeline
    assert list(timeline.columns) == COLUMNS
    points = points_from_timeline(timeline)
    assert list(points.columns) == ["time", "lane", "label", "error", "approximate"]
    assert list(points["label"]) == list(timeline["label"]) and list(points["lane"]) == list(timeline["kind"])
    assert {"state", "launch", "kms"} <= set(points["lane"]) <= set(LANES)
    failed = points[points["error"]]
    assert list(failed["lane"]) == ["kms"] and failed["label"].iloc[0].endswith("failed: AccessDenied")
    assert points["time"].is_monotonic_increasing and str(points["time"].dt.tz) == "UTC"


def test_an_undated_moment_is_not_drawn_and_an_unknown_kind_goes_to_other() -> None:
    timeline = pd.DataFrame([
        {"time": pd.Timestamp("2024-01-01T10:00:00Z"), "kind": "launch", "event_name": "StartInstances",
         "event_source": "ec2.amazonaws.com", "error_code": None, "label": "StartInstances by role/x"},
        {"time": pd.NaT, "kind": "state", "event_name": "StateTransition", "event_source": None,
         "error_code": None, "label": "no time"},
        {"time": pd.Timestamp("2024-01-01T10:00:03Z"), "kind": "audit", "event_name": "Decrypt",
         "event_source": "kms.amazonaws.com", "error_code": "AccessDenied", "label": "Decrypt failed: AccessDenied"},
    ], columns=COLUMNS)
    points = points_from_timeline(timeline)
    assert list(points["label"]) == ["StartInstances by role/x", "Decrypt failed: AccessDenied"]
    assert list(points["lane"]) == ["launch", "other"] and list(points["error"]) == [False, True]
    assert len(points_from_timeline(None)) == 0 and len(points_from_timeline(pd.DataFrame(columns=COLUMNS))) == 0
