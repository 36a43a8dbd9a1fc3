"""The closed loop's JSON answers are its documented ``Reply`` models: the dispatch record
through a whole round (dispatch, the unit's steps, 回访), the dispatch overview with its
deadlines and red flag, the red flags, the units directory, an opt-out and the report's JSON
form. Real handlers on a real aiohttp server over a real ``LinkageService`` on a redis-server
of the test's own (``private_redis``), with a clock the test sets."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from hotline_link.core.bus import EventBus
from hotline_link.web.auth import Principal, TokenBook
from linkage.policy import load_config
from linkage.report import COUNTS, DEFINITIONS, MODES, PLATFORM_COUNTS, RATES, compute
from linkage.schema import (
    CallbackOptOut,
    DispatchOverview,
    DispatchRecord,
    HandoverFigures,
    LinkageFlags,
    LinkageReport,
    PlatformFigures,
    ReportDefinitions,
    UnitFigures,
    UnitsDirectory,
)
from linkage.service import LinkageService
from linkage.units import load_jurisdiction_units
from tests.helpers import web_app_of
from tests.unit.served_replies import served
from tickets.outbox import Outbox
from tickets.store import TicketStore

TOKENS = {"agent": ("agent-1001-token-0123456789", Principal("agent", "1001")),
          "supervisor": ("supervisor-token-0123456789", Principal("supervisor")),
          "unit": ("unit-token-0123456789abcdefgh", Principal("unit", unit="QD-WATER"))}
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the calendar's zone: the report's days
TUESDAY = dt.datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI).timestamp()  # working hours
DISPATCH = "/api/tickets/{ticket_id}/dispatch"
FEEDBACK = "/api/tickets/{ticket_id}/feedback"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def loop(private_redis: Redis) -> AsyncIterator[SimpleNamespace]:  # tests/unit/conftest.py
    redis, bus, clock = private_redis, EventBus(), Clock(TUESDAY)
    linkage = LinkageService(redis, bus, TicketStore(redis), Outbox(redis, bus, "push-secret"),
                             units=load_jurisdiction_units("qidong"), config=load_config(None),
                             centers=frozenset({"12345", "110"}), clock=clock)

    async def recommender():  # type: ignore[no-untyped-def]  # the catalog points at the water company
        entry = SimpleNamespace(id="QD-12345-066", responsible_unit="水务公司")
        return SimpleNamespace(entry_for=lambda text, platform: entry if platform == "12345" else None)

    linkage.dispatcher.recommender = recommender  # type: ignore[method-assign]  # no jieba in this test
    server = SimpleNamespace(tokens=TokenBook(TOKENS.values()), linkage=linkage, tickets=linkage.tickets)
    client = TestClient(TestServer(web_app_of(server)))
    await client.start_server()
    ticket = await linkage.tickets.open_for_call("12345", "call-replies-1", caller="13900004399")
    ticket = await linkage.tickets.update(ticket, category="停水", summary="小区停水")
    yield SimpleNamespace(client=client, linkage=linkage, clock=clock, ticket=ticket)
    await client.close()


def _local_day() -> str:
    return dt.datetime.now(SHANGHAI).date().isoformat()


def _auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role][0]}"}


async def test_a_whole_round_answers_dispatch_records(loop):
    client, ticket = loop.client, loop.ticket
    resp = await client.get(f"/api/tickets/{ticket.id}/dispatch", headers=_auth("agent"))
    overview = await served(resp, DispatchOverview, DISPATCH, 200)
    assert overview["dispatch"] is None and overview["flag"] is None and overview["repeats"] == 0
    assert overview["deadlines"] == {"accept": None, "arrive": None, "result": None}
    assert [u["id"] for u in overview["proposed_units"]] == ["QD-WATER"]
    assert overview["proposed_units"][0]["handles"] == ["QD-12345-066"]
    assert overview["proposed_units"][0]["by_system"] is False

    resp = await client.post(f"/api/tickets/{ticket.id}/dispatch", json={"unit": "QD-WATER"}, headers=_auth("agent"))
    record = await served(resp, DispatchRecord, DISPATCH, 201)
    assert (record["state"], record["mode"], record["level"], record["by"]) == ("dispatched", "phone", "1", "1001")
    assert float(record["dispatched_at"]) == TUESDAY
    assert record["accepted_at"] is None and record["callback"] is None  # steps to come: null, never missing
    resp = await client.post(f"/api/tickets/{ticket.id}/dispatch", json={"unit": "QD-WATER"}, headers=_auth("agent"))
    assert await served(resp, DispatchRecord, DISPATCH, 200) == record  # the same unit again: a no-op

    for body, state in (({"step": "accept"}, "accepted"), ({"step": "arrival", "situation": "已到场"}, "arrived"),
                        ({"step": "result", "resolved": True, "summary": "已修复"}, "resolved")):
        loop.clock.now += 60
        resp = await client.post(f"/api/tickets/{ticket.id}/feedback", json=body, headers=_auth("unit"))
        record = await served(resp, DispatchRecord, FEEDBACK, 200)
        assert record["state"] == state
        if state == "accepted":
            resp = await client.get(f"/api/tickets/{ticket.id}/dispatch", headers=_auth("supervisor"))
            overview = await served(resp, DispatchOverview, DISPATCH, 200)
            deadlines = overview["deadlines"]
            assert deadlines["accept"] is None and overview["dispatch"] == record
            assert [deadlines[stage]["stage"] for stage in ("arrive", "result")] == ["arrive", "result"]
            assert deadlines["arrive"]["due"] == float(record["arrive_due"]) and deadlines["arrive"]["strikes"] == 0
    assert (record["resolved"], record["summary"], record["situation"]) == ("True", "已修复", "已到场")

    resp = await client.post(f"/api/tickets/{ticket.id}/callback", json={"result": "满意"}, headers=_auth("agent"))
    record = await served(resp, DispatchRecord, "/api/tickets/{ticket_id}/callback", 200)
    assert record["callback"] == "满意" and record["state"] == "resolved"


async def test_red_flags_are_flag_models_by_ticket(loop):
    linkage, ticket = loop.linkage, loop.ticket
    await linkage.deadlines.flag(ticket.id, {"flag": "joint", "calls": 3, "at": TUESDAY})
    await linkage.deadlines.flag("12345-20261124-000099", {"flag": "escalated", "stage": "accept", "unit": "QD-WATER",
                                                           "at": TUESDAY + 1, "due": TUESDAY - 600,
                                                           "contact": "启东市指挥中心"})
    resp = await loop.client.get("/api/linkage/flags", headers=_auth("supervisor"))
    flags = await served(resp, LinkageFlags, "/api/linkage/flags", 200)
    assert flags[ticket.id] == {"flag": "joint", "at": TUESDAY, "unit": None, "stage": None, "due": None,
                                "contact": None, "calls": 3}
    assert flags["12345-20261124-000099"]["contact"] == "启东市指挥中心"
    resp = await loop.client.get(f"/api/tickets/{ticket.id}/dispatch", headers=_auth("agent"))
    assert (await served(resp, DispatchOverview, DISPATCH, 200))["flag"] == flags[ticket.id]


async def test_the_units_directory_and_an_opt_out_are_their_models(loop):
    resp = await loop.client.get("/api/units", headers=_auth("agent"))
    directory = await served(resp, UnitsDirectory, "/api/units", 200)
    assert directory["jurisdiction"] == "qidong" and len(directory["units"]) == len(loop.linkage.units.units)
    assert all("secret_ref" not in unit and "line" not in unit for unit in directory["units"])
    resp = await loop.client.put("/api/callback-optout/13900004399", headers=_auth("agent"))
    assert await served(resp, CallbackOptOut, "/api/callback-optout/{number}", 200) == {
        "number": "139****4399", "opted_out": True}


async def test_the_reports_json_form_is_its_model(loop):
    client, ticket = loop.client, loop.ticket
    first_day = _local_day()  # the event log is read by Redis's clock: the report of today
    loop.clock.now = time.time()
    await client.post(f"/api/tickets/{ticket.id}/dispatch", json={"unit": "QD-WATER"}, headers=_auth("agent"))
    resp = await client.get(f"/supervisor/report?from={first_day}&to={_local_day()}&format=json",
                            headers=_auth("supervisor"))
    report = await served(resp, LinkageReport, "/supervisor/report", 200)
    assert list(report) == ["from", "to", "handovers", "platforms", "units", "exchange", "callback_queue",
                            "definitions"]
    assert report["units"]["QD-WATER"]["name"] == "水务公司" and report["units"]["QD-WATER"]["dispatched"] == 1
    assert report["platforms"]["12345"]["dispatched"] == 1 and report["platforms"]["12345"]["resolution_rate"] is None


def test_the_report_models_name_every_figure_and_keep_the_text_as_it_was():
    assert list(HandoverFigures.model_json_schema(mode="serialization")["properties"]) == [*MODES, "回流"]
    assert list(PlatformFigures.model_fields) == [*PLATFORM_COUNTS, *RATES]
    assert list(UnitFigures.model_fields) == ["name", *COUNTS, *RATES]
    assert list(ReportDefinitions.model_fields) == list(DEFINITIONS)

    def ev(at: float, name: str, **data: object) -> dict[str, object]:
        return {"event": name, "at": at, "data": data}

    figures = compute([ev(1001.0, "linkage.handover", source="12345", target="110", mode="一键转接"),
                       ev(1002.0, "linkage.handover", source="110", target="12345", mode="系统推送", bounced=True),
                       ev(1003.0, "linkage.dispatched", ticket_id="12345-1", unit="U1", site="12345", accept_due=2000),
                       ev(1004.0, "linkage.accepted", ticket_id="12345-1", unit="U1", site="12345", arrive_due=1100),
                       ev(1005.0, "linkage.arrived", ticket_id="12345-1", unit="U1", site="12345", on_time=True)],
                      1000.0, 3000.0, {"U1": "燃气公司"})
    served_text = json.dumps(LinkageReport.model_validate(figures).model_dump(mode="json"), ensure_ascii=False,
                             indent=1)
    assert served_text == json.dumps(figures, ensure_ascii=False, indent=1)  # key for key, in the same order


async def test_joint_handling_over_http(loop):
    client, ticket = loop.client, loop.ticket
    url = f"/api/tickets/{ticket.id}/dispatch"
    resp = await client.post(url, json={"unit": "QD-GAS", "role": "assisting"}, headers=_auth("agent"))
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "no_lead"
    resp = await client.post(url, json={"unit": "QD-WATER", "role": "helper"}, headers=_auth("agent"))
    assert resp.status == 400  # not lead or assisting
    resp = await client.post(url, json={"unit": "QD-WATER"}, headers=_auth("agent"))
    assert (await served(resp, DispatchRecord, DISPATCH, 201))["role"] == "lead"
    resp = await client.post(url, json={"unit": "QD-GAS", "role": "assisting"}, headers=_auth("agent"))
    part = await served(resp, DispatchRecord, DISPATCH, 201)
    assert (part["unit"], part["role"], part["state"]) == ("QD-GAS", "assisting", "dispatched")
    resp = await client.get(url, headers=_auth("agent"))
    overview = await served(resp, DispatchOverview, DISPATCH, 200)
    assert overview["dispatch"]["unit"] == "QD-WATER"  # the lead, where the single dispatch always was
    assert [a["dispatch"]["unit"] for a in overview["assisting"]] == ["QD-GAS"]
    accept = overview["assisting"][0]["deadlines"]["accept"]
    assert accept["unit"] == "QD-GAS" and accept["assisting"] is True
    feedback = f"/api/tickets/{ticket.id}/feedback"
    resp = await client.post(feedback, json={"step": "refuse"}, headers=_auth("unit"))
    assert resp.status == 400  # the reason is required
    resp = await client.post(feedback, json={"step": "refuse", "reason": "不属于本单位"}, headers=_auth("unit"))
    record = await served(resp, DispatchRecord, FEEDBACK, 200)
    assert (record["state"], record["refusal"]) == ("refused", "不属于本单位")
    resp = await client.post(feedback, json={"step": "progress", "note": "x"}, headers=_auth("unit"))
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "wrong_step"
