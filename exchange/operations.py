"""The exchange channel's resources for operators: where the channel stands, and resuming
a ticket's queue that a final refusal stopped. Supervisors and admins only."""

from __future__ import annotations

from aiohttp import web

from exchange.app_keys import EXCHANGE
from exchange.errors import NotStopped
from exchange.schema import RESUME_PATH, STATUS_PATH, ExchangeQueueResumed, ExchangeStatus
from hotline_link.web.bodies import reply
from hotline_link.web.http import principal_of

SUPERVISORS = ("supervisor", "admin")


async def channel_status(request: web.Request) -> web.Response:
    principal_of(request).require_role(*SUPERVISORS)
    return reply(ExchangeStatus.model_validate(await request.app[EXCHANGE].state()))


async def resume_queue(request: web.Request) -> web.Response:
    principal_of(request).require_role(*SUPERVISORS)
    platform, ticket = request.match_info["platform"], request.match_info["ticket"]
    if not await request.app[EXCHANGE].resume(platform, ticket):
        raise NotStopped(f"the queue of ticket {ticket[:40]} to {platform[:16]} is not stopped")
    return reply(ExchangeQueueResumed(to_platform=platform, ticket=ticket, resumed=True))


def add_routes(app: web.Application) -> None:
    app.router.add_get(STATUS_PATH, channel_status)
    app.router.add_post(RESUME_PATH, resume_queue)
