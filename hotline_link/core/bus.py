"""In-process domain event bus: call.started, call.routed, seat.changed...

Producers ``emit`` a catalogued event (``hotline_link.core.events``; synchronously, never
blocking call handling); consumers ``subscribe`` and await a matching event with a timeout
instead of sleeping, and read one back typed with ``BusEvent.as_``. ``publish`` (a name and
loose data) is what ``emit`` sends; the product uses ``emit`` only, tests and dev tools may
``publish`` anything.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from redis.exceptions import RedisError

from hotline_link.core.events import EVENT_TYPES, Event, payload
from hotline_link.core.tasks import cancel_and_wait

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class BusEvent:
    name: str
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, event: Event) -> BusEvent:
        """The wire form of a catalogued event."""
        return cls(event.NAME, payload(event))

    def is_(self, kind: type[Event]) -> bool:
        return self.name == kind.NAME

    def as_(self, kind: type[E]) -> E:
        """This event as its catalogued class ``kind`` (whose ``NAME`` must be its name).
        ValueError for another event; TypeError when the data is not ``kind``'s (an event
        published loosely, e.g. by a test)."""
        if self.name != kind.NAME or EVENT_TYPES.get(self.name) is not kind:
            raise ValueError(f"{self.name} is not {kind.NAME or kind.__name__}")
        return kind(**self.data)


class Subscription:
    """Events since subscribing, in order (the oldest dropped past ``maxsize``).

    ``wait_for`` looks at what already came before waiting, so the order in which related
    events are awaited does not matter, and any number of tasks may wait at once."""

    def __init__(self, maxsize: int) -> None:
        self.seen: deque[BusEvent] = deque(maxlen=maxsize)
        self.dropped = 0
        self._waiters: list[tuple[Callable[[BusEvent], bool], asyncio.Future[BusEvent]]] = []

    def deliver(self, event: BusEvent) -> None:
        if len(self.seen) == self.seen.maxlen:
            self.dropped += 1
        self.seen.append(event)
        for predicate, future in self._waiters:
            if not future.done() and predicate(event):
                future.set_result(event)

    async def wait_for(self, predicate: Callable[[BusEvent], bool], timeout: float) -> BusEvent:
        for event in self.seen:
            if predicate(event):
                return event
        waiter = (predicate, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter[1], timeout)
        finally:
            self._waiters.remove(waiter)


class EventBus:
    def __init__(self, subscriber_queue_size: int = 10_000) -> None:
        self._subscribers: set[Subscription] = set()
        self._listeners: list[Callable[[BusEvent], None]] = []
        self._queue_size = subscriber_queue_size

    def emit(self, event: Event) -> BusEvent:
        """Publish a catalogued event: its ``NAME`` with ``payload(event)``."""
        return self.publish(event.NAME, **payload(event))

    def publish(self, name: str, **data: Any) -> BusEvent:
        event = BusEvent(name, data)
        for sub in list(self._subscribers):
            sub.deliver(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one consumer's bug must not cost the publisher or the others
                log.exception("bus.listener_failed", event_name=name)
        return event

    def listen(self, callback: Callable[[BusEvent], None]) -> None:
        """A long-lived consumer (the WebSocket pushers): called synchronously on publish,
        so it must only hand the event on (e.g. into a bounded queue), never block."""
        self._listeners.append(callback)

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        sub = Subscription(self._queue_size)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)


class BusWorker:
    """A long-lived consumer of some bus events: ``publish`` hands the wanted ones over
    (never blocking the publisher, bounded), one task handles them in order. A Redis
    error or a bug in ``handle`` is logged with ``name`` and the worker goes on."""

    def __init__(self, bus: EventBus, name: str, wanted: Callable[[BusEvent], bool],
                 handle: Callable[[BusEvent], Awaitable[None]], maxsize: int = 10_000) -> None:
        self.name = name
        self._wanted = wanted
        self._handle = handle
        self._queue: asyncio.Queue[BusEvent] = asyncio.Queue(maxsize=maxsize)
        self._task: asyncio.Task[None] | None = None
        bus.listen(self._offer)

    def _offer(self, event: BusEvent) -> None:
        if self._wanted(event):
            try:
                self._queue.put_nowait(event)
            except asyncio.QueueFull:
                log.error(f"{self.name}.overflow", bus_event=event.name)

    def start(self) -> None:
        self._task = asyncio.create_task(self._consume(), name=self.name)

    async def stop(self, drain_s: float = 0.0) -> None:
        """Handle what is queued (for at most ``drain_s``), then stop."""
        if self._task is None:
            return
        if drain_s > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue.join(), drain_s)
        await cancel_and_wait([self._task])
        self._task = None

    async def _consume(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._handle(event)
            except RedisError as exc:
                log.warning(f"{self.name}.failed", bus_event=event.name, error=str(exc))
            except Exception:
                log.exception(f"{self.name}.bug", bus_event=event.name)
            finally:
                self._queue.task_done()
