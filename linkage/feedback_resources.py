"""HTTP resource of the units' feedback line: a voice note a unit left on a ticket."""

from __future__ import annotations

from aiohttp import web

from call_control.errors import CallNotFound
from hotline_link.http import principal_of, server_of
from tickets.resources import ticket_of


async def voice_note(request: web.Request) -> web.StreamResponse:
    principal_of(request).require_role("agent", "supervisor", "admin")
    ticket = await ticket_of(request)  # agents: their platform's tickets only
    name = request.match_info["name"].removesuffix(".wav")
    path = await server_of(request).feedback_line.note_path(ticket.id, name)  # type: ignore[attr-defined]
    if path is None:
        raise CallNotFound(f"ticket {ticket.id} has no voice note {name!r}")
    return web.FileResponse(path, headers={"Content-Type": "audio/wav",
                                           "Content-Disposition": f'attachment; filename="{name}.wav"'})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/tickets/{ticket_id}/voice-notes/{name}", voice_note)
