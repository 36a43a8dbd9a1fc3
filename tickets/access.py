"""Who may reach a ticket or a call: agents their own platform's only; supervisors and admins
all. Shared by every plugin whose routes name a ticket."""

from __future__ import annotations

from aiohttp import web

from hotline_link.web.auth import Forbidden
from hotline_link.web.http import SETTINGS, principal_of
from tickets.errors import TicketNotFound
from tickets.keys import TICKETS
from tickets.store import Ticket

READERS = ("agent", "supervisor", "admin")
LOOP_LEG_PREFIX = "linkage-"  # linkage.journal.loop_leg: the pseudo call of a ticket's closed loop


def require_platform(request: web.Request, platform: str | None, what: str) -> None:
    """Agents read and act on their own platform's calls and tickets only; supervisors
    and admins on all. An unknown platform is refused to agents (fail closed)."""
    principal = principal_of(request)
    principal.require_role(*READERS)
    if principal.role == "agent":
        site = request.app[SETTINGS].site_of_agent(principal.agent)
        if site is None or platform is None or site.id != platform:
            raise Forbidden(f"{what} belongs to another platform")


def require_ticket_access(request: web.Request, ticket: Ticket) -> None:
    require_platform(request, ticket.site, f"ticket {ticket.id}")


async def ticket_of(request: web.Request) -> Ticket:
    """The ticket named in the path, if this token may reach it."""
    ticket = await request.app[TICKETS].get(request.match_info["ticket_id"])
    if ticket is None:
        raise TicketNotFound(f"no ticket {request.match_info['ticket_id']}")
    require_ticket_access(request, ticket)
    return ticket


