"""Places one inbound call: a local seat now, or the queue until a seat (local, or remote
when the center overflows) is free, or the surge IVR. The caller waits inside the route
hook; ``alive`` tells whether the caller is still there.

Waiting is event-driven: a seat turning idle, a queued call leaving or an overflow
assignment wakes the waiters of that site, and a one-second tick catches anything missed
(another instance's seat, for one)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from redis.exceptions import RedisError

from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import OverflowAssigned, QueueJoined, QueueLeft, SeatChanged
from hotline_link.core.settings import Settings
from seat_pool.config import skills_of_site
from seat_pool.overflow import OverflowController
from seat_pool.overflow_policy import answer_order
from seat_pool.routing import CallFacts, Outcome, offer_ivr, takes_seat_now
from seat_pool.skills import able_seats, wanted_skills
from seat_pool.state import SeatState
from seat_pool.store import SeatStore
from seat_pool.waiting import WaitingQueue

log = structlog.get_logger(__name__)

WAKE_TICK_S = 1.0
REDIS_STEP_S = 5.0  # one placement attempt; beyond this Redis is taken as away


@dataclass(frozen=True)
class Placement:
    outcome: Outcome
    target: str = ""  # what the dialplan dials, e.g. PJSIP/1001 or PJSIP/3001@trunk-remote
    seat: str | None = None
    queued_at: float = 0.0
    site: str = ""  # the site of the seat


class CallRouter:
    def __init__(self, settings: Settings, seats: SeatStore, queue: WaitingQueue,
                 overflow: OverflowController, bus: EventBus) -> None:
        self.settings = settings
        self.seats = seats
        self.queue = queue
        self.overflow = overflow
        self.bus = bus
        self._agents = {s.id: s.agents for s in settings.sites}
        self._skills = {s.id: skills_of_site(settings, s) for s in settings.sites}
        self._wake: dict[str, asyncio.Event] = {}

    @property
    def sites(self) -> frozenset[str]:
        return frozenset(self._agents)

    def attach(self) -> None:
        self.bus.listen(self._on_event)

    def _on_event(self, event: BusEvent) -> None:
        if event.is_(SeatChanged):
            changed = event.as_(SeatChanged)
            if changed.new != SeatState.IDLE.value:
                return
            site = changed.site
            sites = [site] if site != self.overflow.remote_site else list(self.overflow.overflowing)
        elif event.is_(QueueLeft):
            sites = [event.as_(QueueLeft).site]
        elif event.is_(OverflowAssigned):
            sites = [event.as_(OverflowAssigned).site]
        else:
            return
        for name in sites:
            if (old := self._wake.pop(name, None)) is not None:
                old.set()

    def _wake_event(self, site: str) -> asyncio.Event:
        return self._wake.setdefault(site, asyncio.Event())

    async def place(self, call: CallFacts, alive: Callable[[], Awaitable[bool]],
                    queued_at: float | None = None) -> Placement:
        if call.first_round and not call.ivr_done:  # one arrival per call, for the rate
            await self.overflow.record_arrival(call.site, call.call_id)
        seat = await self._claim_local(call)
        if seat is not None:
            return Placement(Outcome.SEAT, f"PJSIP/{seat}", seat, site=call.site)
        if call.handed_over:
            return Placement(Outcome.BUSY)
        queued_at = queued_at or time.time()
        await self.queue.join(call.site, call.call_id, queued_at, call.emergency)
        placement = Placement(Outcome.FALLBACK, queued_at=queued_at)
        try:
            await self._announce_join(call)
            if offer_ivr(call, self.settings.ivr_site_ids, self.overflow.active(call.site),
                         self.overflow.expected_wait_s(call.site), self.settings.ivr_offer_wait_s):
                placement = Placement(Outcome.IVR, queued_at=queued_at)
            else:
                placement = await self._wait(call, alive, queued_at)
            return placement
        finally:
            await asyncio.shield(self._leave(call, placement, queued_at))

    async def _announce_join(self, call: CallFacts) -> None:
        waiting = answer_order(await self.queue.calls(call.site))
        position = next((i for i, c in enumerate(waiting) if c.call_id == call.call_id), len(waiting))
        log.info("queue.joined", call_id=call.call_id, site=call.site, position=position + 1)
        self.bus.emit(QueueJoined(call_id=call.call_id, site=call.site, emergency=call.emergency,
                                  position=position + 1))

    async def release(self, call_id: str, placement: Placement) -> None:
        """The call will not reach the seat it claimed (the caller left): free it now."""
        if placement.seat:
            await self.seats.release(placement.site, placement.seat, call_id)

    async def _leave(self, call: CallFacts, placement: Placement, queued_at: float) -> None:
        try:
            await self.queue.leave(call.site, call.call_id)
        except RedisError as exc:  # its router no longer touches it: readers drop it in seconds
            log.warning("queue.leave_failed", call_id=call.call_id, site=call.site, error=str(exc))
        waited = round(time.time() - queued_at, 3)
        log.info("queue.left", call_id=call.call_id, site=call.site,
                 outcome=placement.outcome.value, waited_s=waited, seat=placement.seat)
        self.bus.emit(QueueLeft(call_id=call.call_id, site=call.site, outcome=placement.outcome.value,
                                waited_s=waited, seat=placement.seat))

    async def _wait(self, call: CallFacts, alive: Callable[[], Awaitable[bool]],
                    queued_at: float) -> Placement:
        deadline = queued_at + self.settings.queue_max_wait_s
        while True:
            wake = self._wake_event(call.site)
            try:
                async with asyncio.timeout(REDIS_STEP_S):
                    if (placement := await self._try_place(call, queued_at)) is not None:
                        return placement
            except (RedisError, TimeoutError) as exc:  # Redis away for a moment: keep waiting
                log.warning("queue.redis_failed", call_id=call.call_id, site=call.site,
                            error=type(exc).__name__)
            if time.time() >= deadline:
                return Placement(Outcome.FALLBACK, queued_at=queued_at)
            try:
                async with asyncio.timeout(WAKE_TICK_S):
                    await wake.wait()
            except TimeoutError:
                pass
            if not await alive():
                return Placement(Outcome.ABANDONED, queued_at=queued_at)
            try:
                await self.queue.touch(call.site, call.call_id, queued_at, call.emergency)
            except RedisError:
                pass  # said above; the entry comes back with the next touch

    async def _try_place(self, call: CallFacts, queued_at: float) -> Placement | None:
        seat = await self._claim_local(call)
        if seat is not None:
            return Placement(Outcome.SEAT, f"PJSIP/{seat}", seat, queued_at, call.site)
        assignment = await self.overflow.take_assignment(call.site, call.call_id)
        if assignment is None:
            return None
        site, seat = assignment
        if await self.seats.claim(site, seat, call.call_id):
            return Placement(Outcome.REMOTE, f"PJSIP/{seat}@trunk-{site}", seat, queued_at, site)
        log.info("overflow.seat_taken", call_id=call.call_id, remote_site=site, seat=seat)
        return None

    async def _claim_local(self, call: CallFacts) -> str | None:
        """The longest-idle local seat with the skill the call wants most, if the call's
        turn has come. Seats already claimed by another call do not count as free."""
        views = await self.seats.view(call.site, self._agents[call.site], unclaimed=True)
        able = able_seats(views, self._skills[call.site], wanted_skills(call.site, call.handed_from))
        if not takes_seat_now(await self.queue.calls(call.site), call.call_id, len(able)):
            return None
        for view in able:
            if await self.seats.claim(call.site, view.seat, call.call_id):
                return view.seat
        return None

