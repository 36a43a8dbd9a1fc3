"""HTTP resources of the analysis: hot spots, the summary, alerts, report packs
(supervisors and admins only)."""

from __future__ import annotations

from aiohttp import web

from analysis import report
from analysis.figures import GROUP_KEYS, parse_grouping, parse_moment, parse_range
from analysis.keys import ANALYSIS
from analysis.schema import (
    AlertList,
    AlertsQuery,
    AlertView,
    Hotspots,
    HotspotsQuery,
    RangeQuery,
    ReportList,
    ReportView,
    Summary,
)
from analysis.service import since_default
from hotline_link.web.bodies import read_query, reply
from hotline_link.web.http import principal_of

ROLES = ("supervisor", "admin")


async def hotspots(request: web.Request) -> web.Response:
    principal_of(request).require_role(*ROLES)
    query = read_query(request, HotspotsQuery)
    service = request.app[ANALYSIS]
    start, end = parse_range(query.from_, query.to, service.clock())
    by = parse_grouping(query.by)
    total, groups = await service.hotspots(start, end, by)
    unasked = dict.fromkeys(GROUP_KEYS)  # the keys not grouped by are null
    return reply(Hotspots.model_validate({"from": start, "to": end, "by": list(by), "total": total,
                                          "groups": [unasked | g for g in groups]}))


async def summary(request: web.Request) -> web.Response:
    principal_of(request).require_role(*ROLES)
    query = read_query(request, RangeQuery)
    service = request.app[ANALYSIS]
    start, end = parse_range(query.from_, query.to, service.clock())
    return reply(Summary.model_validate(await service.summary(start, end)))


async def alerts(request: web.Request) -> web.Response:
    principal_of(request).require_role(*ROLES)
    query = read_query(request, AlertsQuery)
    service = request.app[ANALYSIS]
    since = parse_moment(query.since, "since") if query.since else since_default(service.clock())
    return reply(AlertList(alerts=[AlertView.model_validate(a) for a in await service.alerts(since)]))


async def reports(request: web.Request) -> web.Response:
    principal_of(request).require_role(*ROLES)
    return reply(ReportList(reports=[ReportView.model_validate(r) for r in request.app[ANALYSIS].list_reports()]))


async def report_file(request: web.Request) -> web.StreamResponse:
    principal_of(request).require_role(*ROLES)
    name = request.match_info["name"]
    path, fmt = request.app[ANALYSIS].report_file(name)
    headers = {"Content-Type": f"{report.CONTENT_TYPES[fmt]}; charset=utf-8",
               "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"}
    if fmt == "html":
        headers = {**headers, **report.HTML_HEADERS, "Content-Disposition": f'inline; filename="{name}"'}
    return web.FileResponse(path, headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/analysis/hotspots", hotspots)
    app.router.add_get("/api/analysis/summary", summary)
    app.router.add_get("/api/analysis/alerts", alerts)
    app.router.add_get("/api/analysis/reports", reports)
    app.router.add_get("/api/analysis/reports/{name}", report_file)
