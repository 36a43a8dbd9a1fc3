"""In-process domain event bus: call.started, call.routed, seat.changed...

Producers ``publish``; consumers (the WebSocket pushers to come, tests) ``subscribe`` and
await the next matching event with a timeout instead of sleeping.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from contextlib import contextmanager


@dataclass(frozen=True)
class BusEvent:
    name: str
    data: dict[str, Any] = field(default_factory=dict)


class Subscription:
    """Events since subscribing, in order. ``wait_for`` looks at what already came first,
    so the order in which a test awaits related events does not matter."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[BusEvent] = asyncio.Queue(maxsize)
        self.seen: list[BusEvent] = []
        self.overflowed = 0

    async def next(self, timeout: float) -> BusEvent:
        event = await asyncio.wait_for(self.queue.get(), timeout)
        self.seen.append(event)
        return event

    async def wait_for(self, predicate: Callable[[BusEvent], bool], timeout: float) -> BusEvent:
        for event in self.seen:
            if predicate(event):
                return event
        async def _scan() -> BusEvent:
            while True:
                event = await self.queue.get()
                self.seen.append(event)
                if predicate(event):
                    return event
        return await asyncio.wait_for(_scan(), timeout)


class EventBus:
    def __init__(self, subscriber_queue_size: int = 10_000) -> None:
        self._subscribers: set[Subscription] = set()
        self._queue_size = subscriber_queue_size

    def publish(self, name: str, **data: Any) -> BusEvent:
        event = BusEvent(name, data)
        for sub in self._subscribers:
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:  # a stalled consumer must not stall call handling
                sub.overflowed += 1
        return event

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        sub = Subscription(self._queue_size)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)
