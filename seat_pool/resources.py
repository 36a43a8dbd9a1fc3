"""HTTP resources of the seat pool (read-only for now)."""

from __future__ import annotations

from aiohttp import web

from call_control.errors import CallNotFound
from hotline_link.http import principal_of, read_json, server_of


async def list_seats(request: web.Request) -> web.Response:
    principal_of(request).require_role("supervisor", "admin")
    server = server_of(request)
    seats = {site: {seat: state.value for seat, state in (await server.registry.states(site)).items()}
             for site in server.ami.sites}
    return web.json_response({"seats": seats})


async def _set_pause(request: web.Request, reason: str) -> web.Response:
    agent = request.match_info["agent"]
    principal_of(request).require_agent(agent)
    server = server_of(request)
    site = server.settings.site_of_agent(agent)
    if site is None:
        raise CallNotFound(f"no agent {agent}")
    state = await server.registry.pause(site.id, agent, reason)
    return web.json_response({"agent": agent, "site": site.id, "state": state.value,
                              "reason": reason or None})


async def pause_seat(request: web.Request) -> web.Response:
    body = await read_json(request, ("reason",))
    return await _set_pause(request, str(body["reason"])[:80])


async def ready_seat(request: web.Request) -> web.Response:
    return await _set_pause(request, "")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/seats", list_seats)
    app.router.add_post("/api/agents/{agent}/pause", pause_seat)
    app.router.add_post("/api/agents/{agent}/ready", ready_seat)
