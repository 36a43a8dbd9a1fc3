"""Every change of a ticket's fields is on its timeline, with who made it. Pure, except
``publish_changes`` (the bus; the timeline writer records ``ticket.updated``)."""

from __future__ import annotations

from typing import Any

from hotline_link.core.bus import EventBus
from hotline_link.core.events import TicketUpdated
from tickets.store import Ticket

TRACED_FIELDS = ("category", "summary", "handling_unit", "division_code", "emergency", "restricted", "tags")
MAX_TRACED_TEXT = 200


def changed_fields(before: Ticket, after: Ticket) -> dict[str, Any]:
    """{field: new value} for each traced field that differs."""
    out: dict[str, Any] = {}
    for name in TRACED_FIELDS:
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            out[name] = new[:MAX_TRACED_TEXT] if isinstance(new, str) else \
                list(new) if isinstance(new, tuple) else new
    return out


def publish_changes(bus: EventBus, before: Ticket, after: Ticket, by: str) -> dict[str, Any]:
    """Publish ``ticket.updated`` {ticket_id, call_id, site, by, changes} if anything changed."""
    changes = changed_fields(before, after)
    if changes:
        bus.emit(TicketUpdated(ticket_id=after.id, call_id=after.call_id, site=after.site, by=by,
                               changes=changes))
    return changes
