"""HTTP resources of harassment screening: list, flag and unflag numbers."""

from __future__ import annotations

from aiohttp import web

from hotline_link.auth import Principal
from hotline_link.http import principal_of, read_json, server_of
from hotline_link.logs import mask_number
from ivr.harassment import number_ref


def _who(principal: Principal) -> str:
    return f"agent {principal.agent}" if principal.role == "agent" else principal.role


async def list_flags(request: web.Request) -> web.Response:
    principal_of(request).require_role("supervisor", "admin")
    guard = server_of(request).harassment
    policy = guard.policy
    return web.json_response({
        "max_calls": policy.max_calls, "window_s": policy.window_s,
        "flagged": [flag.public() for flag in await guard.flags()]})


async def flag_number(request: web.Request) -> web.Response:
    principal = principal_of(request)
    principal.require_role("agent", "supervisor", "admin")
    body = await read_json(request, ("number", "reason"))
    site = ""
    if principal.role == "agent":
        agent_site = server_of(request).settings.site_of_agent(principal.agent)
        site = agent_site.id if agent_site else ""
    flag = await server_of(request).harassment.flag(str(body["number"]), str(body["reason"]),
                                                    _who(principal), site)
    return web.json_response(flag.public(), status=201)


async def unflag_number(request: web.Request) -> web.Response:
    principal = principal_of(request)
    principal.require_role("supervisor", "admin")
    number = await server_of(request).harassment.unflag(request.match_info["number"], _who(principal))
    return web.json_response({"unflagged": mask_number(number), "ref": number_ref(number)})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/harassment", list_flags)
    app.router.add_post("/api/harassment", flag_number)
    app.router.add_delete("/api/harassment/{number}", unflag_number)
