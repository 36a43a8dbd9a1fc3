"""HTTP resources of the supervisor dashboard: the page and its analysis page, its event
stream, the figures as JSON and as Prometheus text, the history as CSV, and the
supervisor's actions. Every route needs a supervisor or admin token; agents get 403."""

from __future__ import annotations

import asyncio
import json
import secrets
from importlib import resources as package_files

from aiohttp import web

from hotline_link.core.errors import TooManyStreams
from hotline_link.web.bodies import read_body, reply
from hotline_link.web.http import SETTINGS, principal_of
from supervisor.history import columns, history_rows, parse_range, to_csv
from supervisor.keys import SUPERVISOR
from supervisor.metrics import CONTENT_TYPE, render
from supervisor.schema import AgentLoggedOut, DashboardState, ListenBody, ListenRinging
from supervisor.service import SupervisorService

SUPERVISORS = ("supervisor", "admin")
HEARTBEAT_S = 5.0  # a snapshot at least this often (time series, proxies that cut idle streams)
COALESCE_S = 0.02  # a burst of events becomes one snapshot
HISTORY_TARGETS = ("110", "12345")


MAX_STREAMS = 500  # supervisor pages open at once on one server

def _service(request: web.Request) -> SupervisorService:
    principal_of(request).require_role(*SUPERVISORS)
    return request.app[SUPERVISOR]


def _asset(name: str) -> str:
    return (package_files.files("supervisor") / "static" / name).read_text(encoding="utf-8")


def _page(request: web.Request, html: str, script: str) -> web.Response:
    """A page, with its stylesheet and script inlined: the browser then needs no other
    request that would have to carry the token, and a per-response nonce lets the
    Content-Security-Policy forbid every other script."""
    _service(request)
    nonce = secrets.token_urlsafe(16)
    text = (_asset(html)
            .replace("<!--STYLE-->", f'<style nonce="{nonce}">\n{_asset("style.css")}</style>')
            .replace("<!--SCRIPT-->", f'<script nonce="{nonce}">\n{_asset(script)}</script>'))
    policy = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
              "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
    return web.Response(text=text, content_type="text/html", charset="utf-8", headers={
        "Content-Security-Policy": policy, "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"})


async def page(request: web.Request) -> web.Response:
    """The live page (坐席监控)."""
    return _page(request, "index.html", "app.js")


async def analysis_page(request: web.Request) -> web.Response:
    """The joint analysis page (联合分析与风险预警) with its knowledge base panel: it reads
    the analysis and knowledge APIs with the page's token as a bearer header."""
    return _page(request, "analysis.html", "analysis.js")


async def state(request: web.Request) -> web.Response:
    return reply(DashboardState.model_validate(_service(request).snapshot()))


async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: a ``snapshot`` event now, on every change, and every few seconds."""
    service = _service(request)
    if service.stream_count() >= MAX_STREAMS:
        raise TooManyStreams(f"{MAX_STREAMS} event streams are open; try again later")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    wake = service.subscribe()
    try:
        while not service.closing:
            wake.clear()
            data = json.dumps(service.snapshot(), ensure_ascii=False)
            await response.write(f"event: snapshot\ndata: {data}\n\n".encode())
            try:
                await asyncio.wait_for(wake.wait(), HEARTBEAT_S)
                await asyncio.sleep(COALESCE_S)
            except TimeoutError:
                pass
    except ConnectionResetError:
        pass  # the page went away
    finally:
        service.unsubscribe(wake)
    return response


async def metrics(request: web.Request) -> web.Response:
    text = render(_service(request).snapshot())
    return web.Response(body=text.encode("utf-8"), headers={"Content-Type": CONTENT_TYPE})


async def history_csv(request: web.Request) -> web.Response:
    service = _service(request)
    history = parse_range(request.query.get("from"), request.query.get("to"), request.query.get("by"))
    counters = await service.history(history)
    sites = [site.id for site in request.app[SETTINGS].sites]
    text = to_csv(history_rows(history, sites, HISTORY_TARGETS, counters), columns(HISTORY_TARGETS))
    name = f"hotline-{history.by}-{history.periods[0]:%Y%m%d%H}-{history.periods[-1]:%Y%m%d%H}.csv"
    return web.Response(text=text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def log_out(request: web.Request) -> web.Response:
    service = _service(request)
    return reply(AgentLoggedOut.model_validate(await service.log_out(request.match_info["agent"])))


async def listen(request: web.Request) -> web.Response:
    service = _service(request)
    body = await read_body(request, ListenBody)
    result = await service.listen(request.match_info["agent"], body.listener)
    return reply(ListenRinging.model_validate(result), status=202)


async def _close_streams(app: web.Application) -> None:
    service = app.get(SUPERVISOR)
    if service is not None:
        service.close_streams()


def add_routes(app: web.Application) -> None:
    app.on_shutdown.append(_close_streams)  # or shutdown would wait for open streams
    app.router.add_get("/supervisor", page)
    app.router.add_get("/supervisor/analysis", analysis_page)
    app.router.add_get("/api/supervisor/state", state)
    app.router.add_get("/api/supervisor/stream", stream)
    app.router.add_get("/api/supervisor/history.csv", history_csv)
    app.router.add_post("/api/supervisor/agents/{agent}/logout", log_out)
    app.router.add_post("/api/supervisor/agents/{agent}/listen", listen)
    app.router.add_get("/metrics", metrics)
