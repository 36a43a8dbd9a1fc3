"""HTTP resources of the seat pool (read-only for now)."""

from __future__ import annotations

from aiohttp import web

from hotline_link.web.bodies import read_body, reply
from hotline_link.web.http import SETTINGS, principal_of
from seat_pool.errors import AgentNotFound
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.schema import AgentSeatState, PauseBody, SeatStates


async def list_seats(request: web.Request) -> web.Response:
    principal_of(request).require_role("supervisor", "admin")
    registry = request.app[SEAT_REGISTRY]
    seats = {site.id: await registry.states(site.id) for site in request.app[SETTINGS].sites}
    return reply(SeatStates(seats=seats))


async def _set_pause(request: web.Request, reason: str) -> web.Response:
    agent = request.match_info["agent"]
    principal_of(request).require_agent(agent)
    site = request.app[SETTINGS].site_of_agent(agent)
    if site is None:
        raise AgentNotFound(f"no agent {agent}")
    state = await request.app[SEAT_REGISTRY].pause(site.id, agent, reason)
    return reply(AgentSeatState(agent=agent, site=site.id, state=state, reason=reason or None))


async def pause_seat(request: web.Request) -> web.Response:
    body = await read_body(request, PauseBody)
    return await _set_pause(request, body.reason[:80])


async def ready_seat(request: web.Request) -> web.Response:
    return await _set_pause(request, "")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/seats", list_seats)
    app.router.add_post("/api/agents/{agent}/pause", pause_seat)
    app.router.add_post("/api/agents/{agent}/ready", ready_seat)
