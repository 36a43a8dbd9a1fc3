"""What an agent's desktop hears on its WebSocket: ringing (with the ticket, so a case
handed over by the other platform pops up with its number, category and summary),
answered, transfer progress (the desk's, the phone's own and warm transfers alike),
conference joined/left, hung up, and its seat's changes."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import (
    EVENT_TYPES,
    CallAnswered,
    CallEnded,
    CallRinging,
    ConferenceDialling,
    ConferenceEnded,
    ConferenceEvent,
    ConferenceJoined,
    ConferenceLeft,
    Event,
    SeatChanged,
    TransferStateEvent,
)
from hotline_link.core.logs import mask_number
from seat_pool.state import seat_from_device
from tickets.store import TicketStore

QUEUE_SIZE = 200


_CONCERNING = (CallRinging, TransferStateEvent, CallAnswered, CallEnded, ConferenceEvent, SeatChanged)


def agents_of(event: BusEvent, known_agents: frozenset[str]) -> set[str]:
    """Which agents an event concerns. Pure."""
    kind = EVENT_TYPES.get(event.name)
    if kind is None or not issubclass(kind, _CONCERNING):
        return set()
    typed = event.as_(kind)
    if isinstance(typed, (CallRinging, TransferStateEvent)):
        return {typed.agent} if typed.agent else set()
    if isinstance(typed, (CallAnswered, CallEnded)):
        agent = seat_from_device(str(typed.answered_by or ""))
        return {agent} if agent else set()
    if isinstance(typed, SeatChanged):  # the desk shows its seat as the server sees it
        return {typed.seat} & known_agents
    if isinstance(typed, ConferenceEvent):
        parties = set(typed.parties) | {typed.party}
        return parties & known_agents  # "110" there is a platform dialled in, not an agent
    return set()


# the desktop's "type" of an event; any other is its name with "_" for "."
_TYPES: dict[type[Event], str] = {
    CallRinging: "ringing", CallAnswered: "answered", CallEnded: "hung_up",
    ConferenceJoined: "conference_joined", ConferenceLeft: "conference_left",
    ConferenceEnded: "conference_ended", ConferenceDialling: "conference_dialling", SeatChanged: "seat_changed"}


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
        """The JSON an agent's desktop gets for one event: its payload as it is (whatever
        the event), the caller's number masked, and for a ringing call the ticket."""
        data = dict(event.data)
        if "caller" in data:
            data["caller"] = mask_number(str(data["caller"]))
        known = EVENT_TYPES.get(event.name)
        kind = (_TYPES.get(known) if known else None) or event.name.replace(".", "_")
        if event.is_(CallRinging):
            ticket = await self.tickets.for_call(event.as_(CallRinging).call_id)
            if ticket is not None:
                data["ticket"] = {"id": ticket.id, "category": ticket.category, "summary": ticket.summary,
                                  "source_platform": ticket.source_platform,
                                  "source_ticket": ticket.source_ticket}
                if ticket.source_platform:
                    kind = "transferred_in"
        return {"type": kind, **data}
