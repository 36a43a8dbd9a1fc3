"""HTTP resources of the closed loop: dispatch a ticket to a unit, the unit's feedback,
the satisfaction callback result and opting out of it, red flags, the units directory and
the report."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from dataclasses import asdict

import structlog
from aiohttp import web

from hotline_link.core.numbers import CallerNumber
from hotline_link.web.bodies import read_body, reply
from hotline_link.web.http import principal_of
from linkage.errors import BadNumber, LinkageError
from linkage.exchange_figures import ExchangeLog
from linkage.exchange_reader import ways_between
from linkage.keys import EXCHANGE_LOG, LINKAGE
from linkage.report import HTML_HEADERS, compute, parse_range, render_csv, render_html
from linkage.schema import (
    AssistingDispatch,
    CallbackBody,
    CallbackOptOut,
    DispatchBody,
    DispatchDeadlines,
    DispatchOverview,
    DispatchRecord,
    FeedbackBody,
    LinkageFlag,
    LinkageFlags,
    LinkageReport,
    LinkedUnit,
    UnitsDirectory,
)
from linkage.service import LinkageService
from linkage.units import Unit
from tickets.access import ticket_of

log = structlog.get_logger(__name__)

FORMATS = ("json", "csv", "html")
_OPTOUT_NUMBER = re.compile(r"\+?[0-9]{3,20}")  # what the harassment flags take too


def _linkage(request: web.Request) -> LinkageService:
    return request.app[LINKAGE]


def _who(request: web.Request) -> str:
    principal = principal_of(request)
    return principal.agent or principal.unit or principal.role


def _unit_view(unit: Unit) -> LinkedUnit:
    return LinkedUnit(id=unit.id, name=unit.name, level=unit.level, duty_phone=unit.duty_phone,
                      backup_phone=unit.backup_phone, webhook_url=unit.webhook_url, handles=list(unit.handles),
                      by_system=unit.by_system)


async def dispatch(request: web.Request) -> web.Response:
    ticket = await ticket_of(request)  # agents: their platform's tickets only
    body = await read_body(request, DispatchBody)
    record, new = await _linkage(request).dispatch(ticket, body.unit, _who(request), body.role)
    return reply(DispatchRecord.of(record), status=201 if new else 200)


async def dispatch_state(request: web.Request) -> web.Response:
    ticket = await ticket_of(request)
    linkage = _linkage(request)
    recommender = await linkage.dispatcher.recommender()
    text = f"{ticket.category} {ticket.summary}".strip()
    proposed: list[LinkedUnit] = []
    if text:
        # the ticket's own platform's entry: its units are the ones this platform dispatches to
        entry = await asyncio.to_thread(recommender.entry_for, text[:2000], ticket.site)
        if entry is not None:
            proposed = [_unit_view(u) for u in linkage.dispatcher.proposal(ticket, entry.id, entry.responsible_unit)]
    flag = (await linkage.deadlines.flags()).get(ticket.id)
    record = await linkage.record(ticket.id)
    assisting = [AssistingDispatch(dispatch=DispatchRecord.of(part),
                                   deadlines=await _deadlines(linkage, ticket.id, part["unit"]))
                 for part in await linkage.assisting(ticket.id)]
    return reply(DispatchOverview(
        ticket_id=ticket.id, dispatch=None if record is None else DispatchRecord.of(record),
        assisting=assisting, proposed_units=proposed, deadlines=await _deadlines(linkage, ticket.id),
        flag=None if flag is None else LinkageFlag.of(flag), repeats=await linkage.repeats(ticket.id)))


async def _deadlines(linkage: LinkageService, ticket_id: str, assisting: str | None = None) -> DispatchDeadlines:
    """The open deadlines of the lead's part, or of an assisting unit's."""
    deadlines = {stage: (await linkage.deadlines.get(ticket_id, stage, assisting))
                 for stage in ("accept", "arrive", "result")}
    return DispatchDeadlines.model_validate(
        {stage: None if deadline is None else asdict(deadline) for stage, deadline in deadlines.items()})


async def feedback(request: web.Request) -> web.Response:
    principal = principal_of(request)
    principal.require_role("unit")
    body = await read_body(request, FeedbackBody)
    record = await _linkage(request).feedback(request.match_info["ticket_id"], principal.unit,
                                              body.step, body.model_dump(exclude_none=True))
    return reply(DispatchRecord.of(record))


async def callback(request: web.Request) -> web.Response:
    ticket = await ticket_of(request)
    body = await read_body(request, CallbackBody)
    await _linkage(request).callback(ticket, body.result, _who(request))
    record = await _linkage(request).record(ticket.id)
    assert record is not None  # the callback was recorded on the ticket's dispatch
    return reply(DispatchRecord.of(record))


def optout_number(text: str) -> CallerNumber:
    """The caller of a 回访 opt-out (kept by ``identity``: as the callback dials it);
    ``BadNumber`` unless it is 3 to 20 digits (a leading + allowed)."""
    caller = CallerNumber.parse(text if _OPTOUT_NUMBER.fullmatch(text) else "")
    if caller.is_anonymous:
        raise BadNumber("number: a caller number of 3 to 20 digits is required "
                        "(a leading + allowed; anonymous callers are never called back)")
    return caller


async def callback_optout(request: web.Request) -> web.Response:
    """PUT: never call this number back (回访); DELETE: it may be called again; GET: which."""
    principal_of(request).require_role("agent", "supervisor", "admin")
    caller = optout_number(request.match_info["number"])
    callbacks, number = _linkage(request).callbacks, caller.identity
    if request.method == "PUT":
        await callbacks.opt_out(number)
    elif request.method == "DELETE":
        await callbacks.opt_in(number)
    opted_out = await callbacks.opted_out(number)
    if request.method != "GET":
        log.info("linkage.callback_optout", number=caller.masked, opted_out=opted_out, by=_who(request))
    return reply(CallbackOptOut(number=caller.masked, opted_out=opted_out))


async def flags(request: web.Request) -> web.Response:
    principal_of(request).require_role("supervisor", "admin")
    return reply(LinkageFlags.of(await _linkage(request).deadlines.flags()))


async def units(request: web.Request) -> web.Response:
    principal_of(request).require_role("agent", "supervisor", "admin")
    directory = _linkage(request).units
    return reply(UnitsDirectory(jurisdiction=directory.jurisdiction, version=directory.version,
                                units=[_unit_view(u) for u in directory.units]))


async def build_report(linkage: LinkageService, start_day: str, end_day: str, fmt: str,
                       exchange_log: ExchangeLog | None = None) -> tuple[str, str]:
    """(content type, body) of the report over local days ``start_day``..``end_day``; with
    ``exchange_log`` (two deployments) the figures between the platforms are its messages'."""
    if fmt not in FORMATS:
        raise LinkageError(f"format must be one of {', '.join(FORMATS)}")
    start, end = parse_range(start_day, end_day, linkage.config.calendar.timezone)
    events = await linkage.journal.events_between(start, end)
    ways = await ways_between(exchange_log, start, end) if exchange_log is not None else None
    figures = compute(events, start, end, linkage.units.names(), ways)
    if fmt == "csv":
        return "text/csv", render_csv(figures)
    if fmt == "html":
        return "text/html", render_html(figures, "12345 与 110 对接联动报告", f"{start_day} 至 {end_day}")
    report = LinkageReport.model_validate(figures)  # the documented shape, nothing else
    return "application/json", json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=1)


async def report(request: web.Request) -> web.Response:
    principal_of(request).require_role("supervisor", "admin")
    today = dt.datetime.now(_linkage(request).config.calendar.zone).date()  # the report's days are local
    start_day = request.query.get("from", today.replace(day=1).isoformat())
    end_day = request.query.get("to", today.isoformat())
    content_type, body = await build_report(_linkage(request), start_day, end_day, request.query.get("format", "html"),
                                            request.app.get(EXCHANGE_LOG))
    headers = dict(HTML_HEADERS) if content_type == "text/html" else {"Cache-Control": "no-store"}
    return web.Response(text=body, content_type=content_type, charset="utf-8", headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/tickets/{ticket_id}/dispatch", dispatch)
    app.router.add_get("/api/tickets/{ticket_id}/dispatch", dispatch_state)
    app.router.add_post("/api/tickets/{ticket_id}/feedback", feedback)
    app.router.add_post("/api/tickets/{ticket_id}/callback", callback)
    for method in ("GET", "PUT", "DELETE"):
        app.router.add_route(method, "/api/callback-optout/{number}", callback_optout)
    app.router.add_get("/api/linkage/flags", flags)
    app.router.add_get("/api/units", units)
    app.router.add_get("/supervisor/report", report)
