"""Ticket fields as channel variables. Values are percent-encoded (UTF-8), because they end
up in SIP headers (X-Ticket-*) and in the dialplan, where commas, quotes and line breaks
would break things. The receiving side decodes them."""

from __future__ import annotations

from urllib.parse import quote, unquote

MAX_SUMMARY_CHARS = 120


def encode(value: str, limit: int = MAX_SUMMARY_CHARS) -> str:
    # errors="replace": a JSON body may carry a lone surrogate ("\ud800"); it becomes "?"
    return quote(value[:limit], safe="", errors="replace")


def decode(value: str) -> str:
    return unquote(value or "")


def ticket_variables(ticket_id: str, category: str, summary: str, from_platform: str,
                     call_id: str = "") -> dict[str, str]:
    """Inherited forever (``__``): they follow the caller onto every leg it dials.
    ``call_id``: the call handed over (X-Ticket-Call), which the receiver matches to the
    signed handover's ``source_call``."""
    return {"__TICKET": encode(ticket_id, 64), "__TICKET_CATEGORY": encode(category, 40),
            "__TICKET_SUMMARY": encode(summary), "__TICKET_FROM": encode(from_platform, 16),
            "__TICKET_CALL": encode(call_id, 64)}


def transfer_bundle(ticket_id: str, category: str, summary: str, from_platform: str,
                    ring_s: int, call_id: str = "") -> str:
    """Everything a transfer needs on the caller's channel, in ONE variable (HL_XFER), so a
    transfer costs one Setvar instead of six: ``ring;ticket;category;summary;from;call``.
    Percent-encoding keeps ';' out of the values; transfer-out unpacks it with CUT."""
    return ";".join([str(int(ring_s)), encode(ticket_id, 64), encode(category, 40), encode(summary),
                     encode(from_platform, 16), encode(call_id, 64)])
