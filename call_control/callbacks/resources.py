"""HTTP resources of the callback queue: ``GET /api/callbacks``."""

from __future__ import annotations

from aiohttp import web

from call_control.callbacks.keys import CALLBACKS
from call_control.callbacks.schema import CallbackList, CallbackRequestView, CallbackSite, CallbacksQuery
from call_control.callbacks.state import Request
from hotline_link.web.auth import Forbidden
from hotline_link.web.bodies import read_query, reply
from hotline_link.web.http import SETTINGS, principal_of
from tickets.access import READERS, require_platform


def _view(request: Request, max_attempts: int) -> CallbackRequestView:
    return CallbackRequestView(
        id=request.id, site=request.site, number=request.masked, source=request.source,  # type: ignore[arg-type]
        sources=list(request.sources or (request.source,)),  # type: ignore[arg-type]
        ticket_id=request.ticket_id or None, other_tickets=list(request.tickets), call_id=request.call_id or None,
        stage=request.stage.value, attempts=request.attempts, max_attempts=max_attempts,
        agent=request.agent or None, created_at=request.created_at, due_at=request.due_at,
        deadline=request.deadline or None, reason=request.reason)


async def list_callbacks(request: web.Request) -> web.Response:
    principal = principal_of(request)
    principal.require_role(*READERS)
    query = read_query(request, CallbacksQuery)
    service = request.app[CALLBACKS]
    if principal.role == "agent":
        own = request.app[SETTINGS].site_of_agent(principal.agent)
        site = query.site or (own.id if own else None)
        require_platform(request, site, f"platform {site}'s callback queue")
        sites = [site] if site in service.sites else []
    elif query.site is not None:
        if query.site not in service.sites:
            raise Forbidden(f"platform {query.site} has no callback queue here")
        sites = [query.site]
    else:
        sites = sorted(service.sites)
    found = []
    for site in sites:
        if site is None:
            continue
        requests = await service.open_requests(site)
        found.append(CallbackSite(site=site, pending=len(requests),
                                  requests=[_view(r, service.policy.attempts) for r in requests]))
    return reply(CallbackList(sites=found))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/callbacks", list_callbacks)
