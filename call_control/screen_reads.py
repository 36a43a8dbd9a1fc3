"""What the screen pop reads, the edge of ``call_control.screen_pop`` (which decides): the
call's ticket and the ticket it was handed over from, the catalog's recommendation, and the
caller number's history (``tickets.number_history``) with its tickets' closed-loop states."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from call_control.calls import Call
from call_control.schema import AgentScreen
from call_control.screen_pop import DEFAULT_RULES, CallerHistory, ScreenRules, agent_screen, note_of
from exchange.effects import story_leg
from tickets.peer_story import RECEIVED_HANDOVER
from tickets.recommend import Recommendation, RecommenderSource
from tickets.store import Ticket, TicketStore
from tickets.timeline import TicketTimeline

MAX_NOTE_CHARS = 2000  # as the classify API takes


class DispatchStates(Protocol):
    """Where tickets stand in the closed loop (``linkage.records.DispatchRecords``), when
    the linkage plugin runs here."""

    async def states(self, ticket_ids: Sequence[str]) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class ScreenReads:
    tickets: TicketStore
    timeline: TicketTimeline
    recommender: RecommenderSource
    states: DispatchStates | None = None  # no closed loop here: every status null

    async def source_of(self, ticket: Ticket) -> Ticket | None:
        """The ticket ``ticket`` was handed over from: held here (one deployment serving
        both platforms), else as its handover message carried it (two deployments, the
        exchange's note on our ticket); None when neither knows it."""
        if not ticket.source_ticket:
            return None
        held = await self.tickets.get(ticket.source_ticket)
        if held is not None:
            return held
        for entry in await self.timeline.for_call(story_leg(ticket.id)):
            data = entry["data"]
            if entry["event"] == RECEIVED_HANDOVER and data.get("peer_ticket") == ticket.source_ticket:
                return Ticket(ticket.source_ticket, str(data.get("platform") or ticket.source_platform), "",
                              category=str(data.get("category") or ""), summary=str(data.get("summary") or ""),
                              restricted=bool(data.get("restricted")))
        return None

    async def recommendation(self, note: str) -> Recommendation | None:
        if not note:
            return None
        recommender = await self.recommender.get()
        return await asyncio.to_thread(recommender.recommend, note[:MAX_NOTE_CHARS])

    async def history(self, call: Call, calls: int) -> CallerHistory:
        """The caller number's tickets (with their states) and its newest ``calls`` calls."""
        ticket_ids = await self.tickets.history.ticket_ids(call.site, call.caller)
        tickets = await self.tickets.get_many(ticket_ids) if ticket_ids else {}
        states = await self.states.states(list(tickets)) if self.states is not None and tickets else {}
        past = await self.tickets.history.calls(call.site, call.caller, calls)
        return CallerHistory(list(tickets.values()), {k: str(v) for k, v in states.items()}, past)

    async def screen(self, call: Call, agent: str, *, in_conference: bool, now: float,
                     rules: ScreenRules = DEFAULT_RULES) -> AgentScreen:
        ticket = await self.tickets.for_call(call.call_id)
        source = await self.source_of(ticket) if ticket is not None else None
        recommendation = await self.recommendation(note_of(ticket, source, call.site))
        history = await self.history(call, rules.max_items + 1)  # this call may be among them
        return agent_screen(call, agent, in_conference=in_conference, ticket=ticket, source=source,
                            recommendation=recommendation, history=history, now=now, rules=rules)
