"""Tags (专题/标签) on a ticket: set by PATCH like the other fields (at most 10, each 1-20
characters, no control characters; kept once each), stored in the ticket's hash as a JSON
list, on the timeline as a change. A real server over a real redis-server."""

from __future__ import annotations

from types import SimpleNamespace

from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from hotline_link.core.bus import EventBus
from hotline_link.core.settings import Settings
from hotline_link.web.auth import Principal, TokenBook
from tests.helpers import web_app_of
from tickets.redis_keys import ticket_key
from tickets.store import Ticket, TicketStore

TOKENS = [("agent-1001-token-0123456789", Principal("agent", "1001")),
          ("supervisor-token-0123456789", Principal("supervisor"))]


async def test_tags_are_set_checked_stored_and_traced(private_redis: Redis):
    store = TicketStore(private_redis)
    ticket = Ticket("12345-20261206-000001", "12345", "c1", "供水", created_at=1_800_000_000.0)
    await store.save(ticket)
    assert (await store.get(ticket.id)).tags == ()  # type: ignore[union-attr]
    bus, seen = EventBus(), []
    bus.listen(lambda e: seen.append((e.name, e.data)))
    client = TestClient(TestServer(web_app_of(SimpleNamespace(tokens=TokenBook(TOKENS), tickets=store, bus=bus,
                                                              settings=Settings(ami_secret="x")))))
    await client.start_server()
    path, auth = f"/api/tickets/{ticket.id}", {"Authorization": f"Bearer {TOKENS[0][0]}"}
    try:
        resp = await client.patch(path, json={"tags": ["冬季供暖", "停水", "冬季供暖"]}, headers=auth)
        assert resp.status == 200 and (await resp.json())["tags"] == ["冬季供暖", "停水"]
        assert seen[-1][1]["changes"] == {"tags": ["冬季供暖", "停水"]}
        assert await private_redis.hget(ticket_key(ticket.id), "tags") == '["冬季供暖", "停水"]'
        assert (await store.get(ticket.id)).tags == ("冬季供暖", "停水")  # type: ignore[union-attr]
        for bad in (["x"] * 11, [""], ["一" * 21], ["a\nb"], ["\x7f"], "停水", [3]):
            resp = await client.patch(path, json={"tags": bad}, headers=auth)
            assert resp.status == 400, bad
        resp = await client.patch(path, json={"tags": []}, headers=auth)
        assert (await resp.json())["tags"] == []
        await private_redis.hset(ticket_key(ticket.id), "tags", "not json")  # never a crash on a bad value
        assert (await store.get(ticket.id)).tags == ()  # type: ignore[union-attr]
    finally:
        await client.close()
