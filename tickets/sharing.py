"""What of a ticket may leave its platform (可查、可看 only where safe). Pure: no I/O.

One rule for every path a case takes to the other platform: a one-click transfer (the
ticket headers on the call), a three-way call (the same headers on the third party's leg)
and a system push (the ticket without a call). A matter that is not ``shareable`` travels
by its ticket number only, so the other side can refer to it; a push, which is nothing
but the content, is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from tickets.store import Ticket

# 110 matters whose circle of knowledge is controlled (控制知悉范围)
RESTRICTED_MARKS = ("涉密", "涉稳", "涉恐", "涉案", "涉黑", "涉枪", "涉爆", "敏感")


def is_restricted(ticket: Ticket) -> bool:
    """Flagged restricted by an agent (on any platform), or a 110 matter whose category or
    summary names one of the marks. A 12345 case that mentions them (a citizen reporting
    something 涉案) is exactly what 110 must hear about, so the marks bind 110 only."""
    if ticket.restricted:
        return True
    text = f"{ticket.category} {ticket.summary}"
    return ticket.site == "110" and any(mark in text for mark in RESTRICTED_MARKS)


def shareable(ticket: Ticket) -> bool:
    """May the ticket's content (category, summary) go to the other platform?"""
    return not is_restricted(ticket)


@dataclass(frozen=True)
class SharedContent:
    category: str
    summary: str


def shared_content(ticket: Ticket) -> SharedContent:
    """What a transfer or three-way call carries besides the ticket number."""
    if not shareable(ticket):
        return SharedContent("", "")
    return SharedContent(ticket.category, ticket.summary)
