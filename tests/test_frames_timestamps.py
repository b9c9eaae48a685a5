"""Timestamps: every way the AWS CLI v1/v2 and the live collector print an instant gives the same UTC instant."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.frames.timestamps import iso, to_utc, utc_series

instants = st.datetimes(
    min_value=datetime(2006, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(timezone.utc)
).map(lambda d: d.replace(microsecond=(d.microsecond // 1000) * 1000))  # AWS prints milliseconds at most
offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=200, deadline=None)
@given(instants, offsets)
def test_every_printed_form_is_the_same_instant(instant, offset):
    expected = pd.Timestamp(instant)
    forms = [
        instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z",  # EC2 (XML) via CLI v1
        instant.isoformat(),  # live collector (datetime.isoformat)
        instant.astimezone(offset).isoformat(),  # CLI v2 may print a local offset
        instant.timestamp(),  # KMS / CloudTrail (JSON) via CLI v1: epoch seconds
        int(instant.timestamp() * 1000) if instant.microsecond == 0 else instant.timestamp(),
        str(instant.timestamp()),
        instant,
    ]
    for form in forms:
        assert to_utc(form) == expected, form
    assert to_utc(iso(instant)) == expected
    series = utc_series(forms + [None, "not a time"])
    assert str(series.dtype) == "datetime64[ns, UTC]"
    assert (series.iloc[: len(forms)] == expected).all()
    assert series.iloc[len(forms):].isna().all()


def test_naive_values_are_utc_and_missing_values_are_none():
    assert to_utc("2024-05-01T10:00:00") == pd.Timestamp("2024-05-01T10:00:00Z")
    for missing in (None, "", float("nan"), True, {}, "garbage"):
        assert to_utc(missing) is None


def test_instants_a_nanosecond_frame_cannot_hold_are_none_not_a_crash():
    """Epoch numbers near 2**63 (a corrupted CreationDate), years past 2262 or before 1677: None, and a frame
    column of them is NaT beside the values that are fine."""
    for outside in (9_223_372_036_854_775, 9_223_372_036_855, 1e300, float("inf"), "9999-01-01T00:00:00Z",
                    "1500-01-01", datetime(9999, 1, 1, tzinfo=timezone.utc)):
        assert to_utc(outside) is None, outside
    series = utc_series([9_223_372_036_855, 1_714_641_302, "9999-01-01"])
    assert series.isna().tolist() == [True, False, True]
    assert series.iloc[1] == pd.Timestamp("2024-05-02T09:15:02Z")
