"""A case's story when each platform runs its own deployment (issue 17): the other
platform's tickets and calls are in its own Redis, never in ours, so its part of the story
is what its messages told us. The exchange plugin notes every message on our ticket's
timeline (``exchange.sent.<type>``, ``exchange.received.<type>``, on a pseudo call of the
ticket); this module reads those notes. Pure: no I/O.

- ``PeerStory``: the port the timeline is given when the exchange channel runs here;
- ``peer_tickets``: the other platform's tickets of the case, as the messages named them;
- ``first_answered_across``: 首接 from our calls and the messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Protocol

from hotline_link.core.events import CallAnswered
from tickets.store import ticket_platform

NOTE_PREFIX = "exchange."  # the exchange plugin's notes on a ticket's timeline
SENT_HANDOVER = "exchange.sent.handover"
RECEIVED_HANDOVER = "exchange.received.handover"
BY_CALL = frozenset({"transfer", "conference"})  # handovers of a call an agent had answered

Source = Literal["calls", "messages"]


class PeerStory(Protocol):
    """The exchange channel runs here (two deployments, one platform each): the timeline
    tells the other platform's part from messages and never reads its keys."""

    @property
    def platform(self) -> str:
        """This deployment's platform."""
        ...

    @property
    def peer_platform(self) -> str:
        """The other deployment's platform."""
        ...


def is_note(entry: dict[str, Any]) -> bool:
    return str(entry["event"]).startswith(NOTE_PREFIX)


def peer_tickets(entries: Iterable[dict[str, Any]], ticket_id: str) -> list[str]:
    """The other platform's ticket ids the messages about ``ticket_id`` named: a handover's
    source ticket, a 签收's receiver ticket, the ticket a status or 回流 came from. Only
    well-formed ids: a number is all a message tells of the other ticket here."""
    found: set[str] = set()
    for entry in entries:
        if not is_note(entry):
            continue
        data = entry["data"]
        for key in ("peer_ticket", "receiver_ticket"):
            value = str(data.get(key) or "")
            # a 签收 we sent names our own ticket as its receiver ticket: not the peer's
            if value and value != ticket_id and ticket_platform(value) is not None:
                found.add(value)
    return sorted(found)


def _own_first(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    answered = [e for e in entries if e["event"] == CallAnswered.NAME]
    if not answered:
        return None
    first = min(answered, key=lambda e: (e["at"], e.get("id", "")))
    return {"site": first["data"].get("site"), "agent": first["data"].get("answered_by"),
            "at": first["at"], "call_id": first["data"].get("call_id")}


def first_answered_across(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """首接 with two deployments, from a ticket's own calls and its exchange notes.

    The first handover on the ticket says where the case began: a ticket opened here by
    a handover of a call (``transfer``, ``conference``) was answered first on the sender's
    platform (its ticket came from a call there); the handover names the platform and its
    call, never the agent (``agent`` None). Its ``at`` is the earliest moment this side
    knew: the handover's arrival or its own first answer, whichever came first (the
    sender's answer time does not cross). Otherwise (our own case, handed over or not, or
    a push, which no agent answered) 首接 is the earliest answer of our own calls, if any.
    """
    own = _own_first(entries)
    handovers = sorted((e for e in entries if e["event"] in (SENT_HANDOVER, RECEIVED_HANDOVER)),
                       key=lambda e: (e["at"], e.get("id", "")))
    began = handovers[0] if handovers else None
    if began is not None and began["event"] == RECEIVED_HANDOVER and began["data"].get("mode") in BY_CALL:
        data = began["data"]
        at = began["at"] if own is None else min(began["at"], own["at"])
        source: Source = "messages"
        return {"site": data.get("peer_platform") or None, "agent": None, "at": at,
                "call_id": data.get("source_call") or None, "source": source}
    if own is None:
        return None
    return {**own, "source": "calls"}
