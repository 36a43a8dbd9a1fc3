"""HTTP resource of the units' feedback line: a voice note a unit left on a ticket."""

from __future__ import annotations

from aiohttp import web

from hotline_link.web.http import principal_of
from linkage.errors import VoiceNoteNotFound
from linkage.keys import FEEDBACK_LINE
from tickets.access import ticket_of


async def voice_note(request: web.Request) -> web.StreamResponse:
    principal_of(request).require_role("agent", "supervisor", "admin")
    ticket = await ticket_of(request)  # agents: their platform's tickets only
    name = request.match_info["name"].removesuffix(".wav")
    path = await request.app[FEEDBACK_LINE].note_path(ticket.id, name)
    if path is None:
        raise VoiceNoteNotFound(f"ticket {ticket.id} has no voice note {name!r}")
    return web.FileResponse(path, headers={"Content-Type": "audio/wav",
                                           "Content-Disposition": f'attachment; filename="{name}.wav"'})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/tickets/{ticket_id}/voice-notes/{name}", voice_note)
