"""The supervisor's figures from synthetic bus events (the queue/overflow/IVR contract)."""

from __future__ import annotations

from dataclasses import fields

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hotline_link.core.events import (
    CallAnswered,
    CallEnded,
    CallRouted,
    ConferenceDialling,
    ConferenceJoined,
    ExchangeAlert,
    ExchangeLinkChanged,
    IvrChoice,
    IvrEntered,
    IvrLeft,
    LinkageSupervisorAlert,
    OverflowChanged,
    PushDead,
    PushDelivered,
    QueueJoined,
    QueueLeft,
    SeatChanged,
    TransferAnswered,
    TransferDialling,
    TransferFailed,
    TransferRequested,
    TransferRinging,
)
from seat_pool.selection import SeatView
from seat_pool.state import SeatState
from supervisor.figures import Count, Dashboard

AGENTS = {"1001": "12345", "1002": "12345", "2001": "110", "3001": "remote"}
T0 = 1_800_000_000.0


def board(**kwargs) -> Dashboard:
    return Dashboard(("12345", "110", "remote"), AGENTS, **kwargs)


def seats(site: str, **states: str) -> list[SeatView]:
    return [SeatView(site, seat, SeatState(state), T0 - 30) for seat, state in states.items()]


def answered(call_id: str, site: str, wait_s: float, by: str = "PJSIP/1001") -> CallAnswered:
    return CallAnswered(call_id, site, "13800007777", by, wait_s)


def ended(call_id: str, site: str, answered_by: str | None = None) -> CallEnded:
    return CallEnded(call_id, site, "13800007777", answered_by, "Normal Clearing", "hangup", 30.0)


def joined(call_id: str, site: str, emergency: bool = False, position: int = 1) -> QueueJoined:
    return QueueJoined(call_id, site, emergency, position)


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
    d.apply(SeatChanged("12345", "1001", "idle", "talking"), T0 + 5)
    seat = d.snapshot(T0 + 12)["sites"]["12345"]["seats"][0]
    assert (seat["state"], seat["in_state_s"]) == ("talking", 7.0)
    assert not d.set_seats("12345", [SeatView("12345", "1001", SeatState.TALKING, T0 + 5)])
    assert d.set_seats("12345", [SeatView("12345", "1001", SeatState.IDLE, T0 + 20)])


def test_waiting_calls_longest_wait_and_emergencies():
    d = board()
    d.apply(joined("a", "110", emergency=True), T0)
    d.apply(joined("b", "110", position=2), T0 + 10)
    site = d.snapshot(T0 + 25)["sites"]["110"]
    assert (site["waiting"], site["waiting_emergency"], site["longest_wait_s"]) == (2, 1, 25.0)
    d.apply(QueueLeft("a", "110", "seat", 26.0, "2001"), T0 + 26)
    site = d.snapshot(T0 + 30)["sites"]["110"]
    assert (site["waiting"], site["longest_wait_s"]) == (1, 20.0)
    d.apply(ended("b", "110"), T0 + 31)
    assert d.snapshot(T0 + 31)["sites"]["110"]["waiting"] == 0  # gone without a queue.left


def test_answer_rate_and_service_level_over_outcomes_in_the_last_hour():
    d = board(service_level_s=20)
    for n, wait in enumerate((5.0, 19.9, 35.0)):
        d.apply(CallRouted(f"c{n}", "12345", "1001", "seat"), T0)
        counts = d.apply(answered(f"c{n}", "12345", wait), T0 + wait)
        assert ("answered_within_sl" in {c.field for c in counts}) is (wait <= 20)
    d.apply(joined("lost", "12345"), T0)
    assert d.apply(ended("lost", "12345"), T0 + 50) == [Count("12345", "lost", T0 + 50, once="lost:lost")]
    d.apply(joined("still", "12345"), T0)
    site = d.snapshot(T0 + 60)["sites"]["12345"]
    assert (site["offered_last_hour"], site["answered_last_hour"], site["lost_last_hour"]) == (4, 3, 1)
    assert (site["answer_rate"], site["service_level"]) == (0.75, 0.5)
    later = d.snapshot(T0 + 3600 + 51)["sites"]["12345"]  # every outcome left the window
    assert (later["offered_last_hour"], later["answer_rate"], later["service_level"]) == (0, None, None)
    assert later["waiting"] == 1  # the waiting call is not an outcome


def test_a_call_is_offered_once_and_answered_once():
    d = board()
    first = d.apply(CallRouted("x", "12345", None, "queued"), T0)
    again = d.apply(joined("x", "12345"), T0)
    assert [c.field for c in first] == ["offered"] and again == []
    d.apply(answered("x", "12345", 3.0), T0 + 3)
    assert d.apply(answered("x", "12345", 3.0), T0 + 3) == []
    assert d.apply(ended("x", "12345", "PJSIP/1001"), T0 + 9) == []
    assert d.snapshot(T0 + 10)["sites"]["12345"]["answered_last_hour"] == 1


def test_overflow_banner_and_overflowed_calls():
    d = board()
    counts = d.apply(OverflowChanged("12345", True, 93.44), T0)
    assert [c.field for c in counts] == ["surges"]
    assert d.apply(OverflowChanged("12345", True, 80), T0 + 5) == []
    d.apply(joined("o", "12345"), T0)
    d.apply(QueueLeft("o", "12345", "remote", 61.0, "3001"), T0 + 61)
    site = d.snapshot(T0 + 62)["sites"]["12345"]
    assert site["overflow"] == {"active": True, "estimated_wait_s": 80.0, "since": T0}
    assert (site["overflowed_last_hour"], site["waiting"]) == (1, 0)
    d.apply(OverflowChanged("12345", False, 10), T0 + 300)
    assert d.snapshot(T0 + 301)["sites"]["12345"]["overflow"]["active"] is False


def test_ivr_in_progress():
    d = board()
    d.apply(IvrEntered("i1", "12345"), T0)
    d.apply(IvrEntered("i2", "12345"), T0)
    d.apply(IvrChoice("i1", "12345", "1"), T0 + 4)
    d.apply(IvrLeft("i1", "12345", "1"), T0 + 5)
    assert d.snapshot(T0 + 6)["sites"]["12345"]["ivr_in_progress"] == 1
    d.apply(ended("i2", "12345"), T0 + 7)
    assert d.snapshot(T0 + 8)["sites"]["12345"]["ivr_in_progress"] == 0


def test_transfers_and_three_way_calls_each_way_in_the_last_hour():
    d = board()
    for kind, state in ((TransferRequested, "requested"), (TransferDialling, "dialling"),
                        (TransferRinging, "ringing"), (TransferAnswered, "answered")):
        d.apply(kind("1001", "t1", "c", "110", "", state, None), T0)
    d.apply(TransferFailed("2001", "t2", "d", "12345", "", "failed", "busy"), T0 + 1)
    d.apply(ConferenceDialling("2001", "110", "e", "hl1", "", "12345", "dialling", ["caller", "2001"]), T0 + 2)
    d.apply(ConferenceJoined("12345", "110", "e", "hl1", "", "12345", "joined", ["caller", "2001", "12345"]),
            T0 + 3)
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
    d.apply(joined("q", "12345"), T0 + 11)
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
        d.apply(joined(f"q{n}", "12345", position=n), T0)
        d.apply(TransferRequested("1001", f"t{n}", f"c{n}", "110", "", "requested", None), T0)
    assert len(d._waiting["12345"]) == 50 and len(d._offered) == 50 and len(d._transfers) == 50
    assert len(d._happenings) == 100


@pytest.mark.parametrize("event", [
    joined("x", "nowhere"),
    QueueLeft("", "", "", 0.0, None),
    OverflowChanged("12345", True, "soon"),  # a value of the wrong type from a bad producer
    SeatChanged("12345", "1001", "idle", "dancing"),
    TransferRequested("9999", "t", "", "", "", "requested", None),
    ConferenceJoined("", "12345", "", "", "", "", "joined", []),
    CallAnswered("unknown", "", "", "", None),
    PushDelivered("p", 200),
])
def test_odd_events_do_not_break_the_figures(event):
    d = board()
    d.apply(event, T0)
    snap = d.snapshot(T0)
    assert set(snap["sites"]) == {"12345", "110", "remote"}
    assert snap["site_order"] == ["12345", "110", "remote"]  # as configured, not as JS sorts keys
    assert snap["sites"]["12345"]["seats"] == []


_KINDS = [CallRouted, QueueJoined, QueueLeft, OverflowChanged, IvrEntered, IvrLeft, CallAnswered, CallEnded,
          SeatChanged, TransferRequested, TransferAnswered, ConferenceDialling, ConferenceJoined]
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                    st.sampled_from(["12345", "110", "remote", "1001", "2001", "idle", "talking",
                                     "remote", "seat", "110", "c1", "c2", "t1", "r1", ""]))
# whole catalogued events, any value in any field (a bad producer's)
_EVENT = st.tuples(st.one_of([st.builds(kind, **{f.name: _VALUES for f in fields(kind)}) for kind in _KINDS]),
                   st.floats(0, 7200))


@settings(max_examples=300, deadline=None)
@given(st.lists(_EVENT, max_size=40))
@example([(CallRouted("", "12345", None, ""), 0.0), (CallAnswered("", "", "", "", -1), 0.0)])  # found once
def test_any_event_sequence_keeps_the_figures_sane(events):
    d = board()
    for event, offset in sorted(events, key=lambda e: e[1]):
        for count in d.apply(event, T0 + offset):
            assert count.site in d.sites and count.amount >= 0
    snap = d.snapshot(T0 + 7200)
    for site in snap["sites"].values():
        assert site["waiting"] >= site["waiting_emergency"] >= 0 and site["longest_wait_s"] >= 0
        for ratio in ("occupancy", "answer_rate", "service_level"):
            assert site[ratio] is None or 0 <= site[ratio] <= 1
        assert site["offered_last_hour"] == site["answered_last_hour"] + site["lost_last_hour"]
    json_safe = __import__("json").dumps(snap, allow_nan=False)
    assert json_safe


def test_the_service_follows_every_event_the_figures_count_or_list():
    """An event the dashboard has a handler for but the service does not watch never reaches
    the page (push.dead and linkage.supervisor_alert once did not: no alert was listed)."""
    from supervisor.figures import HANDLERS
    from supervisor.service import _WATCHED

    assert set(HANDLERS) <= _WATCHED
    assert {PushDead, LinkageSupervisorAlert} <= _WATCHED


# --- the exchange link (交互通道) -------------------------------------------------------------

PARTITIONED = {"enabled": True, "reason": "", "platform": "12345", "peer_platform": "110", "state": "down",
               "since": T0 - 95, "error": "cannot connect to the peer", "waiting": 4,
               "waiting_by_direction": {"12345->110": 3, "110->12345": 1}, "oldest_at": T0 - 630.04,
               "stopped_count": 1, "dead_count": 2}


def test_the_exchange_panel_is_off_until_the_exchange_says_otherwise():
    panel = board().snapshot(T0)["exchange"]
    assert (panel["enabled"], panel["state"], panel["waiting"], panel["oldest_waiting_s"], panel["last_alert"]) == \
        (False, "off", 0, None, None)


def test_the_exchange_panel_shows_the_view_and_ages_the_oldest_message():
    d = board()
    assert d.set_exchange(PARTITIONED) is True
    assert d.set_exchange(dict(PARTITIONED)) is False  # nothing new: the page is not woken for it
    panel = d.snapshot(T0)["exchange"]
    assert {k: panel[k] for k in ("state", "since", "error", "waiting", "waiting_by_direction", "stopped_count",
                                  "dead_count")} == \
        {"state": "down", "since": T0 - 95, "error": "cannot connect to the peer", "waiting": 4,
         "waiting_by_direction": {"12345->110": 3, "110->12345": 1}, "stopped_count": 1, "dead_count": 2}
    assert panel["oldest_waiting_s"] == 630.0 and "oldest_at" not in panel
    assert d.snapshot(T0 + 60)["exchange"]["oldest_waiting_s"] == 690.0  # grows with the clock
    assert d.set_exchange({**PARTITIONED, "waiting": 5}) is True


def test_a_link_change_shows_at_once_and_is_listed_with_the_alerts():
    d = board()
    d.apply(ExchangeLinkChanged("12345", "110", "up", "unknown", T0, ""), T0)  # the start: no alert
    assert d.snapshot(T0)["exchange"]["state"] == "up" and d.snapshot(T0)["alerts"] == []
    d.apply(ExchangeLinkChanged("12345", "110", "down", "up", T0 + 30, "no answer within 5.0 s"), T0 + 31)
    snap = d.snapshot(T0 + 40)
    assert (snap["exchange"]["enabled"], snap["exchange"]["state"], snap["exchange"]["since"]) == \
        (True, "down", T0 + 30)
    listed = {"at": T0 + 31, "kind": "exchange.link", "site": "12345",
              "detail": "up → down: no answer within 5.0 s"}
    assert snap["alerts"] == [listed]
    assert snap["exchange"]["last_alert"] == {k: listed[k] for k in ("at", "kind", "detail")}


def test_an_exchange_alert_is_the_panel_s_last_alert():
    d = board()
    d.apply(ExchangeAlert("12345-20261124-000017", "12345", "110", "conflict", "queue stopped"), T0)
    assert d.snapshot(T0)["exchange"]["last_alert"] == {
        "at": T0, "kind": "exchange.alert", "detail": "12345-20261124-000017 110 conflict queue stopped"}
    d.apply(LinkageSupervisorAlert("12345-20261124-000001", "QD-TOWN", "12345", "非工作时间"), T0 + 1)
    assert d.snapshot(T0 + 1)["exchange"]["last_alert"]["kind"] == "exchange.alert"  # not the channel's
