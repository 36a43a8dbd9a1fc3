"""The tickets plugin's JSON answers are its documented ``Reply`` models: a ticket's story,
the ticket after a PATCH, a push queued, a push received (new and again), the push stats
and a classification. Real handlers on a real aiohttp server, over the real ticket store,
timeline and push service on a redis-server of the test's own (``private_redis``)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import fields
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from hotline_link.core.bus import EventBus
from hotline_link.core.settings import Settings, push_secret_key
from hotline_link.web.auth import Principal, TokenBook
from tests.helpers import web_app_of
from tests.unit.served_replies import served
from tickets.outbox import Outbox
from tickets.push import PushService
from tickets.recommend import Recommendation
from tickets.redis_keys import ticket_calls_key
from tickets.schema import (
    Classification,
    PushQueued,
    PushReceived,
    PushStats,
    TicketStory,
    TicketView,
)
from tickets.signing import sign
from tickets.store import Ticket, TicketStore
from tickets.timeline import TicketTimeline, call_key

TOKENS = {"agent": ("agent-1001-token-0123456789", Principal("agent", "1001")),
          "supervisor": ("supervisor-token-0123456789", Principal("supervisor"))}
SECRET = "a-push-secret-for-these-tests-0123"
TICKET = Ticket(id="12345-20261206-000001", site="12345", call_id="c1", category="噪音", summary="夜间施工",
                created_at=1795530292.5, caller="13812341234", division_code="320681")
ADVICE = Recommendation(platform="12345", category="城乡建设", sub_category="噪音", matter="夜间施工噪音",
                        entry_id="QD-12345-001", responsible_unit="住建局", confidence=0.82, emergency=False,
                        reasons=("施工", "夜间"))


@pytest.fixture
async def stack(private_redis: Redis) -> AsyncIterator[SimpleNamespace]:  # tests/unit/conftest.py
    redis, bus = private_redis, EventBus()
    settings = Settings(ami_secret="x", push_secrets={push_secret_key("12345", "110"): SECRET})
    tickets = TicketStore(redis)
    outbox = Outbox(redis, bus, "", secrets=settings.push_secrets)  # never started: jobs stay queued

    async def recommender():  # type: ignore[no-untyped-def]
        return SimpleNamespace(recommend=lambda text: ADVICE)

    server = SimpleNamespace(
        tokens=TokenBook(TOKENS.values()), settings=settings, bus=bus, tickets=tickets,
        timeline=TicketTimeline(redis, tickets, bus, settings.platform_ids),
        push=PushService(settings, tickets, outbox, redis, bus), recommender=SimpleNamespace(get=recommender))
    client = TestClient(TestServer(web_app_of(server)))
    await client.start_server()
    await tickets.save(TICKET)
    yield SimpleNamespace(client=client, redis=redis, tickets=tickets)
    await client.close()


def _auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role][0]}"}


async def _step(redis: Redis, ticket_id: str, call_id: str, event: str, at: float, **data: str) -> None:
    """A step of a call's story, as the timeline stores it."""
    await redis.xadd(call_key(call_id), {"event": event, "at": repr(at),
                                         "data": json.dumps({"call_id": call_id, **data})})
    await redis.sadd(ticket_calls_key(ticket_id), call_id)


def test_a_ticket_view_shows_every_field_of_a_ticket():
    assert list(TicketView.model_fields) == [f.name for f in fields(Ticket)]
    assert TicketView.of(TICKET).caller == "138****1234"


async def test_a_tickets_story_is_its_documented_model(stack):
    await _step(stack.redis, TICKET.id, "c1", "call.started", 1.5, site="12345", caller="138****1234")
    await _step(stack.redis, TICKET.id, "c1", "call.answered", 2.5, site="12345", answered_by="1001")
    resp = await stack.client.get(f"/api/tickets/{TICKET.id}/timeline", headers=_auth("agent"))
    story = await served(resp, TicketStory, "/api/tickets/{ticket_id}/timeline", 200)
    assert story["ticket"] == TicketView.of(TICKET).model_dump(mode="json")
    assert story["ticket"]["caller"] == "138****1234" and story["related_tickets"] == []
    assert story["first_answered"] == {"site": "12345", "agent": "1001", "at": 2.5, "call_id": "c1"}
    assert [(e["event"], e["at"], e["ticket_id"]) for e in story["events"]] == [
        ("call.started", 1.5, TICKET.id), ("call.answered", 2.5, TICKET.id)]
    assert story["events"][1]["data"] == {"call_id": "c1", "site": "12345", "answered_by": "1001"}


async def test_a_story_nobody_answered_yet_still_has_first_answered_as_null(stack):
    await _step(stack.redis, TICKET.id, "c1", "call.started", 1.5, site="12345")
    resp = await stack.client.get(f"/api/tickets/{TICKET.id}/timeline", headers=_auth("supervisor"))
    story = await served(resp, TicketStory, "/api/tickets/{ticket_id}/timeline", 200)
    assert "first_answered" in story and story["first_answered"] is None


async def test_the_patched_ticket_is_a_ticket_view(stack):
    resp = await stack.client.patch(f"/api/tickets/{TICKET.id}", headers=_auth("agent"),
                                    json={"summary": "夜间施工，已停工", "emergency": True})
    ticket = await served(resp, TicketView, "/api/tickets/{ticket_id}", 200)
    assert ticket["summary"] == "夜间施工，已停工" and ticket["emergency"] is True
    assert ticket["caller"] == "138****1234" and ticket["created_at"] == TICKET.created_at


async def test_a_push_queued_received_twice_and_counted_are_their_models(stack):
    resp = await stack.client.post(f"/api/tickets/{TICKET.id}/push", json={"target": "110"}, headers=_auth("agent"))
    queued = await served(resp, PushQueued, "/api/tickets/{ticket_id}/push", 202)
    assert queued["state"] == "queued" and queued["bounced"] is False and queued["emergency"] is False

    raw = json.dumps({"push_id": queued["push_id"], "from_platform": "12345", "to_platform": "110",
                      "source_ticket": TICKET.id, "category": "噪音", "summary": "夜间施工"}).encode()
    for status, duplicate in ((201, False), (200, True)):
        stamp = f"{time.time():.3f}"
        resp = await stack.client.post("/api/intake/push", data=raw, headers={
            "X-HL-Timestamp": stamp, "X-HL-Signature": sign(SECRET, stamp, raw)})
        received = await served(resp, PushReceived, "/api/intake/push", status)
        assert received["duplicate"] is duplicate
        assert (await stack.tickets.get(received["ticket_id"])).source_ticket == TICKET.id  # type: ignore[union-attr]

    resp = await stack.client.get("/api/push/stats", headers=_auth("supervisor"))
    stats = await served(resp, PushStats, "/api/push/stats", 200)
    assert list(stats) == ["12345", "110", "outbox_pending", "dead_letters"]  # the platforms by their ids
    assert stats["12345"]["pushed"] == 1 and stats["110"] == {"pushed": 0, "received": 1, "bounced_out": 0,
                                                              "bounced_in": 0, "duplicates": 1}
    assert (stats["outbox_pending"], stats["dead_letters"]) == (1, 0)


async def test_a_classification_is_its_model(stack):
    resp = await stack.client.post("/api/classify", json={"text": "工地夜间施工太吵"}, headers=_auth("agent"))
    advice = await served(resp, Classification, "/api/classify", 200)
    assert advice == {**Classification.model_validate(ADVICE.as_dict()).model_dump(), "reasons": ["施工", "夜间"]}
    assert advice["confidence"] == 0.82
