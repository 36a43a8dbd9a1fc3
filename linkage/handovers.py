"""The handovers between the platforms the report counts (一键转接, 三方通话, 系统推送), from
the bus events that mark them. Pure."""

from __future__ import annotations

from typing import Any

from hotline_link.core.bus import BusEvent
from hotline_link.core.events import ConferenceDialling, Event, TicketPushedIn, TransferAnswered

# the event log's entry for one handover (not a bus event: the journal logs it, the report reads it)
HANDOVER = "linkage.handover"
# bus events between the platforms the report counts (mode of each handover)
HANDOVER_MODES: dict[type[Event], str] = {
    TransferAnswered: "一键转接", ConferenceDialling: "三方通话", TicketPushedIn: "系统推送"}


def is_handover(event: BusEvent) -> bool:
    return any(event.is_(kind) for kind in HANDOVER_MODES)


def platform_of(ticket_id: str, call_id: str, centers: frozenset[str]) -> str:
    """The platform a call or ticket belongs to: the ticket id's head, else the call id's."""
    head = ticket_id.split("-", 1)[0]
    if head in centers:
        return head
    return next((c for c in centers if call_id.startswith(f"hl{c}-")), "")


def handover_of(event: BusEvent, centers: frozenset[str]) -> dict[str, Any]:
    """The ``HANDOVER`` log entry of one of the ``HANDOVER_MODES`` events."""
    if event.is_(TicketPushedIn):
        pushed = event.as_(TicketPushedIn)
        return {"source": pushed.source_platform, "target": pushed.site, "mode": HANDOVER_MODES[TicketPushedIn],
                "bounced": pushed.bounced, "ticket_id": pushed.ticket_id}
    handed: TransferAnswered | ConferenceDialling = (
        event.as_(TransferAnswered) if event.is_(TransferAnswered) else event.as_(ConferenceDialling))
    return {"source": platform_of(handed.ticket_id, handed.call_id, centers), "target": handed.target,
            "mode": HANDOVER_MODES[type(handed)], "bounced": False, "ticket_id": handed.ticket_id}
