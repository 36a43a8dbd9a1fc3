"""``GET /api/agents/{agent}/screen`` served by the real app over a real redis-server: the
call book holds the agent's call, the timeline wrote the caller number's earlier calls and
tickets as it does for live calls, the closed loop's records say which are still open, and
the catalog recommends from the ticket. Only the agent's own token reaches it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from call_control.calls import Call, CallBook
from call_control.schema import AgentScreen
from hotline_link.core.bus import EventBus
from hotline_link.core.events import CallAnswered, CallEnded, CallStarted
from hotline_link.web.auth import Principal, TokenBook
from linkage.records import DispatchRecords
from linkage.redis_keys import LinkageKeys
from tests.helpers import web_app_of
from tests.unit.served_replies import served
from tickets.recommend import RecommenderSource
from tickets.store import TicketStore
from tickets.timeline import TicketTimeline

CALLER = "13812345678"
TOKENS = {"1001": "agent-1001-token-0123456789", "1002": "agent-1002-token-0123456789"}
PATH = "/api/agents/{agent}/screen"


def _headers(agent: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[agent]}"}


def _earlier_call(bus: EventBus, call_id: str, answered_by: str | None) -> None:
    """What the call book yields for a call of the number that is over."""
    bus.emit(CallStarted(call_id, "12345", CALLER, "12345", "PJSIP/trunk-01", resynced=False))
    if answered_by:
        bus.emit(CallAnswered(call_id, "12345", CALLER, answered_by, wait_s=2.0))
    bus.emit(CallEnded(call_id, "12345", CALLER, answered_by, "Normal Clearing", "hangup", 40.0))


@pytest.fixture
async def desk(private_redis: Redis) -> AsyncIterator[SimpleNamespace]:
    started = time.time()
    bus = EventBus()
    store = TicketStore(private_redis)
    timeline = TicketTimeline(private_redis, store, bus, frozenset({"12345", "110"}))
    records = DispatchRecords(private_redis, LinkageKeys())
    timeline.start()
    try:
        _earlier_call(bus, "hl12345-100.1", "PJSIP/1003")  # answered: it opened a ticket
        _earlier_call(bus, "hl12345-100.2", "PJSIP/1004")  # answered: its case is done
        _earlier_call(bus, "hl12345-100.3", None)  # the caller hung up while queued
        call_id = "hl12345-100.4"  # the call now ringing at 1001
        bus.emit(CallStarted(call_id, "12345", CALLER, "12345", "PJSIP/trunk-01", resynced=False))
        await timeline.flush()
    finally:
        await timeline.stop()
    first, done = await store.for_call("hl12345-100.1"), await store.for_call("hl12345-100.2")
    assert first is not None and done is not None
    await store.update(first, category="噪音", summary="楼上装修")
    await records.save(done.id, state="resolved", unit="QD-WATER")
    # the agent typed the caller's words on this call's ticket
    ticket = await store.open_for_call("12345", call_id, category="", summary="我家停水了，整栋楼都没水",
                                       caller=CALLER)
    book = CallBook()
    call = Call(call_id, "12345", CALLER, "12345", started,
                channels={call_id: "PJSIP/trunk-01-0001", "u2": "PJSIP/1001-0002"})
    book.calls[(call.site, call.call_id)] = call
    stand_in = SimpleNamespace(
        tokens=TokenBook([(token, Principal("agent", agent)) for agent, token in TOKENS.items()]),
        calls=SimpleNamespace(book=book), tickets=store, timeline=timeline, recommender=RecommenderSource(),
        conferences=SimpleNamespace(of_call=lambda call_id: None), linkage=SimpleNamespace(records=records))
    client = TestClient(TestServer(web_app_of(stand_in)))
    await client.start_server()
    try:
        yield SimpleNamespace(client=client, call=call, ticket=ticket, first=first, started=started)
    finally:
        await client.close()


async def test_the_agent_gets_the_screen_of_the_call_ringing_at_it(desk: SimpleNamespace):
    resp = await desk.client.get("/api/agents/1001/screen", headers=_headers("1001"))
    body = await served(resp, AgentScreen, PATH, 200)
    assert (body["call_id"], body["site"], body["caller"], body["state"]) == \
        (desk.call.call_id, "12345", "138****5678", "ringing")
    assert CALLER not in await resp.text()
    assert body["ticket"] == {
        "id": desk.ticket.id, "category": "", "summary": "我家停水了，整栋楼都没水", "division_code": None,
        "emergency": False, "severity": "normal", "restricted": False, "source_platform": None, "source_ticket": None,
        "source_category": None, "source_summary": None}
    recommendation = body["recommendation"]
    assert recommendation["platform"] == "12345" and recommendation["emergency"] is False
    assert recommendation["category"] and 0 < recommendation["confidence"] <= 1
    # the earlier case still open (its closed loop not started); the resolved one is not listed
    assert body["open_tickets"] == [{"id": desk.first.id, "category": "噪音", "summary": "楼上装修",
                                     "created_at": desk.first.created_at, "status": "not_dispatched"}]
    assert desk.started - 5 <= desk.first.created_at <= time.time()
    recent = body["recent_calls"]
    assert [(c["call_id"], c["answered_by"]) for c in recent] == [
        ("hl12345-100.3", None), ("hl12345-100.2", "PJSIP/1004"), ("hl12345-100.1", "PJSIP/1003")]
    assert all(desk.started - 5 <= c["started_at"] <= time.time() for c in recent)
    assert body["repeat_caller"] is True


async def test_another_agents_token_is_refused(desk: SimpleNamespace):
    resp = await desk.client.get("/api/agents/1001/screen", headers=_headers("1002"))
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "forbidden"


async def test_an_agent_on_no_call_gets_call_not_found(desk: SimpleNamespace):
    resp = await desk.client.get("/api/agents/1002/screen", headers=_headers("1002"))
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "call_not_found"


async def test_without_a_token_nothing_is_shown(desk: SimpleNamespace):
    resp = await desk.client.get("/api/agents/1001/screen")
    assert resp.status == 401
