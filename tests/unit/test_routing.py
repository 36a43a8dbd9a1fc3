"""Routing decisions and the overflow controller's measurements: pure, no server."""

from __future__ import annotations

import pytest

from seat_pool.overflow import CenterStats
from seat_pool.overflow_policy import Platform, WaitingCall
from seat_pool.routing import CallFacts, offer_ivr, takes_seat_now


def hotline(call_id: str, at: float) -> WaitingCall:
    return WaitingCall(call_id, Platform.HOTLINE_12345, at)


def police(call_id: str, at: float) -> WaitingCall:
    return WaitingCall(call_id, Platform.POLICE_110, at)


QUEUE = (hotline("b", 20.0), hotline("a", 10.0), hotline("c", 30.0))


@pytest.mark.parametrize(("call_id", "free", "expected"), [
    ("a", 1, True),   # longest waiting takes the one free seat
    ("b", 1, False),  # second in line waits
    ("b", 2, True),
    ("c", 2, False),
    ("a", 0, False),  # no free seat, nobody goes
    ("new", 3, False),  # a newcomer is behind the three queued calls
    ("new", 4, True),
])
def test_takes_seat_now_in_answer_order(call_id, free, expected):
    assert takes_seat_now(QUEUE, call_id, free) is expected


def test_emergency_goes_before_longer_waiting_calls():
    queue = QUEUE + (police("p", 40.0),)
    assert takes_seat_now(queue, "p", 1) is True
    assert takes_seat_now(queue, "a", 1) is False


def test_empty_queue_lets_a_new_call_take_a_free_seat():
    assert takes_seat_now((), "x", 1) is True
    assert takes_seat_now((), "x", 0) is False


def facts(**overrides) -> CallFacts:
    values = dict(site="12345", call_id="c1", handed_over=False, ivr_done=False, emergency=False)
    values.update(overrides)
    return CallFacts(**values)  # type: ignore[arg-type]  # str and bool fields by name


IVR_SITES = frozenset({"12345"})


@pytest.mark.parametrize(("call", "overflowing", "wait", "expected"), [
    (facts(), False, 10.0, False),  # short wait: straight to the queue
    (facts(), False, 50.0, True),  # long estimated wait
    (facts(), True, 0.0, True),  # surge: every queued caller is offered self-service
    (facts(emergency=True, site="110"), True, 500.0, False),  # never 110
    (facts(handed_over=True), True, 500.0, False),  # a case from the other platform waits for an agent
    (facts(ivr_done=True), True, 500.0, False),  # chose to keep waiting: never asked twice
    (facts(site="other"), True, 500.0, False),  # not an IVR site
])
def test_offer_ivr(call, overflowing, wait, expected):
    assert offer_ivr(call, IVR_SITES, overflowing, wait, 45.0) is expected


def test_center_stats_measure_handle_time():
    stats = CenterStats(default_handle_s=180.0)
    assert stats.handle_time_s() == 180.0  # nothing measured yet
    stats.seat_changed("1001", "talking", 100.0)
    stats.seat_changed("1001", "talking", 101.0)  # still the same call
    stats.seat_changed("1001", "idle", 130.0)
    stats.seat_changed("1002", "talking", 100.0)
    stats.seat_changed("1002", "wrap_up", 150.0)
    assert stats.handle_time_s() == pytest.approx(40.0)
    stats.seat_changed("1003", "idle", 200.0)  # never seen talking: no sample
    assert stats.handle_time_s() == pytest.approx(40.0)
