"""What the exchange channel decides about calls, as pure functions: the id of the handover
a transfer or a three-way call sends (``call_handover_id``), who signs for a transferred
call (``agent_of``, ``signed_for_id``), and what a handover adds to the ticket a call opened
for the same case first (``filled_by_handover``). No I/O: ``exchange.service`` does it.

A transfer and its handover message reach the receiver in either order, over two roads (the
SIP trunk, the channel); both open the ticket for the case, so they meet on one claim per
source (``redis_keys.opened_for_key``) and whichever comes second attaches to the first's.
"""

from __future__ import annotations

import re
from typing import Any

from exchange.effects import derived_id
from exchange.messages import HandoverBody
from tickets.store import Ticket

_AGENT_ENDPOINT = re.compile(r"(?:PJSIP|SIP)/(?P<agent>[0-9]{1,20})")


def call_handover_id(call_id: str, mode: str, to_platform: str) -> str:
    """The message id of the handover a transfer (or three-way call) of ``call_id`` to
    ``to_platform`` sends. The same request again (a double click, a client's retry, a
    second try after the target did not answer) is the same handover of the same case:
    the same id, so the outbox keeps one message."""
    return derived_id(call_id, f"handover:{mode}:{to_platform}")


def signed_for_id(ticket_id: str, peer_platform: str, peer_ticket: str) -> str:
    """The message id of the agent's 签收 of our ``ticket_id``: one per ticket and source,
    however many times (and by whom) its calls are answered."""
    return derived_id(f"{ticket_id}:{peer_platform}:{peer_ticket}", "received:agent")


def agent_of(answered_by: str) -> str | None:
    """The agent's number a ``call.answered`` names (``PJSIP/2001`` -> ``2001``); None for
    anything that is no agent's phone (a trunk, a Local channel)."""
    match = _AGENT_ENDPOINT.fullmatch(answered_by)
    return match.group("agent") if match else None


def call_proven_by(claimed_by_call: str | None, source_call: str | None) -> bool:
    """May a handover whose signed ``source_call`` names the call it hands over complete the
    ticket a call opened first, whose ``X-Ticket-Call`` said ``claimed_by_call``? Yes when
    they are the same call, or when either says nothing (a sender from before the header,
    a push): the headers are the other side's unsigned word, the message its signed one."""
    if not claimed_by_call or not source_call:
        return True
    return claimed_by_call == source_call


def filled_by_handover(ticket: Ticket, from_platform: str, source_ticket: str,
                       body: HandoverBody) -> dict[str, Any]:
    """The changes a handover makes to the ticket a call of the same case opened first:
    the source (now proven by the signed message), the content the call's headers lacked,
    and the restriction (a restricted case stays restricted whatever the call said). Empty
    when the ticket already says all of it (a second run, the message's own ticket)."""
    changes: dict[str, Any] = {}
    if (ticket.source_platform, ticket.source_ticket) != (from_platform, source_ticket):
        changes.update(source_platform=from_platform, source_ticket=source_ticket)
    if body.restricted:
        if not ticket.restricted:
            changes["restricted"] = True
        return changes  # it came by number only: nothing else to take
    for name in ("category", "summary", "division_code", "caller"):
        if not getattr(ticket, name) and getattr(body, name):
            changes[name] = getattr(body, name)
    if body.emergency and not ticket.emergency:
        changes["emergency"] = True
    return changes
