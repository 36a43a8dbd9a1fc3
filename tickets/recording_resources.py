"""HTTP resources of call recordings: a ticket's recordings, and one of them as WAV."""

from __future__ import annotations

from aiohttp import web

from hotline_link.web.auth import Forbidden
from hotline_link.web.bodies import reply
from hotline_link.web.http import SETTINGS, principal_of
from tickets.access import ticket_of
from tickets.errors import RecordingNotFound
from tickets.keys import RECORDINGS, TIMELINE
from tickets.recordings import RECORDING_NAME, handlers
from tickets.schema import RecordingView, TicketRecordings
from tickets.store import Ticket


async def _readable(request: web.Request) -> Ticket:
    """Supervisors and admins; agents only for a ticket of their platform they handled."""
    principal = principal_of(request)
    principal.require_role("agent", "supervisor", "admin")
    ticket = await ticket_of(request)  # agents: their platform's tickets only
    if principal.role == "agent":
        story = await request.app[TIMELINE].for_ticket(ticket.id)
        site = request.app[SETTINGS].site_of_agent(principal.agent)
        agents = site.agents if site is not None else ()
        if story is None or principal.agent not in handlers(story["events"], agents):
            raise Forbidden(f"agent {principal.agent} did not handle ticket {ticket.id}")
    return ticket


async def recordings(request: web.Request) -> web.Response:
    ticket = await _readable(request)
    found = await request.app[RECORDINGS].for_ticket(ticket)
    return reply(TicketRecordings(ticket_id=ticket.id,
                                  recordings=[RecordingView.model_validate(r.as_dict()) for r in found]))


async def recording(request: web.Request) -> web.StreamResponse:
    ticket = await _readable(request)
    name = request.match_info["name"]
    path = await request.app[RECORDINGS].path_of(ticket, name) if RECORDING_NAME.match(name) else None
    if path is None:
        raise RecordingNotFound(f"ticket {ticket.id} has no recording {name[:80]!r}")
    return web.FileResponse(path, headers={"Content-Type": "audio/wav",
                                           "Content-Disposition": f'attachment; filename="{name}"'})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/tickets/{ticket_id}/recordings", recordings)
    app.router.add_get("/api/tickets/{ticket_id}/recordings/{name}", recording)
