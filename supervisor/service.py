"""The supervisor's live figures and actions: the edge that feeds ``figures.Dashboard``
from the event bus, the seat pool and the exchange channel's view, writes the hourly
history to Redis, wakes the page's event streams, and carries out the supervisor's actions
over the seat pool and AMI.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from call_control.calls import CallBook
from call_control.errors import AsteriskRefused, CallControlError
from hotline_link.asterisk.ami.manager import AmiManager
from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.errors import AmiError
from hotline_link.core.events import (
    CATALOG,
    EVENT_TYPES,
    CallRinging,
    CallStarted,
    ConferenceEvent,
    Event,
    OverflowAssigned,
    SeatChanged,
    TransferStateEvent,
)
from hotline_link.core.tasks import cancel_and_wait
from seat_pool.errors import AgentNotFound
from seat_pool.state import SeatState
from supervisor.figures import HANDLERS, Count, Dashboard
from supervisor.history import (
    HISTORY_TTL_S,
    MARKER_TTL_S,
    HistoryRange,
    history_key,
    hour_bucket,
    marker_key,
)

if TYPE_CHECKING:
    from hotline_link.core.settings import Settings
    from seat_pool.registry import SeatRegistry

log = structlog.get_logger(__name__)

REFRESH_S = 1.0  # seat snapshot from Redis (wrap-up ends, other instances' changes)
# what the page follows: every event its figures count or list (calls, queues, overflow,
# IVR, seats, transfers, conferences, alerts), and the rest of the transfer and conference
# events, which only wake its streams
_WATCHED: frozenset[type[Event]] = frozenset({
    *HANDLERS, CallStarted, CallRinging, OverflowAssigned,
    *(kind for kind in CATALOG if issubclass(kind, (TransferStateEvent, ConferenceEvent)))})


class ExchangeView(Protocol):
    """What the page needs of the exchange channel (``exchange.service.ExchangeService``):
    its link and backlog as last learned, without I/O."""

    def view(self) -> Mapping[str, Any]: ...


class AgentNotOnCall(CallControlError):
    status, code = 409, "agent_not_on_call"


class ListenerUnavailable(CallControlError):
    status, code = 409, "listener_unavailable"


class SupervisorService:
    def __init__(self, settings: Settings, bus: EventBus, redis: Redis,
                 registry: SeatRegistry, ami: AmiManager, book: CallBook) -> None:
        self.settings = settings
        self.bus = bus
        self.redis = redis
        self.registry = registry
        self.ami = ami
        self.book = book
        self.dashboard = Dashboard(
            [s.id for s in settings.sites],
            {agent: s.id for s in settings.sites for agent in s.agents},
            service_level_s=settings.service_level_s)
        self._counts: asyncio.Queue[Count] = asyncio.Queue(maxsize=10_000)
        self._streams: set[asyncio.Event] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = False
        self.closing = False  # set on shutdown: event streams end instead of waiting
        self.exchange: ExchangeView | None = None

    def attach_exchange(self, exchange: ExchangeView) -> None:
        """The exchange plugin runs here (its channel on or off): the page shows its link."""
        self.exchange = exchange
        self._pull_exchange()

    def _pull_exchange(self) -> bool:
        return self.exchange is not None and self.dashboard.set_exchange(self.exchange.view())

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.closing = False
        if not self._listening:  # the bus has no unlisten: listen once per service
            self.bus.listen(self._on_event)
            self._listening = True
        self._tasks = [asyncio.create_task(self._write_history(), name="supervisor-history"),
                       asyncio.create_task(self._refresh_loop(), name="supervisor-refresh")]

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []
        for stream in self._streams:
            stream.set()

    # --- figures -------------------------------------------------------------------------

    def _on_event(self, event: BusEvent) -> None:
        """Called synchronously on publish: apply, queue history, wake the streams."""
        kind = EVENT_TYPES.get(event.name)
        if kind is None or kind not in _WATCHED:
            return
        for count in self.dashboard.apply(event.as_(kind), time.time()):
            try:
                self._counts.put_nowait(count)
            except asyncio.QueueFull:
                log.warning("supervisor.history_dropped", field=count.field, site=count.site)
        if event.is_(SeatChanged) and self._tasks:
            # the event carries Asterisk's view (talking -> idle); the pool may say wrap-up,
            # paused or logged out: read the seat's effective state now, not at the next tick
            self._tasks = [t for t in self._tasks if not t.done()]
            self._tasks.append(asyncio.create_task(self._refresh_now()))
        self.changed()

    async def _refresh_now(self) -> None:
        try:
            if await self.refresh_seats():
                self.changed()
        except (RedisError, OSError) as exc:
            log.warning("supervisor.refresh_failed", error=str(exc))

    def changed(self) -> None:
        for stream in self._streams:
            stream.set()

    def close_streams(self) -> None:
        """The HTTP server is shutting down: every event stream ends now."""
        self.closing = True
        self.changed()

    def subscribe(self) -> asyncio.Event:
        stream = asyncio.Event()
        self._streams.add(stream)
        return stream

    def stream_count(self) -> int:
        return len(self._streams)

    def unsubscribe(self, stream: asyncio.Event) -> None:
        self._streams.discard(stream)

    def snapshot(self) -> dict[str, Any]:
        self._pull_exchange()
        return self.dashboard.snapshot(time.time())

    async def refresh_seats(self) -> bool:
        changed = False
        for site in self.settings.sites:
            views = await self.registry.store.view(site.id, sorted(site.agents))
            changed |= self.dashboard.set_seats(site.id, views)
        return changed

    async def _refresh_loop(self) -> None:
        while True:
            try:
                changed = await self.refresh_seats()
                changed |= self.dashboard.sample(time.time())
                changed |= self._pull_exchange()  # the backlog moves without a bus event
                if changed:
                    self.changed()
            except (RedisError, OSError) as exc:
                log.warning("supervisor.refresh_failed", error=str(exc))
            await asyncio.sleep(REFRESH_S)

    # --- history ------------------------------------------------------------------------

    async def _write_history(self) -> None:
        while True:
            count = await self._counts.get()
            try:
                await self.add_count(count)
            except (RedisError, OSError) as exc:
                log.warning("supervisor.history_failed", field=count.field, error=str(exc))
            finally:
                self._counts.task_done()

    async def history_written(self, timeout: float) -> None:
        """Return once every counter queued so far is in Redis."""
        await asyncio.wait_for(self._counts.join(), timeout)

    async def add_count(self, count: Count) -> bool:
        """Add one counter to its hour, once across instances (``Count.once``)."""
        if count.once and not await self.redis.set(marker_key(count.once), "1", nx=True,
                                                   ex=MARKER_TTL_S):
            return False
        key = history_key(count.site, hour_bucket(count.at))
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrbyfloat(key, count.field, count.amount)
        pipe.expire(key, HISTORY_TTL_S)
        await pipe.execute()
        return True

    async def history(self, history: HistoryRange) -> dict[tuple[str, str], dict[str, str]]:
        keys = [(site.id, hour) for site in self.settings.sites for hour in history.all_hours()]
        pipe = self.redis.pipeline(transaction=False)
        for site, hour in keys:
            pipe.hgetall(history_key(site, hour))
        return dict(zip(keys, await pipe.execute(), strict=True))

    # --- actions ------------------------------------------------------------------------

    def _site_of(self, agent: str) -> str:
        site = self.settings.site_of_agent(agent)
        if site is None:
            raise AgentNotFound(f"no agent {agent}")
        return site.id

    async def log_out(self, agent: str) -> dict[str, Any]:
        site = self._site_of(agent)
        state = await self.registry.log_out(site, agent)
        return {"agent": agent, "site": site, "state": state.value}

    async def listen(self, agent: str, listener: str) -> dict[str, Any]:
        """Ring the supervisor's own seat ``listener``; on answer it hears the agent's call
        (ChanSpy, quiet, ends with the call)."""
        site = self._site_of(agent)
        if self.settings.site_of_agent(listener) is None or self._site_of(listener) != site:
            raise CallControlError(f"listener {listener} must be a seat of site {site}, like agent {agent}")
        if listener == agent:
            raise CallControlError("an agent cannot listen to their own call")
        if self.book.of_agent(site, agent) is None:
            raise AgentNotOnCall(f"agent {agent} is not on a call")
        listener_state = (await self.registry.states(site)).get(listener, SeatState.OFFLINE)
        if listener_state not in (SeatState.IDLE, SeatState.PAUSED):
            raise ListenerUnavailable(f"seat {listener} is {listener_state.value}; it must be "
                                      "registered and free (idle or paused) to listen")
        channel_id = uuid.uuid4().hex
        try:
            await self.ami.send(site, {
                "Action": "Originate", "Channel": f"PJSIP/{listener}", "Application": "ChanSpy",
                "Data": f"PJSIP/{agent}-,qE", "Async": "true", "Timeout": "30000",
                "CallerID": f"\"listen {agent}\" <{agent}>", "ChannelId": channel_id},
                as_list=False)
        except AmiError as exc:
            raise AsteriskRefused(f"Asterisk refused to ring {listener}: {exc}") from None
        log.info("supervisor.listen", site=site, agent=agent, listener=listener)
        return {"agent": agent, "listener": listener, "site": site, "state": "ringing_listener",
                "channel_id": channel_id}
