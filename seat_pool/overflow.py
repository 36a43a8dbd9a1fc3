"""Runs the overflow policy (``overflow_policy.py``) on live figures, once a tick.

Per center it measures the arrival rate and handle time (``CenterStats``), reads the
queue and the seats from Redis, and feeds them to ``transition``. What the policy decides
is carried out by others: ``OverflowCall`` becomes an assignment the waiting call's router
picks up (it claims the remote seat itself), start and stop go on the bus and the log.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import structlog

from hotline_link.bus import BusEvent, EventBus
from hotline_link.settings import Settings
from hotline_link.tasks import cancel_and_wait
from seat_pool.overflow_policy import (
    CenterFigures, OverflowCall, OverflowMode, OverflowState, ReleaseRemoteSeat, StartOverflow,
    StopOverflow, WaitEstimate, estimate_wait, transition)
from seat_pool.state import SeatState
from seat_pool.store import SeatStore
from seat_pool.waiting import WaitingQueue

log = structlog.get_logger(__name__)

WAIT_CAP_S = 86_400.0
_SERVING = frozenset({SeatState.RINGING, SeatState.TALKING, SeatState.WRAP_UP})


class CenterStats:
    """Recent arrivals and handle times of one center. Pure: the clock is passed in."""

    def __init__(self, default_handle_s: float, window_s: float = 120.0, samples: int = 50) -> None:
        self.default_handle_s = default_handle_s
        self.window_s = window_s
        self._arrivals: deque[float] = deque()
        self._handle_times: deque[float] = deque(maxlen=samples)
        self._talking_since: dict[str, float] = {}

    def arrival(self, now: float) -> None:
        self._arrivals.append(now)
        self._trim(now)

    def seat_changed(self, seat: str, new: str, now: float) -> None:
        if new == SeatState.TALKING.value:
            self._talking_since.setdefault(seat, now)
        elif (started := self._talking_since.pop(seat, None)) is not None:
            self._handle_times.append(now - started)

    def arrivals_per_s(self, now: float) -> float:
        self._trim(now)
        return len(self._arrivals) / self.window_s

    def handle_time_s(self) -> float:
        if not self._handle_times:
            return self.default_handle_s
        return sum(self._handle_times) / len(self._handle_times)

    def _trim(self, now: float) -> None:
        while self._arrivals and self._arrivals[0] < now - self.window_s:
            self._arrivals.popleft()


class OverflowController:
    def __init__(self, settings: Settings, seats: SeatStore, queue: WaitingQueue, bus: EventBus) -> None:
        self.settings = settings
        self.seats = seats
        self.queue = queue
        self.bus = bus
        self.config = settings.overflow_policy()
        self.centers = {s.id: s.agents for s in settings.sites if s.intake}
        remote = next((s for s in settings.sites if s.id == settings.remote_seat_site), None)
        self.overflowing = settings.overflow_center_ids & set(self.centers) if remote else set()
        self.remote_site = remote.id if remote else ""
        self.remote_agents = remote.agents if remote else ()
        self.stats = {c: CenterStats(settings.default_handle_time_s) for c in self.centers}
        self.states = {c: OverflowState() for c in self.overflowing}
        self.estimates: dict[str, WaitEstimate] = {}
        # call id -> (center, remote site, remote seat)
        self._assignments: dict[str, tuple[str, str, str]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        log.info("overflow.configured", centers=sorted(self.overflowing), remote_site=self.remote_site or None)
        self.bus.listen(self._on_event)
        self._task = asyncio.create_task(self._run(), name="overflow-controller")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    def active(self, site: str) -> bool:
        state = self.states.get(site)
        return state is not None and state.mode is OverflowMode.OVERFLOWING

    def expected_wait_s(self, site: str) -> float:
        estimate = self.estimates.get(site)
        return estimate.expected_wait_s if estimate else 0.0

    def take_assignment(self, call_id: str) -> tuple[str, str] | None:
        """The remote seat the policy gave this queued call, if any: (site, seat)."""
        assignment = self._assignments.pop(call_id, None)
        return assignment[1:] if assignment else None

    def _on_event(self, event: BusEvent) -> None:
        now = time.time()
        if event.name == "queue.arrival" and event.data["site"] in self.stats:
            self.stats[event.data["site"]].arrival(now)
        elif event.name == "seat.changed" and event.data["site"] in self.stats:
            self.stats[event.data["site"]].seat_changed(event.data["seat"], event.data["new"], now)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick(time.time())
            except Exception:  # Redis away: keep the last state, try again next tick
                log.exception("overflow.tick_failed")
            await asyncio.sleep(self.settings.overflow_tick_s)

    async def tick(self, now: float) -> None:
        remote = tuple(await self.seats.view(self.remote_site, self.remote_agents)) \
            if self.remote_site else ()
        for center, agents in self.centers.items():
            figures = await self._figures(center, agents, remote, now)
            self.estimates[center] = estimate_wait(figures, now)
            if center in self.states:
                self._apply(center, figures, now)

    async def _figures(self, center: str, agents: tuple[str, ...], remote: tuple, now: float) -> CenterFigures:
        views = await self.seats.view(center, agents)
        stats = self.stats[center]
        return CenterFigures(
            waiting=await self.queue.calls(center, now),
            local_idle=sum(1 for v in views if v.state is SeatState.IDLE),
            local_busy=sum(1 for v in views if v.state in _SERVING),
            handle_time_s=stats.handle_time_s(), arrivals_per_s=stats.arrivals_per_s(now),
            remote_seats=remote if center in self.overflowing else ())

    def _apply(self, center: str, figures: CenterFigures, now: float) -> None:
        self.states[center], actions = transition(self.states[center], figures, now, self.config)
        for action in actions:
            if isinstance(action, (StartOverflow, StopOverflow)):
                active = isinstance(action, StartOverflow)
                wait_s = min(action.wait_s, WAIT_CAP_S)  # inf: more calls than seats can take
                log.info("overflow.started" if active else "overflow.stopped", site=center,
                         reason=action.reason, wait_s=round(wait_s, 1))
                self.bus.publish("overflow.changed", site=center, active=active,
                                 estimated_wait_s=round(wait_s, 1))
            elif isinstance(action, OverflowCall):
                self._assignments[action.call_id] = (center, action.site, action.seat)
                log.info("overflow.assigned", site=center, call_id=action.call_id,
                         remote_site=action.site, seat=action.seat)
                self.bus.publish("overflow.assigned", site=center, call_id=action.call_id,
                                 remote_site=action.site, seat=action.seat)
            elif isinstance(action, ReleaseRemoteSeat):
                log.info("overflow.seat_released", site=center, remote_site=action.site, seat=action.seat)
        queued = {c.call_id for c in figures.waiting}
        for call_id in [c for c, (owner, _, _) in self._assignments.items()
                        if owner == center and c not in queued]:
            del self._assignments[call_id]  # the call left the queue another way
