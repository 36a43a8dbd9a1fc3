"""HTTP resources of tickets: the traceable story of a ticket and of a call."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from call_control.errors import CallNotFound
from hotline_link.http import principal_of, server_of

READERS = ("agent", "supervisor", "admin")


async def ticket_timeline(request: web.Request) -> web.Response:
    principal_of(request).require_role(*READERS)
    story = await server_of(request).timeline.for_ticket(request.match_info["ticket_id"])
    if story is None:
        raise CallNotFound(f"no ticket {request.match_info['ticket_id']}")
    return web.json_response({**story, "ticket": asdict(story["ticket"])})


async def call_story(request: web.Request) -> web.Response:
    principal_of(request).require_role(*READERS)
    server = server_of(request)
    call_id = request.match_info["call_id"]
    events = await server.timeline.for_call(call_id)
    if not events:
        raise CallNotFound(f"no call {call_id} on record")
    ticket = await server.tickets.for_call(call_id)
    return web.json_response({"call_id": call_id, "ticket_id": ticket.id if ticket else None,
                              "active": server.calls.book.find(call_id) is not None, "events": events})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/tickets/{ticket_id}/timeline", ticket_timeline)
    app.router.add_get("/api/calls/{call_id}", call_story)
