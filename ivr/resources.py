"""HTTP resources of harassment screening: list, flag and unflag numbers."""

from __future__ import annotations

from aiohttp import web

from hotline_link.core.logs import mask_number
from hotline_link.web.auth import Principal
from hotline_link.web.bodies import read_body, reply
from hotline_link.web.http import SETTINGS, principal_of
from ivr.harassment import number_ref
from ivr.keys import HARASSMENT
from ivr.schema import FlagBody, HarassmentFlags, HarassmentUnflagged


def _who(principal: Principal) -> str:
    return f"agent {principal.agent}" if principal.role == "agent" else principal.role


async def list_flags(request: web.Request) -> web.Response:
    principal_of(request).require_role("supervisor", "admin")
    guard = request.app[HARASSMENT]
    policy = guard.policy
    return reply(HarassmentFlags(max_calls=policy.max_calls, window_s=policy.window_s,
                                 flagged=[flag.public() for flag in await guard.flags()]))


async def flag_number(request: web.Request) -> web.Response:
    principal = principal_of(request)
    principal.require_role("agent", "supervisor", "admin")
    body = await read_body(request, FlagBody)
    site = ""
    if principal.role == "agent":
        agent_site = request.app[SETTINGS].site_of_agent(principal.agent)
        site = agent_site.id if agent_site else ""
    flag = await request.app[HARASSMENT].flag(body.number, body.reason,
                                                    _who(principal), site)
    return reply(flag.public(), status=201)


async def unflag_number(request: web.Request) -> web.Response:
    principal = principal_of(request)
    principal.require_role("supervisor", "admin")
    number = await request.app[HARASSMENT].unflag(request.match_info["number"], _who(principal))
    return reply(HarassmentUnflagged(unflagged=mask_number(number), ref=number_ref(number)))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/harassment", list_flags)
    app.router.add_post("/api/harassment", flag_number)
    app.router.add_delete("/api/harassment/{number}", unflag_number)
