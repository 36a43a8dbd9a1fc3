"""When the 12345 center overflows calls to remote seats (远程座席), and which calls go.
Pure: no I/O, no asyncio, no Redis; the clock is passed in (``now``), never read.

This module owns three things:

* the wait estimate: Erlang C (M/M/N) from the live figures of the local center, plus
  the wait behind the calls already queued (``estimate_wait``, ``erlang_c``,
  ``mean_wait_s``, ``service_level``);
* the overflow state machine with hysteresis: ``transition(state, figures, now, config)``
  returns ``(new_state, actions)``; the caller carries the actions out (claims seats,
  transfers calls, tells the remote site) and passes the returned state back next tick;
* which calls go: only 12345 calls, the longest-waiting first, one per idle remote seat,
  within ``max_remote_share``. 110 calls are never overflowed and never wait behind
  12345 calls (``answer_order``).

The overflow signal is the larger of the estimated wait of a new call and the longest
current wait. Both are judged on the *local* seats only, even while overflowing: the
question is whether the local center would cope on its own again, so draining the queue
through remote seats does not by itself end the surge (that would flap).

Knobs (``OverflowPolicyConfig``; defaults suit a county hotline of roughly 6-15 seats
with a handle time of 3-5 minutes):

``enter_wait_s`` (default 60)
    Overflow starts when the signal is above this many seconds. Set it well above the
    answer target the center is measured on (commonly 15-20 s) so ordinary peaks stay
    local, and below the wait at which callers start to give up (about 1-2 minutes).
``exit_wait_s`` (default 20)
    Overflow ends when the signal is below this. Must be lower than ``enter_wait_s``;
    the gap between the two is the hysteresis band in which nothing changes.
``enter_hold_s`` (default 30)
    The signal must stay above ``enter_wait_s`` this long, without a break, before
    overflow starts: one burst of calls is not a surge. 0 starts at once.
``exit_hold_s`` (default 180)
    The signal must stay below ``exit_wait_s`` this long, without a break, before
    overflow ends. Longer than a handle time, so a lull between two waves (common after
    an outage notice or a storm warning) does not hand the seats back too early.
``max_remote_share`` (default 0.5)
    At most this fraction of the calls in service (local seats busy plus remote seats
    busy or with a call on its way) may be on remote seats; 0.5 means never more remote
    calls than local ones, 1.0 means no limit. It keeps the service run by the center
    that owns it. When no local seat is signed in at all there is no local share to
    keep and only the idle remote seats bound the overflow.
``handoff_timeout_s`` (default 15)
    After an ``OverflowCall`` the call and the remote seat are reserved until the call
    leaves the local queue; if it is still queued after this many seconds the handoff
    is taken as failed and both become eligible again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from enum import Enum

from hotline_link.core.errors import ConfigError
from seat_pool.selection import SeatView, idle_longest_first
from seat_pool.state import SeatState

SeatKey = tuple[str, str]  # (site, seat)

_ON_A_CALL = frozenset({SeatState.RINGING, SeatState.TALKING})


# --- configuration -------------------------------------------------------------------


@dataclass(frozen=True)
class OverflowPolicyConfig:
    """The thresholds of the overflow policy; see the module docstring for each knob."""

    enter_wait_s: float = 60.0
    exit_wait_s: float = 20.0
    enter_hold_s: float = 30.0
    exit_hold_s: float = 180.0
    max_remote_share: float = 0.5
    handoff_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        for knob in fields(self):
            _require_finite_number(knob.name, getattr(self, knob.name))
        for name in ("exit_wait_s", "enter_hold_s", "exit_hold_s"):
            if (value := getattr(self, name)) < 0:
                raise ConfigError(f"overflow policy: {name} must not be negative, got {value}")
        if self.enter_wait_s <= 0:
            raise ConfigError(
                f"overflow policy: enter_wait_s must be above 0, got {self.enter_wait_s}"
            )
        if self.exit_wait_s >= self.enter_wait_s:
            raise ConfigError(
                f"overflow policy: exit_wait_s ({self.exit_wait_s}) must be lower than "
                f"enter_wait_s ({self.enter_wait_s}), or overflow would flap"
            )
        if not 0 < self.max_remote_share <= 1:
            raise ConfigError(
                "overflow policy: max_remote_share must be above 0 and at most 1, "
                f"got {self.max_remote_share}"
            )
        if self.handoff_timeout_s <= 0:
            raise ConfigError(
                f"overflow policy: handoff_timeout_s must be above 0, got {self.handoff_timeout_s}"
            )


def _require_finite_number(name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ConfigError(f"overflow policy: {name} must be a finite number, got {value!r}")


# --- live figures --------------------------------------------------------------------


class Platform(str, Enum):
    HOTLINE_12345 = "12345"
    POLICE_110 = "110"


@dataclass(frozen=True)
class WaitingCall:
    call_id: str
    platform: Platform
    queued_at: float  # when the call joined the local queue (same clock as ``now``)

    @property
    def emergency(self) -> bool:
        """A 110 call: answered before any 12345 call and never overflowed."""
        return self.platform is Platform.POLICE_110

    def waited_s(self, now: float) -> float:
        return max(0.0, now - self.queued_at)


@dataclass(frozen=True)
class CenterFigures:
    """A snapshot of the local center, as the caller measured it."""

    waiting: tuple[WaitingCall, ...]
    local_idle: int  # local seats signed in and free
    local_busy: int  # local seats ringing or talking
    handle_time_s: float  # recent average handle time
    arrivals_per_s: float  # recent arrival rate of calls to the center
    remote_seats: tuple[SeatView, ...] = ()  # seats the remote site lends this center

    def __post_init__(self) -> None:
        if self.local_idle < 0 or self.local_busy < 0:
            raise ValueError(
                f"seat counts must not be negative: idle={self.local_idle} busy={self.local_busy}"
            )
        for name in ("handle_time_s", "arrivals_per_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    @property
    def local_seats(self) -> int:
        return self.local_idle + self.local_busy

    @property
    def offered_load(self) -> float:
        """Erlangs: arrival rate times handle time."""
        return self.arrivals_per_s * self.handle_time_s


# --- Erlang B / C --------------------------------------------------------------------


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of N servers offered A erlangs, by the stable recursion
    B(0) = 1, B(n) = A*B(n-1) / (n + A*B(n-1))."""
    _check_queue_args(servers, offered_load)
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = offered_load * blocking / (n + offered_load * blocking)
    return blocking


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that a call has to wait (P_w). 1.0 when the queue is unstable
    (servers <= offered load, including no servers at all)."""
    _check_queue_args(servers, offered_load)
    if servers <= offered_load:
        return 1.0
    blocking = erlang_b(servers, offered_load)
    return servers * blocking / (servers - offered_load * (1.0 - blocking))


def mean_wait_s(servers: int, offered_load: float, handle_time_s: float) -> float:
    """Mean wait of all calls, P_w * AHT / (N - A); ``math.inf`` when unstable."""
    _check_handle_time(handle_time_s)
    if servers <= offered_load:
        return math.inf
    return erlang_c(servers, offered_load) * handle_time_s / (servers - offered_load)


def service_level(
    servers: int, offered_load: float, handle_time_s: float, within_s: float
) -> float:
    """Probability that a call is answered within ``within_s`` seconds:
    1 - P_w * exp(-(N - A) * T / AHT). 0.0 when unstable."""
    _check_handle_time(handle_time_s)
    if not math.isfinite(within_s) or within_s < 0:
        raise ValueError(f"within_s must be a finite number >= 0, got {within_s!r}")
    if servers <= offered_load:
        return 0.0
    waiting = erlang_c(servers, offered_load)
    if waiting == 0.0:
        return 1.0
    return 1.0 - waiting * math.exp(-(servers - offered_load) * within_s / handle_time_s)


def _check_queue_args(servers: int, offered_load: float) -> None:
    if isinstance(servers, bool) or not isinstance(servers, int) or servers < 0:
        raise ValueError(f"servers must be an int >= 0, got {servers!r}")
    if not math.isfinite(offered_load) or offered_load < 0:
        raise ValueError(f"offered_load must be a finite number >= 0, got {offered_load!r}")


def _check_handle_time(handle_time_s: float) -> None:
    if not math.isfinite(handle_time_s) or handle_time_s < 0:
        raise ValueError(f"handle_time_s must be a finite number >= 0, got {handle_time_s!r}")


# --- wait estimate -------------------------------------------------------------------


@dataclass(frozen=True)
class WaitEstimate:
    probability_of_waiting: float  # Erlang C on the local seats
    steady_wait_s: float  # Erlang C mean wait at the recent arrival rate
    queue_wait_s: float  # expected wait behind the calls queued now
    longest_wait_s: float  # of the calls queued now

    @property
    def expected_wait_s(self) -> float:
        """The estimated wait of a new 12345 call: the worse of the two estimates."""
        return max(self.steady_wait_s, self.queue_wait_s)

    @property
    def signal_s(self) -> float:
        """What the thresholds are compared with."""
        return max(self.expected_wait_s, self.longest_wait_s)

    @property
    def reason(self) -> str:
        return "longest_wait" if self.longest_wait_s > self.expected_wait_s else "estimated_wait"


def estimate_wait(figures: CenterFigures, now: float) -> WaitEstimate:
    """Estimate the wait of a call arriving now at the local seats."""
    seats, load = figures.local_seats, figures.offered_load
    return WaitEstimate(
        probability_of_waiting=erlang_c(seats, load),
        steady_wait_s=mean_wait_s(seats, load, figures.handle_time_s),
        queue_wait_s=_queue_wait_s(figures),
        longest_wait_s=max((c.waited_s(now) for c in figures.waiting), default=0.0),
    )


def _queue_wait_s(figures: CenterFigures) -> float:
    """A new call is behind every queued call (110 calls go first, older 12345 calls
    before it). Idle seats take the head of the queue; after that a seat frees up on
    average every AHT / N seconds (M/M/N, exact for exponential handle times)."""
    position = len(figures.waiting) - figures.local_idle + 1
    if position <= 0:
        return 0.0
    if figures.local_seats == 0:
        return math.inf
    return position * figures.handle_time_s / figures.local_seats


def answer_order(waiting: Iterable[WaitingCall]) -> list[WaitingCall]:
    """The order in which local seats take queued calls: every 110 call before any 12345
    call, each platform longest-waiting first (ties by call id)."""
    return sorted(waiting, key=lambda c: (not c.emergency, c.queued_at, c.call_id))


# --- actions -------------------------------------------------------------------------


@dataclass(frozen=True)
class StartOverflow:
    reason: str  # estimated_wait | longest_wait
    wait_s: float  # the signal when overflow started


@dataclass(frozen=True)
class StopOverflow:
    reason: str  # wait_below_exit
    wait_s: float


@dataclass(frozen=True)
class OverflowCall:
    call_id: str
    site: str  # the remote seat to send it to
    seat: str


@dataclass(frozen=True)
class ReleaseRemoteSeat:
    site: str
    seat: str


Action = StartOverflow | StopOverflow | OverflowCall | ReleaseRemoteSeat


# --- state ---------------------------------------------------------------------------


class OverflowMode(str, Enum):
    LOCAL_ONLY = "local_only"
    OVERFLOWING = "overflowing"


@dataclass(frozen=True)
class Handoff:
    """An ``OverflowCall`` not yet done: the call is still in the local queue."""

    call_id: str
    site: str
    seat: str
    at: float

    @property
    def seat_key(self) -> SeatKey:
        return (self.site, self.seat)


@dataclass(frozen=True)
class OverflowState:
    mode: OverflowMode = OverflowMode.LOCAL_ONLY
    since: float | None = None  # when the current mode began (None: never changed)
    crossing_since: float | None = None  # when the signal last crossed toward the other mode
    handoffs: tuple[Handoff, ...] = ()
    releasing: frozenset[SeatKey] = frozenset()  # remote seats to hand back once idle


# --- the transition ------------------------------------------------------------------


def transition(
    state: OverflowState, figures: CenterFigures, now: float, config: OverflowPolicyConfig
) -> tuple[OverflowState, list[Action]]:
    """One tick of the policy. ``now`` must not go backwards between ticks."""
    estimate = estimate_wait(figures, now)
    state = replace(state, handoffs=_live_handoffs(state.handoffs, figures, now, config))
    state, actions = _switch_mode(state, figures, estimate, now, config)
    state, released = _release_idle_seats(state, figures)
    actions += released
    if state.mode is OverflowMode.OVERFLOWING:
        state, sent = _overflow_calls(state, figures, now, config)
        actions += sent
    return state, actions


def _switch_mode(
    state: OverflowState,
    figures: CenterFigures,
    estimate: WaitEstimate,
    now: float,
    config: OverflowPolicyConfig,
) -> tuple[OverflowState, list[Action]]:
    signal = estimate.signal_s
    if state.mode is OverflowMode.LOCAL_ONLY:
        crossing, hold = signal > config.enter_wait_s, config.enter_hold_s
    else:
        crossing, hold = signal < config.exit_wait_s, config.exit_hold_s
    if not crossing:
        return replace(state, crossing_since=None), []
    since = now if state.crossing_since is None else state.crossing_since
    if now - since < hold:
        return replace(state, crossing_since=since), []
    if state.mode is OverflowMode.LOCAL_ONLY:
        return _start(state, now), [StartOverflow(reason=estimate.reason, wait_s=signal)]
    return _stop(state, figures, now), [StopOverflow(reason="wait_below_exit", wait_s=signal)]


def _start(state: OverflowState, now: float) -> OverflowState:
    # Seats still waiting to be handed back are in use again.
    return replace(
        state, mode=OverflowMode.OVERFLOWING, since=now, crossing_since=None, releasing=frozenset()
    )


def _stop(state: OverflowState, figures: CenterFigures, now: float) -> OverflowState:
    lent = {(s.site, s.seat) for s in figures.remote_seats}
    lent |= {h.seat_key for h in state.handoffs}
    mode = OverflowMode.LOCAL_ONLY
    return replace(state, mode=mode, since=now, crossing_since=None, releasing=frozenset(lent))


def _live_handoffs(
    handoffs: tuple[Handoff, ...], figures: CenterFigures, now: float, config: OverflowPolicyConfig
) -> tuple[Handoff, ...]:
    """Keep handoffs whose call is still queued and that have not timed out."""
    queued = {c.call_id for c in figures.waiting}
    timeout = config.handoff_timeout_s
    return tuple(h for h in handoffs if h.call_id in queued and now - h.at < timeout)


def _release_idle_seats(
    state: OverflowState, figures: CenterFigures
) -> tuple[OverflowState, list[Action]]:
    """Hand back the seats being released that are no longer on a call. A seat missing
    from the figures is kept until it is seen again: its state is unknown."""
    states = {(s.site, s.seat): s.state for s in figures.remote_seats}
    in_flight = {h.seat_key for h in state.handoffs}
    free = sorted(
        key for key in state.releasing
        if key in states and states[key] not in _ON_A_CALL and key not in in_flight
    )
    actions: list[Action] = [ReleaseRemoteSeat(site, seat) for site, seat in free]
    return replace(state, releasing=state.releasing - set(free)), actions


def _overflow_calls(
    state: OverflowState, figures: CenterFigures, now: float, config: OverflowPolicyConfig
) -> tuple[OverflowState, list[Action]]:
    calls = overflow_candidates(figures, state.handoffs)
    seats = free_remote_seats(figures, state.handoffs)
    count = min(len(calls), len(seats), _remote_room(figures, state.handoffs, config))
    pairs = list(zip(calls[:count], seats[:count], strict=True))
    actions: list[Action] = [OverflowCall(c.call_id, s.site, s.seat) for c, s in pairs]
    handoffs = state.handoffs + tuple(Handoff(c.call_id, s.site, s.seat, now) for c, s in pairs)
    return replace(state, handoffs=handoffs), actions


def overflow_candidates(
    figures: CenterFigures, handoffs: tuple[Handoff, ...] = ()
) -> list[WaitingCall]:
    """12345 calls that may go to a remote seat, longest-waiting first. Never a 110
    call; never a call already on its way; and as many fewer as the local idle seats
    left after the 110 calls will answer right now."""
    on_the_way = {h.call_id for h in handoffs}
    calls = [
        c for c in answer_order(figures.waiting)
        if not c.emergency and c.call_id not in on_the_way
    ]
    emergencies = sum(1 for c in figures.waiting if c.emergency)
    spare_local = max(0, figures.local_idle - emergencies)
    return calls[: max(0, len(calls) - spare_local)]


def free_remote_seats(
    figures: CenterFigures, handoffs: tuple[Handoff, ...] = ()
) -> list[SeatView]:
    """Idle remote seats with no call on its way to them, longest-idle first."""
    reserved = {h.seat_key for h in handoffs}
    idle = idle_longest_first(list(figures.remote_seats))
    return [s for s in idle if (s.site, s.seat) not in reserved]


def _remote_room(
    figures: CenterFigures, handoffs: tuple[Handoff, ...], config: OverflowPolicyConfig
) -> int:
    """How many more calls may go remote within ``max_remote_share``:
    the largest k with (R + k) <= share * (L + R + k)."""
    share = config.max_remote_share
    if share >= 1 or figures.local_seats == 0:
        return len(figures.remote_seats)
    remote = {(s.site, s.seat) for s in figures.remote_seats if s.state in _ON_A_CALL}
    remote |= {h.seat_key for h in handoffs}
    room = share * figures.local_busy / (1 - share) - len(remote)
    return max(0, math.floor(room + 1e-9))
