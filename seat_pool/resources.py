"""HTTP resources of the seat pool (read-only for now)."""

from __future__ import annotations

from aiohttp import web

from hotline_link.http import principal_of, server_of


async def list_seats(request: web.Request) -> web.Response:
    principal_of(request).require_role("supervisor", "admin")
    server = server_of(request)
    seats = {site: {seat: state.value for seat, state in (await server.registry.states(site)).items()}
             for site in server.ami.sites}
    return web.json_response({"seats": seats})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/seats", list_seats)
