"""The supervisor's figures from synthetic bus events (the queue/overflow/IVR contract)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from seat_pool.selection import SeatView
from seat_pool.state import SeatState
from supervisor.figures import Count, Dashboard

AGENTS = {"1001": "12345", "1002": "12345", "2001": "110", "3001": "remote"}
T0 = 1_800_000_000.0


def board(**kwargs) -> Dashboard:
    return Dashboard(("12345", "110", "remote"), AGENTS, **kwargs)


def seats(site: str, **states: str) -> list[SeatView]:
    return [SeatView(site, seat, SeatState(state), T0 - 30) for seat, state in states.items()]


def test_occupancy_counts_ringing_talking_wrap_up_over_logged_in_seats():
    d = board()
    d.set_seats("12345", seats("12345", **{"1001": "talking", "1002": "idle", "1003": "wrap_up",
                                            "1004": "paused", "1005": "offline", "1006": "ringing"}))
    site = d.snapshot(T0)["sites"]["12345"]
    assert (site["logged_in"], site["occupied"], site["occupancy"]) == (5, 3, 0.6)
    assert site["seat_counts"]["offline"] == 1 and site["seat_counts"]["paused"] == 1
    assert site["seats"][0] == {"seat": "1001", "state": "talking", "since": T0 - 30, "in_state_s": 30.0}
    assert d.snapshot(T0)["sites"]["110"]["occupancy"] is None  # nobody logged in


def test_seat_changed_updates_state_and_time_in_state():
    d = board()
    d.set_seats("12345", seats("12345", **{"1001": "idle"}))
    d.apply("seat.changed", {"site": "12345", "seat": "1001", "old": "idle", "new": "talking"}, T0 + 5)
    seat = d.snapshot(T0 + 12)["sites"]["12345"]["seats"][0]
    assert (seat["state"], seat["in_state_s"]) == ("talking", 7.0)
    assert not d.set_seats("12345", [SeatView("12345", "1001", SeatState.TALKING, T0 + 5)])
    assert d.set_seats("12345", [SeatView("12345", "1001", SeatState.IDLE, T0 + 20)])


def test_waiting_calls_longest_wait_and_emergencies():
    d = board()
    d.apply("queue.joined", {"call_id": "a", "site": "110", "emergency": True, "position": 1}, T0)
    d.apply("queue.joined", {"call_id": "b", "site": "110", "emergency": False, "position": 2}, T0 + 10)
    site = d.snapshot(T0 + 25)["sites"]["110"]
    assert (site["waiting"], site["waiting_emergency"], site["longest_wait_s"]) == (2, 1, 25.0)
    d.apply("queue.left", {"call_id": "a", "site": "110", "outcome": "seat", "waited_s": 26.0,
                           "seat": "2001"}, T0 + 26)
    site = d.snapshot(T0 + 30)["sites"]["110"]
    assert (site["waiting"], site["longest_wait_s"]) == (1, 20.0)
    d.apply("call.ended", {"call_id": "b", "site": "110", "answered_by": None}, T0 + 31)
    assert d.snapshot(T0 + 31)["sites"]["110"]["waiting"] == 0  # gone without a queue.left


def test_answer_rate_and_service_level_over_outcomes_in_the_last_hour():
    d = board(service_level_s=20)
    for n, wait in enumerate((5.0, 19.9, 35.0)):
        d.apply("call.routed", {"call_id": f"c{n}", "site": "12345", "seat": "1001"}, T0)
        counts = d.apply("call.answered", {"call_id": f"c{n}", "site": "12345", "wait_s": wait,
                                           "answered_by": "PJSIP/1001"}, T0 + wait)
        assert ("answered_within_sl" in {c.field for c in counts}) is (wait <= 20)
    d.apply("queue.joined", {"call_id": "lost", "site": "12345", "emergency": False, "position": 1}, T0)
    assert d.apply("call.ended", {"call_id": "lost", "site": "12345", "answered_by": None}, T0 + 50) == [
        Count("12345", "lost", T0 + 50, once="lost:lost")]
    d.apply("queue.joined", {"call_id": "still", "site": "12345", "emergency": False, "position": 1}, T0)
    site = d.snapshot(T0 + 60)["sites"]["12345"]
    assert (site["offered_last_hour"], site["answered_last_hour"], site["lost_last_hour"]) == (4, 3, 1)
    assert (site["answer_rate"], site["service_level"]) == (0.75, 0.5)
    later = d.snapshot(T0 + 3600 + 51)["sites"]["12345"]  # every outcome left the window
    assert (later["offered_last_hour"], later["answer_rate"], later["service_level"]) == (0, None, None)
    assert later["waiting"] == 1  # the waiting call is not an outcome


def test_a_call_is_offered_once_and_answered_once():
    d = board()
    first = d.apply("call.routed", {"call_id": "x", "site": "12345", "seat": None}, T0)
    again = d.apply("queue.joined", {"call_id": "x", "site": "12345", "emergency": False, "position": 1}, T0)
    assert [c.field for c in first] == ["offered"] and again == []
    d.apply("call.answered", {"call_id": "x", "site": "12345", "wait_s": 3.0}, T0 + 3)
    assert d.apply("call.answered", {"call_id": "x", "site": "12345", "wait_s": 3.0}, T0 + 3) == []
    assert d.apply("call.ended", {"call_id": "x", "site": "12345", "answered_by": "PJSIP/1001"}, T0 + 9) == []
    assert d.snapshot(T0 + 10)["sites"]["12345"]["answered_last_hour"] == 1


def test_overflow_banner_and_overflowed_calls():
    d = board()
    counts = d.apply("overflow.changed", {"site": "12345", "active": True, "estimated_wait_s": 93.44}, T0)
    assert [c.field for c in counts] == ["surges"]
    assert d.apply("overflow.changed", {"site": "12345", "active": True, "estimated_wait_s": 80}, T0 + 5) == []
    d.apply("queue.joined", {"call_id": "o", "site": "12345", "emergency": False, "position": 1}, T0)
    d.apply("queue.left", {"call_id": "o", "site": "12345", "outcome": "remote", "waited_s": 61.0,
                           "seat": "3001"}, T0 + 61)
    site = d.snapshot(T0 + 62)["sites"]["12345"]
    assert site["overflow"] == {"active": True, "estimated_wait_s": 80.0, "since": T0}
    assert (site["overflowed_last_hour"], site["waiting"]) == (1, 0)
    d.apply("overflow.changed", {"site": "12345", "active": False, "estimated_wait_s": 10}, T0 + 300)
    assert d.snapshot(T0 + 301)["sites"]["12345"]["overflow"]["active"] is False


def test_ivr_in_progress():
    d = board()
    d.apply("ivr.entered", {"call_id": "i1", "site": "12345"}, T0)
    d.apply("ivr.entered", {"call_id": "i2", "site": "12345"}, T0)
    d.apply("ivr.choice", {"call_id": "i1", "site": "12345", "choice": "1"}, T0 + 4)
    d.apply("ivr.left", {"call_id": "i1", "site": "12345", "choice": "1"}, T0 + 5)
    assert d.snapshot(T0 + 6)["sites"]["12345"]["ivr_in_progress"] == 1
    d.apply("call.ended", {"call_id": "i2", "site": "12345", "answered_by": None}, T0 + 7)
    assert d.snapshot(T0 + 8)["sites"]["12345"]["ivr_in_progress"] == 0


def test_transfers_and_three_way_calls_each_way_in_the_last_hour():
    d = board()
    for state in ("requested", "dialling", "ringing", "answered"):
        d.apply(f"transfer.{state}", {"transfer_id": "t1", "call_id": "c", "target": "110",
                                      "state": state, "agent": "1001"}, T0)
    d.apply("transfer.failed", {"transfer_id": "t2", "call_id": "d", "target": "12345",
                                "state": "failed", "agent": "2001"}, T0 + 1)
    d.apply("conference.dialling", {"room": "hl1", "site": "110", "target": "12345", "party": "2001",
                                    "call_id": "e"}, T0 + 2)
    d.apply("conference.joined", {"room": "hl1", "site": "110", "target": "12345", "party": "12345",
                                  "call_id": "e"}, T0 + 3)
    snap = d.snapshot(T0 + 10)
    assert snap["transfers"]["12345->110"] == {"started": 1, "answered": 1}
    assert snap["transfers"]["110->12345"] == {"started": 1, "answered": 0}
    assert snap["conferences"]["110->12345"] == {"started": 1, "joined": 1}
    assert snap["conferences"]["12345->110"] == {"started": 0, "joined": 0}
    assert d.snapshot(T0 + 3605)["transfers"]["12345->110"] == {"started": 0, "answered": 0}


def test_series_sampled_at_most_every_sample_interval():
    d = board(sample_every_s=10, window_s=60)
    d.set_seats("12345", seats("12345", **{"1001": "talking", "1002": "idle"}))
    assert d.sample(T0) and not d.sample(T0 + 5) and d.sample(T0 + 10)
    d.apply("queue.joined", {"call_id": "q", "site": "12345", "emergency": False, "position": 1}, T0 + 11)
    assert d.sample(T0 + 20)
    assert d.snapshot(T0 + 20)["sites"]["12345"]["series"] == [
        [T0, 0, 0.5], [T0 + 10, 0, 0.5], [T0 + 20, 1, 0.5]]
    for n in range(3, 30):
        d.sample(T0 + 10 * n)
    series = d.snapshot(T0 + 290)["sites"]["12345"]["series"]
    assert len(series) == 7 and series[0][0] == T0 + 230  # the window, and no more


def test_memory_stays_bounded():
    d = board(max_tracked=50, max_happenings=100)
    for n in range(1000):
        d.apply("queue.joined", {"call_id": f"q{n}", "site": "12345", "emergency": False, "position": n}, T0)
        d.apply("transfer.requested", {"transfer_id": f"t{n}", "target": "110", "state": "requested",
                                       "agent": "1001"}, T0)
    assert len(d._waiting["12345"]) == 50 and len(d._offered) == 50 and len(d._transfers) == 50
    assert len(d._happenings) == 100


@pytest.mark.parametrize("name,data", [
    ("queue.joined", {"site": "nowhere", "call_id": "x"}),
    ("queue.left", {}),
    ("overflow.changed", {"site": "12345", "active": True, "estimated_wait_s": "soon"}),
    ("seat.changed", {"site": "12345", "seat": "1001", "new": "dancing"}),
    ("transfer.requested", {"transfer_id": "t", "agent": "9999"}),
    ("conference.joined", {"room": "", "site": "12345"}),
    ("call.answered", {"call_id": "unknown", "wait_s": None}),
    ("push.delivered", {"push_id": "p"}),
])
def test_odd_events_do_not_break_the_figures(name, data):
    d = board()
    d.apply(name, data, T0)
    snap = d.snapshot(T0)
    assert set(snap["sites"]) == {"12345", "110", "remote"}
    assert snap["site_order"] == ["12345", "110", "remote"]  # as configured, not as JS sorts keys
    assert snap["sites"]["12345"]["seats"] == []


_NAMES = ["call.routed", "queue.joined", "queue.left", "overflow.changed", "ivr.entered", "ivr.left",
          "call.answered", "call.ended", "seat.changed", "transfer.requested", "transfer.answered",
          "conference.dialling", "conference.joined"]
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                    st.sampled_from(["12345", "110", "remote", "1001", "2001", "idle", "talking",
                                     "remote", "seat", "110", "c1", "c2", "t1", "r1", ""]))
_EVENT = st.tuples(st.sampled_from(_NAMES),
                   st.dictionaries(st.sampled_from(["call_id", "site", "seat", "new", "old", "outcome",
                                                    "emergency", "active", "estimated_wait_s", "wait_s",
                                                    "transfer_id", "target", "agent", "state", "room",
                                                    "party"]), _VALUES, max_size=8),
                   st.floats(0, 7200))


@settings(max_examples=300, deadline=None)
@given(st.lists(_EVENT, max_size=40))
@example([("call.routed", {"site": "12345"}, 0.0), ("call.answered", {"wait_s": -1}, 0.0)])  # found once
def test_any_event_sequence_keeps_the_figures_sane(events):
    d = board()
    for name, data, offset in sorted(events, key=lambda e: e[2]):
        for count in d.apply(name, data, T0 + offset):
            assert count.site in d.sites and count.amount >= 0
    snap = d.snapshot(T0 + 7200)
    for site in snap["sites"].values():
        assert site["waiting"] >= site["waiting_emergency"] >= 0 and site["longest_wait_s"] >= 0
        for ratio in ("occupancy", "answer_rate", "service_level"):
            assert site[ratio] is None or 0 <= site[ratio] <= 1
        assert site["offered_last_hour"] == site["answered_last_hour"] + site["lost_last_hour"]
    json_safe = __import__("json").dumps(snap, allow_nan=False)
    assert json_safe
