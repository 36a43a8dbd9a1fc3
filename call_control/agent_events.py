"""What an agent's desktop hears on its WebSocket: ringing (with the ticket, so a case
handed over by the other platform pops up with its number, category and summary),
answered, transfer progress, conference joined/left, hung up."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import CallRinging
from hotline_link.core.logs import mask_number
from seat_pool.state import seat_from_device
from tickets.store import TicketStore

QUEUE_SIZE = 200


def agents_of(event: BusEvent, known_agents: frozenset[str]) -> set[str]:
    """Which agents an event concerns. Pure."""
    data = event.data
    if event.name in ("call.ringing",) or event.name.startswith("transfer."):
        return {data["agent"]} if data.get("agent") else set()
    if event.name in ("call.answered", "call.ended"):
        agent = seat_from_device(str(data.get("answered_by") or ""))
        return {agent} if agent else set()
    if event.name.startswith("conference."):
        parties = set(data.get("parties", ())) | {str(data.get("party", ""))}
        return parties & known_agents  # "110" there is a platform dialled in, not an agent
    return set()


_TYPES = {"call.ringing": "ringing", "call.answered": "answered", "call.ended": "hung_up",
          "conference.joined": "conference_joined", "conference.left": "conference_left",
          "conference.ended": "conference_ended", "conference.dialling": "conference_dialling"}


class AgentEvents:
    def __init__(self, bus: EventBus, tickets: TicketStore, known_agents: frozenset[str]) -> None:
        self.tickets = tickets
        self.known_agents = known_agents
        self._queues: dict[str, set[asyncio.Queue[BusEvent]]] = defaultdict(set)
        bus.listen(self._route)

    def _route(self, event: BusEvent) -> None:
        for agent in agents_of(event, self.known_agents):
            for queue in self._queues.get(agent, ()):
                if queue.full():
                    queue.get_nowait()  # a stalled desktop loses its oldest event, not the server
                queue.put_nowait(event)

    def open(self, agent: str) -> asyncio.Queue[BusEvent]:
        queue: asyncio.Queue[BusEvent] = asyncio.Queue(QUEUE_SIZE)
        self._queues[agent].add(queue)
        return queue

    def open_count(self) -> int:
        return sum(len(queues) for queues in self._queues.values())

    def close(self, agent: str, queue: asyncio.Queue[BusEvent]) -> None:
        self._queues[agent].discard(queue)
        if not self._queues[agent]:
            del self._queues[agent]

    async def message(self, event: BusEvent) -> dict[str, Any]:
        """The JSON an agent's desktop gets for one event."""
        data = dict(event.data)
        if "caller" in data:
            data["caller"] = mask_number(str(data["caller"]))
        kind = _TYPES.get(event.name) or event.name.replace(".", "_")
        if event.is_(CallRinging):
            ticket = await self.tickets.for_call(data["call_id"])
            if ticket is not None:
                data["ticket"] = {"id": ticket.id, "category": ticket.category, "summary": ticket.summary,
                                  "source_platform": ticket.source_platform,
                                  "source_ticket": ticket.source_ticket}
                if ticket.source_platform:
                    kind = "transferred_in"
        return {"type": kind, **data}
