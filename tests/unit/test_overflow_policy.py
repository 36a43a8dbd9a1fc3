import ast
import dataclasses
import math
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import pytest

import seat_pool.overflow_policy as policy
from hotline_link.core.errors import ConfigError, HotlineError
from seat_pool.overflow_policy import (
    CenterFigures,
    OverflowCall,
    OverflowMode,
    OverflowPolicyConfig,
    OverflowState,
    Platform,
    ReleaseRemoteSeat,
    StartOverflow,
    StopOverflow,
    WaitingCall,
    answer_order,
    erlang_b,
    erlang_c,
    estimate_wait,
    mean_wait_s,
    overflow_candidates,
    service_level,
    transition,
)
from seat_pool.selection import SeatView
from seat_pool.state import SeatState

CONFIG = OverflowPolicyConfig(
    enter_wait_s=60, exit_wait_s=20, enter_hold_s=30, exit_hold_s=180, max_remote_share=1.0
)


def _hotline(call_id, queued_at):
    return WaitingCall(call_id, Platform.HOTLINE_12345, queued_at)


def _police(call_id, queued_at):
    return WaitingCall(call_id, Platform.POLICE_110, queued_at)


def _remote(seat, state=SeatState.IDLE, since=0.0, site="remote"):
    return SeatView(site, seat, state, since)


def _figures(waiting=(), idle=0, busy=10, aht=0.0, rate=0.0, remote=()):
    return CenterFigures(tuple(waiting), idle, busy, aht, rate, tuple(remote))


def _signal(now, wait_s, remote=()):
    """Figures whose overflow signal is exactly ``wait_s``: no arrivals, no handle time,
    one queued call that has waited ``wait_s``."""
    return _figures([_hotline("probe", now - wait_s)], remote=remote)


def _overflowing(now=0.0):
    return OverflowState(mode=OverflowMode.OVERFLOWING, since=now)


def _kinds(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def _erlang_c_exact(servers, load):
    """The textbook closed form, in exact rationals (an oracle independent of the
    Erlang B recursion)."""
    a = Fraction(load)
    top = a**servers / math.factorial(servers) * Fraction(servers, 1) / (servers - a)
    bottom = sum(a**k / math.factorial(k) for k in range(servers)) + top
    return float(top / bottom)


# --- Erlang B / C --------------------------------------------------------------------


@pytest.mark.parametrize("servers, load, expected", [(5, 3, 0.1101), (10, 5, 0.0184), (1, 1, 0.5)])
def test_erlang_b_matches_tables(servers, load, expected):
    assert erlang_b(servers, load) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize("servers, load, expected", [
    (11, 10, 0.6821),  # the textbook example
    (2, 1, 1 / 3),
    (3, 2, 4 / 9),
    (55, 48, 0.2387),
])
def test_erlang_c_matches_known_values(servers, load, expected):
    assert erlang_c(servers, load) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize("servers, load", [(1, 0.5), (7, 6.3), (20, 15), (100, 90), (170, 160.5)])
def test_erlang_c_matches_the_exact_closed_form(servers, load):
    assert erlang_c(servers, load) == pytest.approx(_erlang_c_exact(servers, load), rel=1e-9)


def test_erlang_c_is_stable_for_large_centers():
    # A!/N! style formulas overflow a float long before this; the recursion does not.
    value = erlang_c(2000, 1950)
    assert 0 < value < 1 and math.isfinite(mean_wait_s(2000, 1950, 200))
    assert erlang_c(2000, 1950) > erlang_c(2001, 1950) > erlang_c(2100, 1950)


def test_mean_wait_and_service_level_of_the_textbook_example():
    # A = 10 erlangs, N = 11, AHT = 180 s: ASA = 0.6821 * 180 / 1.
    assert mean_wait_s(11, 10, 180) == pytest.approx(122.78, abs=0.01)
    assert service_level(11, 10, 180, 20) == pytest.approx(1 - 0.68212 * math.exp(-20 / 180), abs=1e-4)
    assert service_level(11, 10, 180, 0) == pytest.approx(1 - erlang_c(11, 10))


def test_service_level_rises_with_the_target_and_the_seats():
    levels = [service_level(11, 10, 180, t) for t in (0, 10, 20, 60, 600)]
    assert levels == sorted(levels) and levels[-1] > 0.95
    assert service_level(12, 10, 180, 20) > service_level(11, 10, 180, 20)


@pytest.mark.parametrize("servers, load", [(10, 10), (10, 12.5), (1, 3)])
def test_unstable_queue_waits_forever(servers, load):
    assert erlang_c(servers, load) == 1.0
    assert mean_wait_s(servers, load, 180) == math.inf
    assert service_level(servers, load, 180, 20) == 0.0


def test_zero_seats():
    assert erlang_b(0, 3) == 1.0
    assert erlang_c(0, 0) == 1.0 and mean_wait_s(0, 0, 180) == math.inf
    assert service_level(0, 2, 180, 60) == 0.0


def test_zero_arrivals_never_wait():
    assert erlang_c(5, 0) == 0.0
    assert mean_wait_s(5, 0, 180) == 0.0
    assert service_level(5, 0, 180, 0) == 1.0


@pytest.mark.parametrize("call", [
    lambda: erlang_c(-1, 2), lambda: erlang_c(2.5, 1), lambda: erlang_b(3, -1),
    lambda: erlang_c(3, math.nan), lambda: mean_wait_s(3, 1, -5),
    lambda: service_level(3, 1, 60, -1), lambda: service_level(3, 1, 60, math.inf),
])
def test_bad_queue_arguments_are_refused(call):
    with pytest.raises(ValueError):
        call()


# --- wait estimate -------------------------------------------------------------------


def test_estimate_uses_erlang_c_on_the_local_seats():
    # 10 calls/min * 60 s = 10 erlangs on 11 local seats, nobody queued yet.
    estimate = estimate_wait(_figures(idle=2, busy=9, aht=60, rate=10 / 60), now=0)
    assert estimate.probability_of_waiting == pytest.approx(0.6821, abs=5e-5)
    assert estimate.steady_wait_s == pytest.approx(0.68212 * 60, abs=0.01)
    assert estimate.queue_wait_s == 0.0 and estimate.longest_wait_s == 0.0
    assert estimate.expected_wait_s == estimate.steady_wait_s


def test_estimate_counts_the_calls_already_queued():
    # 4 seats all busy, 3 queued: a new call is 4th in line, a seat frees every 30 s.
    waiting = [_hotline("a", 100), _police("b", 150), _hotline("c", 170)]
    estimate = estimate_wait(_figures(waiting, idle=0, busy=4, aht=120, rate=0.001), now=200)
    assert estimate.queue_wait_s == pytest.approx(4 * 120 / 4)
    assert estimate.longest_wait_s == 100
    assert estimate.expected_wait_s == pytest.approx(120)
    assert estimate.signal_s == 120 and estimate.reason == "estimated_wait"


def test_idle_seats_answer_the_queue_at_once():
    waiting = [_hotline("a", 190), _hotline("b", 195)]
    assert estimate_wait(_figures(waiting, idle=3, busy=1, aht=120), now=200).queue_wait_s == 0.0
    # Two idle seats take the two queued calls; a new one waits for the first of 4 to free.
    assert estimate_wait(_figures(waiting, idle=2, busy=2, aht=120), now=200).queue_wait_s == 30.0


def test_estimate_when_unstable_or_unstaffed():
    overloaded = estimate_wait(_figures(idle=0, busy=5, aht=300, rate=5 / 60), now=0)
    assert overloaded.expected_wait_s == math.inf and overloaded.probability_of_waiting == 1.0
    unstaffed = estimate_wait(_figures(idle=0, busy=0), now=0)
    assert unstaffed.expected_wait_s == math.inf and unstaffed.signal_s == math.inf


def test_longest_wait_alone_can_be_the_signal():
    estimate = estimate_wait(_signal(now=500, wait_s=75), now=500)
    assert estimate.expected_wait_s == 0.0
    assert estimate.signal_s == 75 and estimate.reason == "longest_wait"


def test_110_calls_are_answered_before_any_12345_call():
    waiting = [_hotline("h-old", 10), _police("p-new", 90), _hotline("h-new", 50), _police("p-old", 40)]
    assert [c.call_id for c in answer_order(waiting)] == ["p-old", "p-new", "h-old", "h-new"]


def test_figures_refuse_impossible_numbers():
    with pytest.raises(ValueError):
        _figures(idle=-1)
    with pytest.raises(ValueError):
        _figures(aht=-3)
    with pytest.raises(ValueError):
        _figures(rate=math.nan)


# --- config --------------------------------------------------------------------------


def test_defaults_are_valid_and_frozen():
    config = OverflowPolicyConfig()
    assert config.exit_wait_s < config.enter_wait_s
    assert 0 < config.max_remote_share <= 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.enter_wait_s = 5


@pytest.mark.parametrize("knobs, words", [
    ({"exit_wait_s": 60, "enter_wait_s": 60}, "exit_wait_s (60) must be lower than enter_wait_s (60)"),
    ({"exit_wait_s": 90, "enter_wait_s": 60}, "must be lower than enter_wait_s"),
    ({"exit_wait_s": -1}, "exit_wait_s must not be negative"),
    ({"enter_hold_s": -5}, "enter_hold_s must not be negative"),
    ({"exit_hold_s": -0.1}, "exit_hold_s must not be negative"),
    ({"enter_wait_s": 0, "exit_wait_s": 0}, "enter_wait_s must be above 0"),
    ({"max_remote_share": 0}, "max_remote_share must be above 0 and at most 1"),
    ({"max_remote_share": 1.5}, "max_remote_share must be above 0 and at most 1"),
    ({"handoff_timeout_s": 0}, "handoff_timeout_s must be above 0"),
    ({"enter_wait_s": math.inf}, "enter_wait_s must be a finite number"),
    ({"exit_hold_s": "60"}, "exit_hold_s must be a finite number"),
    ({"enter_hold_s": True}, "enter_hold_s must be a finite number"),
])
def test_bad_config_is_refused_with_a_clear_message(knobs, words):
    with pytest.raises(ConfigError, match=r"^overflow policy: ") as caught:
        OverflowPolicyConfig(**knobs)
    assert words in str(caught.value)
    assert isinstance(caught.value, HotlineError)


# --- hysteresis ----------------------------------------------------------------------


def _run(signals, state=None, config=CONFIG, remote=()):
    """Feed (now, wait_s) pairs; return the final state and every Start/Stop with its time."""
    state = state or OverflowState()
    changes = []
    for now, wait_s in signals:
        state, actions = transition(state, _signal(now, wait_s, remote), now, config)
        changes += [(now, a) for a in actions if isinstance(a, (StartOverflow, StopOverflow))]
    return state, changes


def test_enters_only_after_the_enter_hold():
    state, changes = _run([(t, 70) for t in range(0, 30)])
    assert state.mode is OverflowMode.LOCAL_ONLY and changes == []
    state, changes = _run([(30, 70)], state=state)
    assert state.mode is OverflowMode.OVERFLOWING and state.since == 30
    assert changes == [(30, StartOverflow(reason="longest_wait", wait_s=70))]


def test_a_dip_below_the_threshold_restarts_the_enter_hold():
    state, changes = _run([(0, 70), (20, 59), (25, 70), (54, 70)])
    assert changes == []
    _, changes = _run([(55, 70)], state=state)
    assert [t for t, _ in changes] == [55]


def test_zero_enter_hold_starts_at_once():
    config = dataclasses.replace(CONFIG, enter_hold_s=0)
    state, changes = _run([(0, 61)], config=config)
    assert state.mode is OverflowMode.OVERFLOWING and len(changes) == 1


def test_leaves_only_after_the_exit_hold():
    state, changes = _run([(t, 10) for t in range(1000, 1180, 5)], state=_overflowing())
    assert state.mode is OverflowMode.OVERFLOWING and changes == []
    state, changes = _run([(1180, 10)], state=state)
    assert state.mode is OverflowMode.LOCAL_ONLY
    assert changes == [(1180, StopOverflow(reason="wait_below_exit", wait_s=10))]


def test_the_band_between_exit_and_enter_changes_nothing():
    band = [(t, 40) for t in range(0, 3600, 10)]
    assert _run(band)[0].mode is OverflowMode.LOCAL_ONLY
    assert _run(band, state=_overflowing())[0].mode is OverflowMode.OVERFLOWING


@pytest.mark.parametrize("centre", [60, 20])
def test_no_flapping_on_a_signal_oscillating_around_a_threshold(centre):
    # +-15 s around the threshold, flipping every 10 s: never above (or below) for a hold.
    signal = [(t, centre + (15 if (t // 10) % 2 else -15)) for t in range(0, 7200)]
    for start in (OverflowState(), _overflowing()):
        state, changes = _run(signal, state=start)
        assert changes == [] and state.mode is start.mode


def test_a_slow_surge_switches_once_each_way_with_holds_respected():
    # A sine wave from 0 to 120 s with a 40-minute period: real surges, real lulls.
    signal = [(t, 60 - 60 * math.cos(2 * math.pi * t / 2400)) for t in range(0, 3 * 2400, 5)]
    _, changes = _run(signal)
    kinds = [type(a) for _, a in changes]
    assert kinds == [StartOverflow, StopOverflow] * 3
    times = [t for t, _ in changes]
    assert all(later - earlier >= CONFIG.enter_hold_s for earlier, later in pairwise(times))


# --- which calls go ------------------------------------------------------------------


def _tick(figures, now=1000.0, state=None, config=CONFIG):
    return transition(state or _overflowing(), figures, now, config)


def test_longest_waiting_go_first_one_per_idle_remote_seat():
    waiting = [_hotline("c3", 930), _hotline("c1", 900), _hotline("c4", 950), _hotline("c2", 910)]
    remote = [_remote("r-new", since=500), _remote("r-old", since=100), _remote("r-busy", SeatState.TALKING)]
    state, actions = _tick(_figures(waiting, remote=remote))
    assert actions == [OverflowCall("c1", "remote", "r-old"), OverflowCall("c2", "remote", "r-new")]
    assert {h.call_id for h in state.handoffs} == {"c1", "c2"}


def test_nothing_goes_while_local_only():
    figures = _figures([_hotline("c1", 0)], remote=[_remote("r1")])
    state, actions = transition(OverflowState(), figures, 10.0, CONFIG)
    assert _kinds(actions, OverflowCall) == [] and state.handoffs == ()


def test_calls_go_in_the_same_tick_overflow_starts():
    config = dataclasses.replace(CONFIG, enter_hold_s=0)
    figures = _figures([_hotline("c1", 900)], remote=[_remote("r1")])
    _, actions = transition(OverflowState(), figures, 1000.0, config)
    assert actions == [StartOverflow("longest_wait", 100), OverflowCall("c1", "remote", "r1")]


def test_110_calls_are_never_overflowed():
    waiting = [_police("p1", 0), _police("p2", 10)]
    _, actions = _tick(_figures(waiting, remote=[_remote("r1"), _remote("r2")]))
    assert actions == []
    waiting += [_hotline("h1", 500)]
    _, actions = _tick(_figures(waiting, remote=[_remote("r1"), _remote("r2")]))
    assert actions == [OverflowCall("h1", "remote", "r1")]


def test_local_idle_seats_keep_the_calls_they_will_answer_now():
    # 2 idle local seats: one takes the 110 call, the other the newest 12345 call.
    waiting = [_police("p1", 990), _hotline("h1", 900), _hotline("h2", 920), _hotline("h3", 940)]
    figures = _figures(waiting, idle=2, busy=6, remote=[_remote(f"r{i}") for i in range(5)])
    assert [c.call_id for c in overflow_candidates(figures)] == ["h1", "h2"]
    _, actions = _tick(figures)
    assert [a.call_id for a in actions] == ["h1", "h2"]


def test_remote_share_bounds_the_overflow():
    # share 0.5 and 4 local calls: at most 4 remote, one already talking -> 3 more.
    config = dataclasses.replace(CONFIG, max_remote_share=0.5)
    waiting = [_hotline(f"c{i}", 900 + i) for i in range(10)]
    remote = [_remote("busy", SeatState.TALKING)] + [_remote(f"r{i}", since=i) for i in range(10)]
    state, actions = _tick(_figures(waiting, busy=4, remote=remote), config=config)
    assert [a.call_id for a in actions] == ["c0", "c1", "c2"]
    # The handoffs on their way count too: the next tick sends nothing more.
    _, actions = _tick(_figures(waiting, busy=4, remote=remote), now=1001, state=state, config=config)
    assert actions == []


def test_remote_share_does_not_apply_with_no_local_seat_signed_in():
    config = dataclasses.replace(CONFIG, max_remote_share=0.25)
    waiting = [_hotline(f"c{i}", 900 + i) for i in range(3)]
    figures = _figures(waiting, idle=0, busy=0, remote=[_remote("r1"), _remote("r2")])
    _, actions = _tick(figures, config=config)
    assert [a.call_id for a in actions] == ["c0", "c1"]


def test_a_call_on_its_way_is_not_sent_twice_until_the_handoff_times_out():
    waiting = [_hotline("c1", 900), _hotline("c2", 950)]
    remote = [_remote("r1", since=1), _remote("r2", since=2)]
    state, actions = _tick(_figures(waiting[:1], remote=remote), now=1000)
    assert actions == [OverflowCall("c1", "remote", "r1")]
    # Next tick: c1 still queued and r1 still idle (the transfer is under way); c2 arrived.
    state, actions = _tick(_figures(waiting, remote=remote), now=1005, state=state)
    assert actions == [OverflowCall("c2", "remote", "r2")]
    state, actions = _tick(_figures(waiting, remote=remote), now=1014, state=state)
    assert actions == []
    # c1's handoff (at 1000) timed out after 15 s: it is retried, c2's (at 1005) is not yet.
    state, actions = _tick(_figures(waiting, remote=remote), now=1015, state=state)
    assert actions == [OverflowCall("c1", "remote", "r1")]


def test_a_handoff_ends_when_the_call_leaves_the_queue():
    remote = [_remote("r1")]
    state, _ = _tick(_figures([_hotline("c1", 900)], remote=remote), now=1000)
    state, actions = _tick(_figures([_hotline("c9", 990)], remote=remote), now=1001, state=state)
    assert [h.call_id for h in state.handoffs] == ["c9"]
    assert actions == [OverflowCall("c9", "remote", "r1")]


# --- handing remote seats back -------------------------------------------------------


def _stop_with(remote, handoffs=()):
    """Overflowing with a calm signal long enough to stop at t=200."""
    state = dataclasses.replace(_overflowing(), crossing_since=0.0, handoffs=tuple(handoffs))
    return transition(state, _signal(200, 5, remote), 200, CONFIG)


def test_idle_remote_seats_are_released_when_the_surge_ends():
    remote = [_remote("r2"), _remote("r1"), _remote("gone", SeatState.OFFLINE)]
    state, actions = _stop_with(remote)
    assert state.mode is OverflowMode.LOCAL_ONLY
    assert actions == [
        StopOverflow("wait_below_exit", 5),
        ReleaseRemoteSeat("remote", "gone"),
        ReleaseRemoteSeat("remote", "r1"),
        ReleaseRemoteSeat("remote", "r2"),
    ]
    assert state.releasing == frozenset()


def test_a_remote_seat_on_a_call_is_released_only_when_it_goes_idle():
    state, actions = _stop_with([_remote("talk", SeatState.TALKING), _remote("ring", SeatState.RINGING)])
    assert _kinds(actions, ReleaseRemoteSeat) == []
    assert state.releasing == {("remote", "talk"), ("remote", "ring")}
    still = [_remote("talk", SeatState.TALKING), _remote("ring", SeatState.RINGING)]
    state, actions = transition(state, _signal(260, 5, still), 260, CONFIG)
    assert actions == []
    one_done = [_remote("talk", SeatState.IDLE), _remote("ring", SeatState.TALKING)]
    state, actions = transition(state, _signal(400, 5, one_done), 400, CONFIG)
    assert actions == [ReleaseRemoteSeat("remote", "talk")]
    state, actions = transition(state, _signal(401, 5, one_done), 401, CONFIG)
    assert actions == []  # released once, not every tick
    both_done = [_remote("talk"), _remote("ring")]
    state, actions = transition(state, _signal(500, 5, both_done), 500, CONFIG)
    assert actions == [ReleaseRemoteSeat("remote", "ring")] and state.releasing == frozenset()


def test_a_seat_missing_from_the_figures_waits_until_it_is_seen():
    state, _ = _stop_with([_remote("r1", SeatState.TALKING)])
    state, actions = transition(state, _signal(300, 5), 300, CONFIG)
    assert actions == [] and state.releasing == {("remote", "r1")}
    state, actions = transition(state, _signal(301, 5, [_remote("r1")]), 301, CONFIG)
    assert actions == [ReleaseRemoteSeat("remote", "r1")]


def test_a_seat_with_a_call_on_its_way_is_not_released():
    handoff = policy.Handoff("probe", "remote", "r1", at=195)
    state, actions = _stop_with([_remote("r1")], handoffs=[handoff])
    assert _kinds(actions, ReleaseRemoteSeat) == [] and state.releasing == {("remote", "r1")}
    # The call reached r1 (left the queue, seat talking), then hung up: now it goes back.
    state, actions = transition(state, _figures(remote=[_remote("r1", SeatState.TALKING)]), 210, CONFIG)
    assert actions == []
    state, actions = transition(state, _figures(remote=[_remote("r1")]), 400, CONFIG)
    assert actions == [ReleaseRemoteSeat("remote", "r1")]


def test_a_new_surge_keeps_the_seats_not_yet_released():
    state, _ = _stop_with([_remote("r1", SeatState.TALKING)])
    config = dataclasses.replace(CONFIG, enter_hold_s=0)
    state, actions = transition(state, _signal(300, 90, [_remote("r1")]), 300, config)
    assert state.mode is OverflowMode.OVERFLOWING and state.releasing == frozenset()
    assert _kinds(actions, ReleaseRemoteSeat) == []
    assert _kinds(actions, OverflowCall) == [OverflowCall("probe", "remote", "r1")]


# --- purity --------------------------------------------------------------------------


def test_the_module_imports_no_io():
    tree = ast.parse(Path(policy.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    allowed = {"__future__", "math", "dataclasses", "enum", "typing", "collections.abc",
               "hotline_link.core.errors", "seat_pool.selection", "seat_pool.state"}
    assert imported <= allowed


def test_the_transition_is_deterministic_and_leaves_its_inputs_alone():
    figures = _figures([_hotline("c1", 900), _police("p1", 950)], remote=[_remote("r1")])
    before = _overflowing()
    first = transition(before, figures, 1000.0, CONFIG)
    assert transition(before, figures, 1000.0, CONFIG) == first
    assert before == _overflowing() and before.handoffs == ()
