"""Runs the overflow policy (``overflow_policy.py``) on live figures, once a tick.

Per center it reads the queue, the seats and the recent arrivals from Redis, measures
handle times (``CenterStats``) and feeds them to ``transition``. With several server
instances one leads each center (a Redis lease) and runs the policy; its decisions live in
Redis so every instance acts on them: whether the center overflows (the IVR offer, the
surge banner) and which queued call goes to which remote seat (an assignment the waiting
call's router, on whichever instance, picks up and claims itself).

Keys: ``hl:overflow:{center}:lead`` (the leader's id, with a TTL), ``hl:overflow:{center}``
(hash: active, estimated_wait_s), ``hl:overflow:{center}:assign`` (hash: call id ->
site|seat), ``hl:arrivals:{center}`` (sorted set: call id -> arrival time).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque

import structlog

from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import OverflowAssigned, OverflowChanged, SeatChanged
from hotline_link.core.settings import Settings
from hotline_link.core.tasks import cancel_and_wait, repeat_every
from seat_pool.config import overflow_policy
from seat_pool.overflow_policy import (
    CenterFigures,
    OverflowCall,
    OverflowMode,
    OverflowState,
    ReleaseRemoteSeat,
    StartOverflow,
    StopOverflow,
    WaitEstimate,
    estimate_wait,
    transition,
)
from seat_pool.state import SeatState
from seat_pool.store import SeatStore
from seat_pool.waiting import WaitingQueue

log = structlog.get_logger(__name__)

WAIT_CAP_S = 86_400.0
_SERVING = frozenset({SeatState.RINGING, SeatState.TALKING, SeatState.WRAP_UP})


class CenterStats:
    """Recent handle times of one center's seats. Pure: the clock is passed in. (Every
    instance hears every seat change over its own AMI connection, so each can keep these.)"""

    def __init__(self, default_handle_s: float, samples: int = 50) -> None:
        self.default_handle_s = default_handle_s
        self._handle_times: deque[float] = deque(maxlen=samples)
        self._talking_since: dict[str, float] = {}

    def seat_changed(self, seat: str, new: str, now: float) -> None:
        if new == SeatState.TALKING.value:
            self._talking_since.setdefault(seat, now)
        elif (started := self._talking_since.pop(seat, None)) is not None:
            self._handle_times.append(now - started)

    def handle_time_s(self) -> float:
        if not self._handle_times:
            return self.default_handle_s
        return sum(self._handle_times) / len(self._handle_times)


class OverflowController:
    def __init__(self, settings: Settings, seats: SeatStore, queue: WaitingQueue, bus: EventBus) -> None:
        self.settings = settings
        self.seats = seats
        self.queue = queue
        self.bus = bus
        self.config = overflow_policy(settings)
        self.centers = {s.id: s.agents for s in settings.sites if s.intake}
        remote = next((s for s in settings.sites if s.id == settings.remote_seat_site), None)
        self.overflowing = settings.overflow_center_ids & set(self.centers) if remote else set()
        self.remote_site = remote.id if remote else ""
        self.remote_agents = remote.agents if remote else ()
        self.stats = {c: CenterStats(settings.default_handle_time_s) for c in self.centers}
        self.states = {c: OverflowState() for c in self.overflowing}
        self.estimates: dict[str, WaitEstimate] = {}
        self._active: dict[str, bool] = {}  # as this instance last read it from Redis
        self._instance = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        log.info("overflow.configured", centers=sorted(self.overflowing), remote_site=self.remote_site or None)
        self.bus.listen(self._on_event)
        # Redis away: the last decisions stand until a tick goes through again
        self._task = asyncio.create_task(
            repeat_every(lambda: self.tick(time.time()), lambda: self.settings.overflow_tick_s,
                         failed="overflow.tick_failed", bug="overflow.tick_failed"),
            name="overflow-controller")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    def active(self, site: str) -> bool:
        return self._active.get(site, False)

    def expected_wait_s(self, site: str) -> float:
        estimate = self.estimates.get(site)
        return estimate.expected_wait_s if estimate else 0.0

    async def take_assignment(self, center: str, call_id: str) -> tuple[str, str] | None:
        """The remote seat the policy gave this queued call, if any: (site, seat). Taken
        once: of two instances asking, one gets it."""
        pipe = self.seats.redis.pipeline(transaction=True)
        pipe.hget(_assign_key(center), call_id)
        pipe.hdel(_assign_key(center), call_id)
        value, _ = await pipe.execute()
        site, sep, seat = (value or "").partition("|")
        return (site, seat) if sep else None

    async def record_arrival(self, center: str, call_id: str) -> None:
        await self.seats.redis.zadd(_arrivals_key(center), {call_id: time.time()})

    def _on_event(self, event: BusEvent) -> None:
        if event.is_(SeatChanged):
            changed = event.as_(SeatChanged)
            if changed.site in self.stats:
                self.stats[changed.site].seat_changed(changed.seat, changed.new, time.time())

    async def tick(self, now: float) -> None:
        remote = tuple(await self.seats.view(self.remote_site, self.remote_agents)) \
            if self.remote_site else ()
        for center, agents in self.centers.items():
            figures = await self._figures(center, agents, remote, now)
            self.estimates[center] = estimate_wait(figures, now)
            if center in self.states:
                if await self._lead(center):
                    await self._apply(center, figures, now)
                await self._follow(center)

    def _lease_ms(self) -> int:
        return int(max(3.0, 3 * self.settings.overflow_tick_s) * 1000)

    async def _lead(self, center: str) -> bool:
        return bool(await self.seats.redis.eval(_LEAD, 1, f"hl:overflow:{center}:lead",
                                                self._instance, self._lease_ms()))

    async def _follow(self, center: str) -> None:
        """Act on the leader's decision: publish a change of mode on this instance's bus."""
        shared = await self.seats.redis.hgetall(_state_key(center))
        active = shared.get("active") == "1"
        if active != self._active.get(center, False):
            self._active[center] = active
            self.bus.emit(OverflowChanged(site=center, active=active,
                                          estimated_wait_s=float(shared.get("estimated_wait_s", "0") or 0)))

    async def _figures(self, center: str, agents: tuple[str, ...], remote: tuple, now: float) -> CenterFigures:
        views = await self.seats.view(center, agents)
        stats = self.stats[center]
        pipe = self.seats.redis.pipeline(transaction=True)
        window = self.settings.overflow_arrival_window_s
        pipe.zremrangebyscore(_arrivals_key(center), "-inf", now - window)
        pipe.zcard(_arrivals_key(center))
        _, arrivals = await pipe.execute()
        return CenterFigures(
            waiting=await self.queue.calls(center, now),
            local_idle=sum(1 for v in views if v.state is SeatState.IDLE),
            local_busy=sum(1 for v in views if v.state in _SERVING),
            handle_time_s=stats.handle_time_s(), arrivals_per_s=arrivals / window,
            remote_seats=remote if center in self.overflowing else ())

    async def _apply(self, center: str, figures: CenterFigures, now: float) -> None:
        self.states[center], actions = transition(self.states[center], figures, now, self.config)
        redis = self.seats.redis
        for action in actions:
            if isinstance(action, (StartOverflow, StopOverflow)):
                active = isinstance(action, StartOverflow)
                wait_s = min(action.wait_s, WAIT_CAP_S)  # inf: more calls than seats can take
                log.info("overflow.started" if active else "overflow.stopped", site=center,
                         reason=action.reason, wait_s=round(wait_s, 1))
                await redis.hset(_state_key(center), mapping={"active": "1" if active else "0",
                                                              "estimated_wait_s": f"{wait_s:.1f}"})
            elif isinstance(action, OverflowCall):
                await redis.hset(_assign_key(center), action.call_id, f"{action.site}|{action.seat}")
                log.info("overflow.assigned", site=center, call_id=action.call_id,
                         remote_site=action.site, seat=action.seat)
                self.bus.emit(OverflowAssigned(site=center, call_id=action.call_id, remote_site=action.site,
                                               seat=action.seat))
            elif isinstance(action, ReleaseRemoteSeat):
                log.info("overflow.seat_released", site=center, remote_site=action.site, seat=action.seat)
        # the leader's mode is the truth, written every tick: a new leader (the old one died)
        # starts local-only and says so; with no leader at all the decision fades in seconds
        active = self.states[center].mode is OverflowMode.OVERFLOWING
        pipe = redis.pipeline(transaction=True)
        pipe.hset(_state_key(center), "active", "1" if active else "0")
        pipe.pexpire(_state_key(center), self._lease_ms())
        await pipe.execute()
        queued = {c.call_id for c in figures.waiting}
        stale = [c for c in await redis.hkeys(_assign_key(center)) if c not in queued]
        if stale:  # the call left the queue another way
            await redis.hdel(_assign_key(center), *stale)


# take the lead if nobody has it, or keep it if it is ours; either way for ARGV[2] ms more
_LEAD = ("if redis.call('GET', KEYS[1]) == ARGV[1] or "
         "redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then "
         "redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end return 0")


def _state_key(center: str) -> str:
    return f"hl:overflow:{center}"


def _assign_key(center: str) -> str:
    return f"hl:overflow:{center}:assign"


def _arrivals_key(center: str) -> str:
    return f"hl:arrivals:{center}"
