"""The API over the cases exchanged with the other platform, between two real deployments
(12345's and 110's: two redis-servers, two aiohttp servers, real clients): every handover
each way is a case on both sides with its direction, the filters narrow the list, the pages
cover it once, the export streams the same rows as NDJSON and CSV, a restricted case shows
no content on either side, and bad input is a 400 naming the parameter. Times and dates come
from the tests' Clock, never the calendar."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.exceptions import ConnectionError as RedisConnectionError

from exchange import case_index
from exchange.app_keys import EXCHANGE
from exchange.cases import COLUMNS, member
from exchange.config import ExchangeConfig
from exchange.effects import Peer
from exchange.plugin import ExchangePlugin
from exchange.redis_keys import CASES, opened_key
from exchange.service import ExchangeService
from hotline_link.app import build_app
from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.settings import Settings
from hotline_link.core.zone import HOTLINE_ZONE
from hotline_link.web.auth import Principal, TokenBook
from tests.unit.exchange_calls import AGENT_12345, answered, arrive, route_hook
from tests.unit.exchange_deployments import AGENT_TOKEN, SUPERVISOR_TOKEN, Deployment
from tests.unit.exchange_samples import T110, T12345, ticket_110, ticket_12345
from tickets.keys import PUSH, TICKETS
from tickets.outbox import Outbox
from tickets.plugin import TicketsPlugin
from tickets.push import PushService
from tickets.store import TICKET_TTL_S, Ticket, TicketStore

CASES_URL = "/api/exchange/v1/cases"
EXPORT_URL = "/api/exchange/v1/cases/export"
DAY = 86400.0
CALL_110 = "hl110-1795530667.2"
ARRIVED = "hl12345-1795530700.5"  # a call 110 transferred, as 12345's Asterisk names it

Params = dict[str, str] | list[tuple[str, str]]


async def get(session: aiohttp.ClientSession, one: Deployment, params: Params | None = None,
              token: str = SUPERVISOR_TOKEN, url: str = CASES_URL) -> tuple[int, Any]:
    async with session.get(one.url + url, params=params or {}, headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status, await resp.json()


async def listed(session: aiohttp.ClientSession, one: Deployment, **params: str) -> list[dict[str, Any]]:
    status, body = await get(session, one, params)
    assert status == 200, body
    assert body["next_cursor"] is None  # every test's data fits one page
    cases: list[dict[str, Any]] = body["cases"]
    return cases


async def tickets_listed(session: aiohttp.ClientSession, one: Deployment, **params: str) -> list[str]:
    return [(case["ticket"]) for case in await listed(session, one, **params)]


async def pushed(hotline: Deployment, police: Deployment, ticket: Ticket) -> str:
    """12345's ticket pushed to 110 (the tickets plugin's push, over the channel), settled:
    110's ticket it opened."""
    await hotline.tickets.save(ticket)
    payload = await hotline.push.push(ticket.id, "110")
    await hotline.settle(police)
    return (await police.pushed_ticket(payload.push_id)).id


async def transferred(police: Deployment, hotline: Deployment, ticket: Ticket) -> str:
    """110's ticket handed to 12345 by a one-click transfer's message, settled: 12345's
    ticket it opened."""
    await police.tickets.save(ticket)
    sent = await police.service.hand_over_call(ticket, "transfer", "12345", CALL_110 + ticket.id[-3:])
    await police.settle(hotline)
    opened = await hotline.redis.get(opened_key(sent.message_id))
    assert opened is not None
    return str(opened)


# --- each way, on both sides ---------------------------------------------------------------


async def test_a_push_each_way_is_a_case_on_both_sides_with_its_direction(deployments, session):
    hotline, police = deployments
    opened_110 = await pushed(hotline, police, ticket_12345())
    hotline.clock.now += 60
    opened_12345 = await transferred(police, hotline, ticket_110())
    [out_12345, in_12345] = await listed(session, hotline)
    [in_110, out_110] = await listed(session, police)
    assert (out_12345["ticket"], out_12345["direction"], out_12345["peer_platform"], out_12345["peer_ticket"],
            out_12345["mode"]) == (T12345, "out", "110", opened_110, "push")
    assert (in_110["ticket"], in_110["direction"], in_110["peer_platform"], in_110["peer_ticket"],
            in_110["mode"]) == (opened_110, "in", "12345", T12345, "push")
    # 110 learns 12345's ticket from the first message naming it (its 签收): none yet
    assert (out_110["ticket"], out_110["direction"], out_110["peer_ticket"], out_110["mode"]) == \
        (T110, "out", None, "transfer")
    assert (in_12345["ticket"], in_12345["direction"], in_12345["peer_ticket"], in_12345["mode"]) == \
        (opened_12345, "in", T110, "transfer")
    # both sides saw the push the same second; the push's 签收 is the system's, on both sides
    assert out_12345["handed_at"] == in_110["handed_at"] == police.clock.now - 60
    assert (out_12345["signed_for_by"], in_110["signed_for_by"]) == ("system", "system")
    assert out_12345["signed_for_at"] == in_110["signed_for_at"] is not None
    # a transfer's 签收 is the agent's who answers its call: none answered here
    assert (out_110["signed_for_by"], in_12345["signed_for_by"]) == (None, None)
    sample = ticket_12345()
    assert (out_12345["category"], out_12345["summary"], out_12345["division_code"], out_12345["restricted"]) == \
        (sample.category, sample.summary, sample.division_code, False)
    assert in_110["category"] == sample.category  # 110's own ticket, opened from the push
    assert in_12345["emergency"] is False  # 110's emergency arrives non-emergency (the boundary's rule)


async def test_feedback_and_bounces_show_on_both_sides(deployments, session):
    hotline, police = deployments
    opened = await pushed(hotline, police, ticket_12345())
    opened_ticket = await police.tickets.get(opened)
    assert opened_ticket is not None
    peer = Peer("12345", T12345)
    police.clock.now += 30
    await police.service.status(opened_ticket, peer, "dispatched", unit="八大湖派出所")
    police.clock.now += 30
    await police.service.status(opened_ticket, peer, "arrived", unit="八大湖派出所", detail="民警已到场")
    await police.service.bounce(opened_ticket, peer, "非警务类事项")
    await police.settle(hotline)
    [out] = await listed(session, hotline)
    [came_in] = await listed(session, police)
    for case in (out, came_in):
        assert (case["feedback_stage"], case["feedback_at"], case["bounces"]) == ("arrived", police.clock.now, 1)
    await police.records.save(opened, state="dispatched")  # 110's closed loop holds its ticket
    assert (await listed(session, police))[0]["status"] == "dispatched"
    assert (await listed(session, hotline))[0]["status"] == "not_dispatched"  # 12345's own ticket's state


async def test_the_call_first_is_a_case_at_once_and_its_message_completes_it(deployments, session):
    hotline, police = deployments
    await arrive(route_hook(hotline), "12345", ARRIVED, "110", T110)  # the call's headers: 110's word
    called_at = hotline.clock.now
    [case] = await listed(session, hotline)
    assert (case["direction"], case["peer_ticket"], case["mode"], case["handed_at"]) == ("in", None, None, called_at)
    hotline.clock.now += 5
    await police.tickets.save(ticket_110())
    await police.service.hand_over_call(ticket_110(), "transfer", "12345", CALL_110)
    await police.settle(hotline)
    [case] = await listed(session, hotline)  # one case: the message joined the call's ticket
    assert (case["direction"], case["peer_ticket"], case["mode"], case["handed_at"]) == \
        ("in", T110, "transfer", called_at)
    hotline.clock.now += 5
    await hotline.service.sign_for(BusEvent.of(answered(ARRIVED, "12345", AGENT_12345)))  # 签收 by the agent
    await hotline.settle(police)
    [ours] = await listed(session, hotline)
    [theirs] = await listed(session, police)
    assert (ours["signed_for_by"], ours["signed_for_at"]) == (AGENT_12345, hotline.clock.now)
    assert (theirs["ticket"], theirs["direction"], theirs["peer_ticket"], theirs["signed_for_by"],
            theirs["signed_for_at"]) == (T110, "out", case["ticket"], AGENT_12345, hotline.clock.now)


async def test_an_applier_that_runs_again_leaves_one_case_at_its_first_time(deployments, session):
    hotline, police = deployments
    await police.tickets.save(ticket_110())
    sent = await police.service.hand_over_call(ticket_110(), "transfer", "12345", CALL_110)
    await police.service.hand_over_call(ticket_110(), "transfer", "12345", CALL_110)  # a double click
    await police.settle(hotline)
    first = await listed(session, hotline)
    hotline.clock.now += 600
    await hotline.service.apply(sent)  # an applier that died before done
    assert await listed(session, hotline) == first
    assert await hotline.redis.zcard(CASES) == 1 and await police.redis.zcard(CASES) == 1


async def test_cases_older_than_the_tickets_are_dropped_on_write(deployments):
    hotline, police = deployments
    await pushed(hotline, police, ticket_12345())
    old = member(T12345, "out")
    assert await hotline.redis.zscore(CASES, old) is not None
    hotline.clock.now += TICKET_TTL_S + 1
    await pushed(hotline, police, ticket_12345(id="12345-20261124-000018"))
    assert await hotline.redis.zscore(CASES, old) is None
    assert await hotline.redis.zscore(CASES, member("12345-20261124-000018", "out")) is not None


# --- the filters ---------------------------------------------------------------------------

NOISE = ticket_12345(id="12345-20261124-000021", category="噪音扰民", division_code="370202")
STALLS = ticket_12345(id="12345-20261124-000022", category="占道经营", division_code="370203")
QUARREL = ticket_110(id="110-20261124-000041", category="纠纷", division_code="370203")


async def three_days(hotline: Deployment, police: Deployment) -> str:
    """12345 pushes NOISE on the first day, STALLS on the second; 110 transfers QUARREL on
    the third: 12345's ticket for it."""
    await pushed(hotline, police, NOISE)
    hotline.clock.now += DAY
    await pushed(hotline, police, STALLS)
    hotline.clock.now += DAY
    return await transferred(police, hotline, QUARREL)


def day(offset: int, now: float) -> str:
    """The local date ``offset`` days from the clock's."""
    return (dt.datetime.fromtimestamp(now, HOTLINE_ZONE).date() + dt.timedelta(days=offset)).isoformat()


async def test_each_filter_narrows_the_list(deployments, session):
    hotline, police = deployments
    quarrel = await three_days(hotline, police)
    now = hotline.clock.now
    everything = [NOISE.id, STALLS.id, quarrel]
    assert await tickets_listed(session, hotline) == everything  # oldest first
    assert await tickets_listed(session, hotline, **{"from": day(-1, now), "to": day(-1, now)}) == [STALLS.id]
    assert await tickets_listed(session, hotline, **{"from": day(-1, now)}) == [STALLS.id, quarrel]
    assert await tickets_listed(session, hotline, to=day(-2, now)) == [NOISE.id]
    start = dt.datetime.fromtimestamp(now - DAY, HOTLINE_ZONE).isoformat()  # a time: the instant
    assert await tickets_listed(session, hotline, **{"from": start}) == [STALLS.id, quarrel]
    assert await tickets_listed(session, hotline, to=start) == [NOISE.id]  # to excluded
    assert await tickets_listed(session, hotline, direction="in") == [quarrel]
    assert await tickets_listed(session, hotline, direction="out") == [NOISE.id, STALLS.id]
    assert await tickets_listed(session, hotline, category="噪音扰民") == [NOISE.id]
    assert await tickets_listed(session, hotline, category="纠纷") == [quarrel]
    assert await tickets_listed(session, hotline, division_code="370203") == [STALLS.id, quarrel]
    assert await tickets_listed(session, hotline, division_code="3702") == everything  # the city
    assert await tickets_listed(session, hotline, division_code="44") == []
    await hotline.records.save(STALLS.id, state="dispatched")
    await hotline.records.save(quarrel, state="resolved", callback="满意")
    assert await tickets_listed(session, hotline, status="dispatched") == [STALLS.id]
    assert await tickets_listed(session, hotline, status="called_back") == [quarrel]
    assert await tickets_listed(session, hotline, status="not_dispatched") == [NOISE.id]
    assert await tickets_listed(session, hotline, direction="out", division_code="370203") == [STALLS.id]
    # 110's side of the same cases
    assert [c["direction"] for c in await listed(session, police)] == ["in", "in", "out"]
    assert await tickets_listed(session, police, direction="out") == [QUARREL.id]


async def every_page(session: aiohttp.ClientSession, one: Deployment, limit: int) -> list[list[str]]:
    """The tickets of each page, following ``next_cursor`` to the last."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        status, body = await get(session, one, {"limit": str(limit), **({"cursor": cursor} if cursor else {})})
        assert status == 200, body
        pages.append([case["ticket"] for case in body["cases"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_the_pages_cover_every_case_once(deployments, session, monkeypatch):
    hotline, police = deployments
    monkeypatch.setattr(case_index, "SCAN_BATCH", 2)  # many reads of the index per page, ties across them
    ids = []
    for n in range(7):
        ticket = ticket_12345(id=f"12345-20261124-0001{n:02d}")
        await hotline.tickets.save(ticket)
        await hotline.push.push(ticket.id, "110")
        ids.append(ticket.id)
        if n % 3 == 2:
            hotline.clock.now += 1  # some cases share a second, some do not
    await hotline.settle(police)  # 110 takes all seven in the same second
    for one in (hotline, police):
        pages = await every_page(session, one, 3)
        assert [len(page) for page in pages] == [3, 3, 1]
        seen = [ticket for page in pages for ticket in page]
        assert len(seen) == len(set(seen)) == 7
        assert seen == [c["ticket"] for c in (await get(session, one, {"limit": "1000"}))[1]["cases"]]
    assert await every_page(session, hotline, 7) == [ids]  # in the index's order; a full last page ends there


async def test_a_filtered_page_goes_on_past_what_the_filter_leaves_out(deployments, session, monkeypatch):
    hotline, police = deployments
    monkeypatch.setattr(case_index, "SCAN_BATCH", 2)
    quarrel = await three_days(hotline, police)
    status, body = await get(session, hotline, {"direction": "out", "limit": "1"})
    assert (status, [c["ticket"] for c in body["cases"]]) == (200, [NOISE.id])
    status, body = await get(session, hotline, {"direction": "out", "limit": "1", "cursor": body["next_cursor"]})
    assert (status, [c["ticket"] for c in body["cases"]], body["next_cursor"]) == (200, [STALLS.id], None)
    assert quarrel not in [c["ticket"] for c in body["cases"]]


# --- the restricted rule -------------------------------------------------------------------


async def test_a_restricted_110_case_shows_no_content_on_either_side(deployments, session):
    hotline, police = deployments
    secret = ticket_110(category="涉案", summary="涉案线索，地址保密", division_code="370211")
    opened = await transferred(police, hotline, secret)
    # 110 learns 12345's ticket from its 签收, when an agent answers the call: none here
    for one, ticket_id, direction, peer_ticket in ((police, T110, "out", None), (hotline, opened, "in", T110)):
        status, body = await get(session, one)
        assert status == 200
        [case] = body["cases"]
        assert (case["ticket"], case["direction"], case["peer_ticket"], case["restricted"]) == \
            (ticket_id, direction, peer_ticket, True)
        assert (case["category"], case["summary"], case["division_code"], case["emergency"]) == (None,) * 4
        assert case["handed_at"] == police.clock.now and case["status"] == "not_dispatched"
        text = json.dumps(body, ensure_ascii=False)
        assert "涉案" not in text and "370211" not in text and secret.caller not in text
        # a filter on what the row hides never finds it: it would tell the content
        for params in ({"category": "涉案"}, {"division_code": "370211"}, {"division_code": "37"}):
            assert (await get(session, one, params))[1]["cases"] == []
        for fmt in ("ndjson", "csv"):
            async with session.get(one.url + EXPORT_URL, params={"format": fmt},
                                   headers={"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}) as resp:
                exported = await resp.text()
            assert resp.status == 200 and ticket_id in exported
            assert "涉案" not in exported and "370211" not in exported and secret.caller not in exported


async def test_no_callers_number_is_in_a_case(deployments, session):
    hotline, police = deployments
    await pushed(hotline, police, ticket_12345())
    for one in (hotline, police):
        status, body = await get(session, one)
        assert status == 200 and body["cases"]
        assert ticket_12345().caller not in json.dumps(body) and "caller" not in body["cases"][0]


# --- the export ----------------------------------------------------------------------------


async def export(session: aiohttp.ClientSession, one: Deployment, fmt: str, **params: str) -> tuple[
        aiohttp.ClientResponse, str]:
    async with session.get(one.url + EXPORT_URL, params={"format": fmt, **params},
                           headers={"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}) as resp:
        return resp, await resp.text()


def from_csv(cells: dict[str, str]) -> dict[str, Any]:
    """A CSV row read back as the list's row: times to POSIX seconds, booleans, numbers."""
    row: dict[str, Any] = {}
    for name, cell in cells.items():
        if cell == "":
            row[name] = None
        elif name in ("handed_at", "feedback_at", "signed_for_at"):
            row[name] = dt.datetime.fromisoformat(cell).timestamp()
        elif name in ("restricted", "emergency"):
            row[name] = {"true": True, "false": False}[cell]
        elif name == "bounces":
            row[name] = int(cell)
        else:
            row[name] = cell.removeprefix("'") if cell[:2] in ("'=", "'+", "'-", "'@") else cell
    return row


async def test_the_export_streams_the_lists_rows_as_ndjson_and_csv(deployments, session, monkeypatch):
    hotline, police = deployments
    monkeypatch.setattr(case_index, "SCAN_BATCH", 1)  # one case per batch: written as they are read
    await three_days(hotline, police)
    await hotline.records.save(NOISE.id, state="dispatched")
    rows = await listed(session, hotline)
    assert len(rows) == 3
    resp, text = await export(session, hotline, "ndjson")
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert resp.headers.get("Transfer-Encoding") == "chunked"  # streamed, not one body
    assert [json.loads(line) for line in text.splitlines()] == rows
    resp, text = await export(session, hotline, "csv")
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="exchange-cases-12345-' in resp.headers["Content-Disposition"]
    read = list(csv.reader(io.StringIO(text)))
    assert read[0] == list(COLUMNS)
    assert [from_csv(dict(zip(read[0], cells, strict=True))) for cells in read[1:]] == rows
    resp, text = await export(session, hotline, "csv", direction="in")
    assert len(list(csv.reader(io.StringIO(text)))) == 2  # the header and 110's case: the same filters


async def test_the_csv_export_is_safe_from_formulas(deployments, session):
    hotline, police = deployments
    await pushed(hotline, police, ticket_12345(category="=HYPERLINK(1)", summary="+cmd|' /C calc'!A0"))
    _, text = await export(session, hotline, "csv")
    [_, cells] = list(csv.reader(io.StringIO(text)))
    row = dict(zip(COLUMNS, cells, strict=True))
    assert (row["category"], row["summary"]) == ("'=HYPERLINK(1)", "'+cmd|' /C calc'!A0")
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


async def test_an_empty_export_is_its_header_or_nothing(deployments, session):
    hotline, _ = deployments
    assert (await export(session, hotline, "csv"))[1] == ",".join(COLUMNS) + "\r\n"
    assert (await export(session, hotline, "ndjson"))[1] == ""


def failing_at(rows: Any, failing_call: int) -> Any:
    """``CaseIndex.rows`` whose ``failing_call``-th call finds Redis gone."""
    calls = 0

    async def failing(candidates: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == failing_call:
            raise RedisConnectionError("Connection refused")
        return await rows(candidates)

    return failing


async def test_redis_failing_mid_export_cuts_the_stream(deployments, session, monkeypatch):
    hotline, police = deployments
    monkeypatch.setattr(case_index, "SCAN_BATCH", 1)
    await three_days(hotline, police)
    rows = hotline.service.cases.rows
    monkeypatch.setattr(hotline.service.cases, "rows", failing_at(rows, 2))  # after the first batch went out
    async with session.get(hotline.url + EXPORT_URL, params={"format": "ndjson"},
                           headers={"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}) as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()  # never a whole-looking export
    monkeypatch.setattr(hotline.service.cases, "rows", failing_at(rows, 1))  # before anything was sent
    status, body = await get(session, hotline, {"format": "csv"}, url=EXPORT_URL)
    assert (status, body["error"]["code"]) == (503, "redis_unavailable")


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("url, params, message", [
    (CASES_URL, {"direction": "sideways"}, "parameter 'direction': Input should be 'in' or 'out'"),
    (CASES_URL, {"from": "2026-13-01"}, "parameter 'from': '2026-13-01' is not a date (2026-11-24) or a time"),
    (CASES_URL, {"to": "yesterday"}, "parameter 'to': 'yesterday' is not a date"),
    (CASES_URL, {"from": "2026-11-24T25:00"}, "parameter 'from': '2026-11-24T25:00' is not a date"),
    (CASES_URL, {"from": "0001-01-01"}, "parameter 'from': '0001-01-01' is out of range"),
    (CASES_URL, {"from": "2026-11-24", "to": "2026-11-23"}, "parameter 'to': 2026-11-23 is before from 2026-11-24"),
    (CASES_URL, {"from": "2026-11-24T13:00", "to": "2026-11-24T12:00"}, "parameter 'to': 2026-11-24T12:00 is before"),
    (CASES_URL, {"from": "2025-11-23", "to": "2026-11-24"},
     "parameters 'from' and 'to': the period is 367 days long; at most 366"),
    (CASES_URL, {"from": "2099-01-01"}, "parameter 'from': 2099-01-01 is after today"),
    (CASES_URL, {"limit": "0"}, "parameter 'limit': Input should be greater than or equal to 1"),
    (CASES_URL, {"limit": "1001"}, "parameter 'limit': Input should be less than or equal to 1000"),
    (CASES_URL, {"limit": "ten"}, "parameter 'limit': Input should be a valid integer"),
    (CASES_URL, {"cursor": "not-a-cursor"}, "parameter 'cursor': not a cursor this API gave"),
    (CASES_URL, {"cursor": "eyJhdCI6MSwiY2FzZSI6IngifQ"}, "parameter 'cursor': not a cursor"),  # {"at":1,"case":"x"}
    (CASES_URL, {"status": "closed"}, "parameter 'status': Input should be 'not_dispatched', 'queued'"),
    (CASES_URL, {"division_code": "37020"}, "parameter 'division_code': a division code of 6 digits"),
    (CASES_URL, {"category": "类" * 41}, "parameter 'category': String should have at most 40 characters"),
    (CASES_URL, {"catgory": "纠纷"}, "parameter 'catgory' is not known here; known: from, to, direction"),
    (CASES_URL, {"format": "csv"}, "parameter 'format' is not known here"),
    (CASES_URL, [("direction", "in"), ("direction", "out")], "parameter 'direction' is given 2 times; give it once"),
    (EXPORT_URL, {"format": "xlsx"}, "parameter 'format': Input should be 'ndjson' or 'csv'"),
    (EXPORT_URL, {"limit": "10"}, "parameter 'limit' is not known here"),
    (EXPORT_URL, {"to": "2026-11-24", "from": "2026-12-01"}, "parameter 'to': 2026-11-24 is before from 2026-12-01"),
    (EXPORT_URL, {"direction": "IN"}, "parameter 'direction': Input should be 'in' or 'out'"),
])
async def test_bad_input_is_a_400_naming_the_parameter(deployments, session, url, params, message):
    hotline, _ = deployments
    status, body = await get(session, hotline, params, url=url)
    assert (status, body["error"]["code"]) == (400, "bad_request"), body
    assert body["error"]["message"].startswith(message), body["error"]["message"]


@pytest.mark.parametrize("url", [CASES_URL, EXPORT_URL])
async def test_agents_are_refused(deployments, session, url):
    hotline, police = deployments
    await pushed(hotline, police, ticket_12345())
    for one in (hotline, police):
        status, body = await get(session, one, token=AGENT_TOKEN, url=url)
        assert (status, body["error"]["code"]) == (403, "forbidden")
        status, body = await get(session, one, token="no-such-token", url=url)
        assert status == 401


@pytest.mark.parametrize("url", [CASES_URL, EXPORT_URL])
async def test_with_the_channel_off_the_cases_are_exchange_off(private_redis, session, url):
    tickets = TicketStore(private_redis)
    bus = EventBus()
    push = PushService(Settings(ami_secret="x"), tickets, Outbox(private_redis, bus, ""), private_redis, bus)
    off = ExchangeService(private_redis, bus, tickets, push, None, ExchangeConfig(), off_reason="no exchange_peer_url")
    tokens = TokenBook([(SUPERVISOR_TOKEN, Principal("supervisor"))])

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"healthy": True})

    app = build_app(Settings(ami_secret="x"), tokens, bus, {TICKETS: tickets, PUSH: push, EXCHANGE: off}, health,
                    [TicketsPlugin, ExchangePlugin])
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with session.get(f"http://127.0.0.1:{server.port}{url}",
                               headers={"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}) as resp:
            body = await resp.json()
        assert (resp.status, body["error"]["code"]) == (503, "exchange_off")
        assert "no exchange_peer_url" in body["error"]["message"]
    finally:
        await server.close()
