"""What every call-control service works with, built once by the call control plugin."""

from __future__ import annotations

from dataclasses import dataclass

from call_control.calls import CallBook
from call_control.locks import CallLocks
from hotline_link.asterisk.ami.manager import AmiManager
from hotline_link.core.bus import EventBus
from hotline_link.core.settings import Settings
from tickets.changes import publish_changes
from tickets.store import Ticket, TicketStore


@dataclass(frozen=True)
class CallControlContext:
    settings: Settings
    ami: AmiManager
    book: CallBook
    tickets: TicketStore
    locks: CallLocks
    bus: EventBus


async def with_agents_words(ctx: CallControlContext, ticket: Ticket, agent: str, category: str | None,
                            summary: str | None) -> Ticket:
    """The call's ticket with what the agent typed as they hand the case on (a transfer, a
    three-way call), the change published; as it was if they typed nothing."""
    if category is None and summary is None:
        return ticket
    updated = await ctx.tickets.update(ticket, category=category, summary=summary)
    publish_changes(ctx.bus, ticket, updated, by=agent)
    return updated
