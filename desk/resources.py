"""HTTP resources of the desk: the page and the agent's softphone. Both are the agent's
own: only an agent token opens the page (as that agent), and only the agent's own token
reads its softphone (it holds the SIP password)."""

from __future__ import annotations

import secrets

from aiohttp import web

from desk.assets import jssip
from desk.errors import AgentNotFound
from desk.page import desk_config, headers, render
from desk.softphone import softphone_of
from hotline_link.core.settings import Settings, SiteSettings
from hotline_link.web.auth import Principal
from hotline_link.web.bodies import reply
from hotline_link.web.http import SETTINGS, principal_of
from seat_pool.config import SeatPoolConfig
from seat_pool.keys import SEAT_REGISTRY


def _own_agent(request: web.Request, agent: str | None = None) -> Principal:
    principal = principal_of(request)
    principal.require_role("agent")
    principal.require_agent(agent or principal.agent)
    return principal


def _site_of(settings: Settings, agent: str) -> SiteSettings:
    site = settings.site_of_agent(agent)
    if site is None:
        raise AgentNotFound(f"agent {agent} is not an agent of any site here")
    return site


async def page(request: web.Request) -> web.Response:
    agent = _own_agent(request).agent
    settings = request.app[SETTINGS]
    site = _site_of(settings, agent)
    phone = softphone_of(settings, site, agent)
    seat = (await request.app[SEAT_REGISTRY].states(site.id)).get(agent)
    config = desk_config(settings, site, agent, phone, seat, settings.section(SeatPoolConfig).wrap_up_s)
    nonce = secrets.token_urlsafe(16)
    return web.Response(text=render(config, nonce, jssip()), content_type="text/html", charset="utf-8",
                        headers=headers(nonce, phone.ws_url))


async def softphone(request: web.Request) -> web.Response:
    agent = request.match_info["agent"]
    _own_agent(request, agent)
    settings = request.app[SETTINGS]
    return reply(softphone_of(settings, _site_of(settings, agent), agent))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/desk", page)
    app.router.add_get("/api/agents/{agent}/softphone", softphone)
