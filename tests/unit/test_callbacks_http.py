"""``GET /api/callbacks`` served by the real app over a real redis-server: agents see their
own platform's queue only, supervisors and admins every platform's, numbers masked, and a
bad query or token is a clear 4xx."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from call_control.callbacks.config import CallbacksConfig
from call_control.callbacks.schema import CallbackList
from call_control.callbacks.service import CallbackService
from hotline_link.core.bus import EventBus
from hotline_link.web.auth import Principal, TokenBook
from seat_pool.store import SeatStore
from seat_pool.waiting import WaitingQueue
from tests.helpers import web_app_of
from tests.unit.served_replies import served
from tickets.store import TicketStore

PATH = "/api/callbacks"
TOKENS = {"agent-1001": Principal("agent", "1001"), "agent-2001": Principal("agent", "2001"),
          "supervisor-x": Principal("supervisor", ""), "admin-x": Principal("admin", "")}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}-0123456789abcdef"}


@pytest.fixture
async def client(private_redis: Redis) -> AsyncIterator[TestClient]:
    bus = EventBus()
    tickets = TicketStore(private_redis)

    async def never(_: str) -> bool:
        return False

    async def no_ami(site: str, action: object) -> None:
        raise AssertionError("nothing is originated here")

    service = CallbackService(private_redis, bus, tickets, SeatStore(private_redis, 20), WaitingQueue(private_redis, 5),
                              no_ami, config=CallbacksConfig(), agents={"12345": ("1001",), "110": ("2001",)},
                              opted_out=never, clock=time.time)
    ticket = await tickets.open_for_call("12345", "c-12345", caller="13812345678")
    await service.request("12345", "13812345678", source="ivr", ticket_id=ticket.id, call_id="c-12345")
    await service.request("110", "13900001111", source="missed", call_id="c-110", missed_at=time.time(),
                          deadline=time.time() + 1800)
    stand_in = SimpleNamespace(
        tokens=TokenBook([(f"{t}-0123456789abcdef", p) for t, p in TOKENS.items()]), tickets=tickets,
        callbacks=service, bus=bus)
    test_client = TestClient(TestServer(web_app_of(stand_in)))
    await test_client.start_server()
    try:
        yield test_client
    finally:
        await test_client.close()


async def test_an_agent_sees_their_own_platforms_queue(client: TestClient):
    resp = await client.get(PATH, headers=_auth("agent-1001"))
    body = await served(resp, CallbackList, PATH, 200)
    [site] = body["sites"]
    assert (site["site"], site["pending"]) == ("12345", 1)
    [request] = site["requests"]
    assert (request["number"], request["source"], request["stage"], request["attempts"], request["max_attempts"]) \
        == ("138****5678", "ivr", "pending", 0, 3)
    assert request["ticket_id"].startswith("12345-") and request["call_id"] == "c-12345"
    assert request["deadline"] is None and request["agent"] is None
    assert "13812345678" not in await resp.text()
    same = await client.get(PATH, params={"site": "12345"}, headers=_auth("agent-1001"))
    assert (await same.json()) == body


async def test_an_agent_is_refused_another_platforms_queue(client: TestClient):
    resp = await client.get(PATH, params={"site": "110"}, headers=_auth("agent-1001"))
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden"
    own = await served(await client.get(PATH, headers=_auth("agent-2001")), CallbackList, PATH, 200)
    [site] = own["sites"]
    [request] = site["requests"]
    assert (site["site"], request["source"], request["ticket_id"], request["number"]) == \
        ("110", "missed", None, "139****1111")
    assert request["deadline"] is not None


@pytest.mark.parametrize("token", ["supervisor-x", "admin-x"])
async def test_supervisors_and_admins_see_every_platform(client: TestClient, token: str):
    body = await served(await client.get(PATH, headers=_auth(token)), CallbackList, PATH, 200)
    assert [s["site"] for s in body["sites"]] == ["110", "12345"]
    one = await served(await client.get(PATH, params={"site": "110"}, headers=_auth(token)), CallbackList, PATH, 200)
    assert [s["site"] for s in one["sites"]] == ["110"]


@pytest.mark.parametrize(("params", "status"), [
    ({"site": "../etc"}, 400), ({"site": "x" * 40}, 400), ({"limit": "3"}, 400), ({"site": "999"}, 403)])
async def test_bad_queries_are_4xx(client: TestClient, params: dict[str, str], status: int):
    resp = await client.get(PATH, params=params, headers=_auth("supervisor-x"))
    assert resp.status == status, await resp.text()
    assert set((await resp.json())["error"]) >= {"code", "message"}


async def test_no_token_or_a_wrong_one_is_refused(client: TestClient):
    assert (await client.get(PATH)).status == 401
    assert (await client.get(PATH, headers={"Authorization": "Bearer nope"})).status == 401
    repeated = await client.get(f"{PATH}?site=110&site=12345", headers=_auth("supervisor-x"))
    assert repeated.status == 400
