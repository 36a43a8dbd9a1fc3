"""The handovers between the platforms the report counts (一键转接, 三方通话, 系统推送), from
the bus events that mark them. Pure."""

from __future__ import annotations

from typing import Any

from hotline_link.core.bus import BusEvent

# bus events between the platforms the report counts (mode of each handover)
HANDOVER_MODES = {"transfer.answered": "一键转接", "conference.dialling": "三方通话", "ticket.pushed_in": "系统推送"}


def platform_of(data: dict[str, Any], centers: frozenset[str]) -> str:
    """The platform a call or ticket belongs to: the ticket id's head, else the call id's."""
    ticket = str(data.get("ticket_id") or "")
    head = ticket.split("-", 1)[0]
    if head in centers:
        return head
    call_id = str(data.get("call_id") or "")
    return next((c for c in centers if call_id.startswith(f"hl{c}-")), "")


def handover_of(event: BusEvent, centers: frozenset[str]) -> dict[str, Any]:
    """The ``linkage.handover`` log entry of one of the ``HANDOVER_MODES`` events."""
    data = event.data
    if event.name == "ticket.pushed_in":
        source, target = str(data.get("source_platform", "")), str(data.get("site", ""))
    else:
        source, target = platform_of(data, centers), str(data.get("target", ""))
    return {"source": source, "target": target, "mode": HANDOVER_MODES[event.name],
            "bounced": bool(data.get("bounced")), "ticket_id": data.get("ticket_id")}
