"""The exchange channel's resources for operators, supervisors and admins only: where the
channel stands, resuming a ticket's queue that a final refusal stopped, and the cases
exchanged with the other platform (a page at a time, or all of a period streamed as NDJSON
or CSV). What the cases show is decided in ``exchange.cases``; these only read the query,
ask the index and write the answer."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import structlog
from aiohttp import web

from exchange.app_keys import EXCHANGE
from exchange.cases import COLUMNS, CaseFilter, Period, csv_values, cursor_of, local_time, period_of, position_of
from exchange.errors import NotStopped
from exchange.schema import (
    CASES_EXPORT_PATH,
    CASES_PATH,
    EXPORT_TYPES,
    RESUME_PATH,
    SKIP_PATH,
    STATUS_PATH,
    ExchangeCase,
    ExchangeCases,
    ExchangeCasesExportQuery,
    ExchangeCasesFilters,
    ExchangeCasesQuery,
    ExchangeQueueResumed,
    ExchangeQueueSkipped,
    ExchangeStatus,
)
from hotline_link.core.spreadsheet import safe_cell
from hotline_link.web.bodies import read_query, reply
from hotline_link.web.http import principal_of

log = structlog.get_logger(__name__)

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


async def skip_queue_head(request: web.Request) -> web.Response:
    principal_of(request).require_role(*SUPERVISORS)
    platform, ticket = request.match_info["platform"], request.match_info["ticket"]
    voided = await request.app[EXCHANGE].skip(platform, ticket)
    if voided is None:
        raise NotStopped(f"the queue of ticket {ticket[:40]} to {platform[:16]} is not stopped")
    log.warning("exchange.head_voided_by_operator", ticket=ticket[:40], to_platform=platform[:16], message_id=voided,
                role=principal_of(request).role)
    return reply(ExchangeQueueSkipped(to_platform=platform, ticket=ticket, voided=voided))


# --- the exchanged cases ---------------------------------------------------------------


def _filter(query: ExchangeCasesFilters) -> CaseFilter:
    return CaseFilter(query.direction, query.category, query.division_code,
                      None if query.status is None else query.status.value)


async def list_cases(request: web.Request) -> web.Response:
    principal_of(request).require_role(*SUPERVISORS)
    service = request.app[EXCHANGE]
    index = service.exchanged_cases()  # exchange_off unless the channel runs here
    query = read_query(request, ExchangeCasesQuery)
    period = period_of(query.from_, query.to, service.clock())
    after = position_of(query.cursor) if query.cursor is not None else None
    rows, following = await index.page(period, _filter(query), after, query.limit)
    return reply(ExchangeCases.model_validate({
        "from": period.start, "to": period.end, "cases": rows,
        "next_cursor": None if following is None else cursor_of(following)}))


def _ndjson(rows: Sequence[dict[str, Any]]) -> bytes:
    lines = [json.dumps(ExchangeCase.model_validate(row).model_dump(mode="json"), ensure_ascii=False)
             for row in rows]  # the documented shape, nothing else
    return "".join(line + "\n" for line in lines).encode()


def _csv(rows: Sequence[dict[str, Any]], header: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(COLUMNS)
    for row in rows:
        ExchangeCase.model_validate(row)  # the documented shape, nothing else
        writer.writerow([safe_cell(value) for value in csv_values(row)])
    return out.getvalue().encode()


def _file_name(platform: str, period: Period, fmt: str) -> str:
    first, last = local_time(period.start)[:10], local_time(period.end - 1)[:10]
    return f"exchange-cases-{platform}-{first.replace('-', '')}-{last.replace('-', '')}.{fmt}"


async def export_cases(request: web.Request) -> web.StreamResponse:
    """Every case of the period the filters take, streamed a batch at a time. The first
    batch is read before the answer starts, so Redis out of reach is still a 503; a failure
    after that cuts the connection (the body ends without its last chunk: no client takes a
    cut export for a whole one)."""
    principal_of(request).require_role(*SUPERVISORS)
    service = request.app[EXCHANGE]
    index = service.exchanged_cases()
    query = read_query(request, ExchangeCasesExportQuery)
    period = period_of(query.from_, query.to, service.clock())
    encode = _ndjson if query.format == "ndjson" else _csv
    platform = service.channel.platform if service.channel is not None else ""
    response = web.StreamResponse(headers={
        "Content-Type": f"{EXPORT_TYPES[query.format]}; charset=utf-8", "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'attachment; filename="{_file_name(platform, period, query.format)}"'})
    async with contextlib.aclosing(index.export(period, _filter(query))) as batches:
        batch = await anext(batches, None)
        await response.prepare(request)
        try:
            if query.format == "csv":
                await response.write(_csv((), header=True))
            while batch is not None:
                await response.write(encode(batch))
                batch = await anext(batches, None)
            await response.write_eof()
        except ConnectionResetError:  # the client went away
            pass
        except Exception:
            log.exception("exchange.export_failed", path=request.path)
            if request.transport is not None:
                request.transport.close()  # no last chunk: the client sees the export cut
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get(STATUS_PATH, channel_status)
    app.router.add_post(RESUME_PATH, resume_queue)
    app.router.add_post(SKIP_PATH, skip_queue_head)
    app.router.add_get(CASES_PATH, list_cases)
    app.router.add_get(CASES_EXPORT_PATH, export_cases)
