"""The HTTP API (thin handlers; the services they call hold the logic)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from hotline_link.logs import mask_number

if TYPE_CHECKING:
    from hotline_link.server import Server

SERVER_KEY = web.AppKey("server", object)


def _server(request: web.Request) -> "Server":
    return request.app[SERVER_KEY]  # type: ignore[return-value]


async def health(request: web.Request) -> web.Response:
    server = _server(request)
    sites = {site: conn.connected.is_set() for site, conn in server.ami.sites.items()}
    try:
        redis_ok = bool(await server.redis.ping())
    except Exception:
        redis_ok = False
    healthy = redis_ok and all(sites.values())
    return web.json_response({"healthy": healthy, "redis": redis_ok, "ami": sites},
                             status=200 if healthy else 503)


async def list_calls(request: web.Request) -> web.Response:
    calls = [{"call_id": c.call_id, "site": c.site, "caller": mask_number(c.caller),
              "answered_by": c.answered_by, "started_at": c.started_at}
             for c in _server(request).calls.book.active()]
    return web.json_response({"calls": calls})


async def list_seats(request: web.Request) -> web.Response:
    server = _server(request)
    seats = {site: {seat: state.value for seat, state in (await server.registry.states(site)).items()}
             for site in server.ami.sites}
    return web.json_response({"seats": seats})


def build_app(server: "Server") -> web.Application:
    app = web.Application()
    app[SERVER_KEY] = server
    app.router.add_get("/health", health)
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/api/seats", list_seats)
    return app
