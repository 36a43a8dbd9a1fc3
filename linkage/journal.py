"""Where every step of the closed loop is written down: the ticket's timeline (so
``GET /api/tickets/{id}/timeline`` tells the whole story), the bus (for pages and tests)
and the linkage event log the report is computed from.

The ticket timeline reads the streams of a ticket's calls; the closed loop is kept as one
more such stream per ticket, the pseudo call ``linkage-{ticket_id}``, which the tickets
capability lists among the ticket's calls (``tickets.timeline.add_story_entry``), so the
existing timeline shows it in time order without a change.
The event log is the Redis stream ``{prefix}events`` (ids are milliseconds, so a date range
is an XRANGE).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import Event
from hotline_link.core.redis_client import as_str_entries
from linkage.redis_keys import PREFIX, LinkageKeys
from tickets.timeline import add_story_entry, entry_of

EVENTS_MAXLEN = 5_000_000  # about a year of a large city's linkage steps
Clock = Callable[[], float]


def loop_leg(ticket_id: str) -> str:
    """The pseudo call id of a ticket's closed loop on its timeline."""
    return f"linkage-{ticket_id}"


class Journal:
    def __init__(self, redis: Redis, bus: EventBus, prefix: str = PREFIX,
                 clock: Clock = time.time) -> None:
        self.redis = redis
        self.bus = bus
        self.prefix = prefix
        self.clock = clock
        self.events_key = LinkageKeys(prefix).events

    async def record(self, event: Event, *, at: float | None = None) -> BusEvent:
        """Write a step (a catalogued event with a ``ticket_id``) on the ticket's timeline
        and the event log, then emit it."""
        sent = BusEvent.of(event)
        await self._write(sent, at)
        self.bus.emit(event)
        return sent

    async def note(self, name: str, ticket_id: str, *, at: float | None = None, **data: Any) -> BusEvent:
        """``record`` for a step given by name and loose data: for tests and dev tools,
        which may write partial steps; the product records catalogued events."""
        event = BusEvent(name, {"ticket_id": ticket_id, **data})
        await self._write(event, at)
        self.bus.publish(name, **event.data)
        return event

    async def _write(self, event: BusEvent, at: float | None) -> None:
        at = self.clock() if at is None else at
        ticket_id = str(event.data["ticket_id"])
        entry = entry_of(event, at)
        pipe = self.redis.pipeline()
        add_story_entry(pipe, ticket_id, loop_leg(ticket_id), entry)
        pipe.xadd(self.events_key, entry, maxlen=EVENTS_MAXLEN, approximate=True)
        await pipe.execute()

    async def log_only(self, name: str, at: float, **data: Any) -> None:
        """An event for the report that is not a step of one ticket's loop (calls and pushes
        between the platforms, recorded from the bus)."""
        await self.redis.xadd(self.events_key, entry_of(BusEvent(name, data), at),
                              maxlen=EVENTS_MAXLEN, approximate=True)

    async def events_between(self, start: float, end: float) -> list[dict[str, Any]]:
        """Logged events with ``start <= at < end``, oldest first."""
        out: list[dict[str, Any]] = []
        low = f"{int(start * 1000) - 60_000}"  # the ids are Redis's clock; 'at' is ours
        high = f"{int(end * 1000) + 60_000}"
        while True:
            rows = as_str_entries(await self.redis.xrange(self.events_key, low, high, count=10_000))
            for _rid, fields in rows:
                at = float(fields["at"])
                if start <= at < end:
                    out.append({"event": fields["event"], "at": at, "data": json.loads(fields["data"])})
            if len(rows) < 10_000:
                return sorted(out, key=lambda e: e["at"])
            low = "(" + rows[-1][0]
