"""History export: the range a supervisor may ask for, and hourly counters summed into rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.history import (
    HistoryRangeError,
    columns,
    history_rows,
    hour_bucket,
    parse_range,
    to_csv,
)


def test_hour_bucket_is_utc():
    assert hour_bucket(datetime(2026, 11, 24, 13, 59, tzinfo=UTC).timestamp()) == "2026112413"


def test_range_by_hour_includes_both_ends():
    r = parse_range("2026-11-24T22", "2026-11-25T01", "hour")
    assert r.all_hours() == ["2026112422", "2026112423", "2026112500", "2026112501"]


def test_range_by_day_and_offsets():
    r = parse_range("2026-11-24", "2026-11-25", "day")
    # the hotlines' days: 2026-11-24 in Beijing is 2026-11-23 16:00 UTC to 2026-11-24 16:00 UTC
    assert len(r.periods) == 2 and len(r.all_hours()) == 48
    assert (r.all_hours()[0], r.all_hours()[23], r.all_hours()[24]) == ("2026112316", "2026112415", "2026112416")
    late = parse_range("2026-11-24T17:00Z", "2026-11-24T17:00Z", "day")  # 01:00 on the 25th in Beijing
    assert late.all_hours()[0] == "2026112416"
    shanghai = parse_range("2026-11-24T08:00+08:00", "2026-11-24T08:00+08:00", "hour")
    assert shanghai.all_hours() == ["2026112400"]


@pytest.mark.parametrize("start,end,by,message", [
    (None, "2026-11-24", "hour", "from is required"),
    ("2026-11-24", "", "hour", "to is required"),
    ("yesterday", "2026-11-24", "day", "is not a date"),
    ("2026-13-01", "2026-11-24", "day", "is not a date"),
    ("2026-11-25", "2026-11-24", "day", "before"),
    ("2026-11-24", "2026-11-24", "week", "use hour or day"),
    ("2026-01-01", "2026-12-31", "hour", "at most 744"),
    ("2020-01-01", "2026-12-31", "day", "at most 400"),
    ("2026-11-24", "9999-12-31T23:00-05:00", "hour", "out of range"),
])
def test_bad_ranges_are_refused_with_400(start, end, by, message):
    with pytest.raises(HistoryRangeError, match=message) as info:
        parse_range(start, end, by)
    assert info.value.status == 400


def test_rows_sum_hours_into_days_with_rates():
    r = parse_range("2026-11-24", "2026-11-25", "day")
    counters = {("12345", "2026112409"): {"offered": "10", "answered": "6", "answered_within_sl": "3",
                                          "lost": "2", "wait_s_sum": "60", "transfers_to_110": "1"},
                ("12345", "2026112415"): {"offered": "2", "answered": "2", "answered_within_sl": "2",
                                          "wait_s_sum": "4.5", "junk": "x", "lost": "bad"},
                ("12345", "2026112416"): {"offered": "7"}}  # 00:00 on the 25th in Beijing
    rows = history_rows(r, ["12345", "110"], ["110", "12345"], counters)
    assert [(row["period"], row["site"]) for row in rows] == [
        ("2026-11-24", "12345"), ("2026-11-24", "110"), ("2026-11-25", "12345"), ("2026-11-25", "110")]
    day = rows[0]
    assert (day["offered"], day["answered"], day["lost"], day["transfers_to_110"]) == ("12", "8", "2", "1")
    assert (day["answer_rate"], day["service_level"], day["mean_wait_s"]) == ("0.8000", "0.5000", "8.1")
    assert rows[1]["answer_rate"] == "" and rows[1]["offered"] == "0"
    assert rows[2]["offered"] == "7"  # counted on the Beijing day it happened
    text = to_csv(rows, columns(["110", "12345"]))
    lines = text.splitlines()
    assert lines[0].startswith("period,site,offered,answered,answered_within_sl,lost,answer_rate")
    assert "wait_s_sum" not in lines[0] and len(lines) == 5
    assert lines[1].startswith("2026-11-24,12345,12,8,5,2,0.8000,0.5000,8.1,")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=40),
                 st.datetimes().map(lambda d: d.isoformat())),
       st.one_of(st.none(), st.text(max_size=40),
                 st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())),
       st.sampled_from([None, "hour", "day", "", "HOUR", "week"]))
def test_any_query_is_a_range_or_a_400(start, end, by):
    try:
        history = parse_range(start, end, by)
    except HistoryRangeError as exc:
        assert exc.status == 400 and str(exc)
    else:
        assert 1 <= len(history.periods) and len(history.all_hours()) <= 400 * 24
