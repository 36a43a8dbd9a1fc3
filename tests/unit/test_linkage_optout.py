"""Opting a caller out of the satisfaction callback (回访) over HTTP: the routes on a real
aiohttp server and a real ``LinkageService`` over a private redis-server (``private_redis``:
one per test, nothing shared with the sandbox); bad numbers are 400 JSON errors,
roles are enforced, the number never appears unmasked in a log line, and an opted-out
caller's ticket gets no callback call."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from hotline_link.core.bus import EventBus
from hotline_link.web.auth import Principal, TokenBook
from linkage.errors import BadNumber
from linkage.optout import migrate_optouts, optout_key
from linkage.policy import load_config
from linkage.resources import optout_number
from linkage.service import LinkageService
from linkage.units import load_jurisdiction_units
from tests.helpers import is_event, web_app_of
from tickets.outbox import Outbox
from tickets.store import TicketStore

TOKENS = {"agent": ("agent-1001-token-0123456789", Principal("agent", "1001")),
          "supervisor": ("supervisor-token-0123456789", Principal("supervisor")),
          "admin": ("admin-token-0123456789abcdef", Principal("admin")),
          "peer": ("peer-token-0123456789abcdefg", Principal("peer")),
          "unit": ("unit-token-0123456789abcdefgh", Principal("unit", unit="QD-GAS"))}
NUMBER = "13900004399"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SATURDAY_NIGHT = dt.datetime(2026, 11, 28, 22, 0, tzinfo=SHANGHAI).timestamp()
MONDAY_MORNING = dt.datetime(2026, 11, 30, 8, 30, tzinfo=SHANGHAI).timestamp()


class Clock:
    """The real time until a test sets ``at``."""

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self) -> float:
        return time.time() if self.at is None else self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def linkage(private_redis: Redis, clock: Clock) -> LinkageService:  # tests/unit/conftest.py
    redis, bus = private_redis, EventBus()
    service = LinkageService(redis, bus, TicketStore(redis), Outbox(redis, bus, "push-secret"),
                             units=load_jurisdiction_units("qidong"), config=load_config(None),
                             centers=frozenset({"12345", "110"}), clock=clock)
    return service


@pytest.fixture
async def client(linkage: LinkageService) -> AsyncIterator[TestClient]:
    server = SimpleNamespace(tokens=TokenBook(TOKENS.values()), linkage=linkage)
    test_client = TestClient(TestServer(web_app_of(server)))  # type: ignore[arg-type]
    await test_client.start_server()
    yield test_client
    await test_client.close()


def _auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role][0]}"}


async def _call(client: TestClient, method: str, number: str, role: str = "agent") -> tuple[int, dict]:
    resp = await client.request(method, f"/api/callback-optout/{quote(number, safe='')}", headers=_auth(role))
    return resp.status, await resp.json()


@pytest.mark.parametrize("text, digits", [("13900004399", "13900004399"), ("+8613900004399", "13900004399"),
                                          ("008613900004399", "13900004399"), ("110", "110"),
                                          ("02588881234", "02588881234"), ("+862588881234", "02588881234"),
                                          ("013900004399", "13900004399"), ("1" * 20, "1" * 20)])
def test_optout_number_takes_caller_numbers(text, digits):
    assert optout_number(text).identity == digits


@pytest.mark.parametrize("text", ["", "12", "+12", "1" * 21, "139-0000-4399", "139 0000 4399", "anonymous",
                                  "１３９００００４３９９", "13900004399\n", "++139", "abc", "١٢٣٤٥"])
def test_optout_number_refuses_anything_else(text):
    with pytest.raises(BadNumber):
        optout_number(text)


async def test_opt_out_and_back_in_round_trip(client, linkage, log_lines):
    assert await _call(client, "GET", NUMBER) == (200, {"number": "139****4399", "opted_out": False})
    assert await _call(client, "PUT", NUMBER) == (200, {"number": "139****4399", "opted_out": True})
    assert await linkage.callbacks.opted_out(NUMBER)
    # the same caller, however the number is written, is opted out
    assert await _call(client, "GET", "+86" + NUMBER, "supervisor") == (200, {"number": "139****4399",
                                                                                "opted_out": True})
    assert await _call(client, "PUT", NUMBER, "admin") == (200, {"number": "139****4399", "opted_out": True})
    assert await _call(client, "DELETE", NUMBER, "supervisor") == (200, {"number": "139****4399",
                                                                          "opted_out": False})
    assert not await linkage.callbacks.opted_out(NUMBER)
    assert await _call(client, "DELETE", NUMBER) == (200, {"number": "139****4399", "opted_out": False})
    changes = log_lines.events("linkage.callback_optout")
    assert [(line["opted_out"], line["by"]) for line in changes] == [(True, "1001"), (True, "admin"),
                                                                    (False, "supervisor"), (False, "1001")]
    assert all(line["number"] == "139****4399" for line in changes)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("number", ["12", "1" * 21, "139-0000-4399", "abc", "anonymous", "%E4%B8%80", " 139"])
async def test_a_bad_number_is_a_400_json_error_and_changes_nothing(client, linkage, method, number):
    resp = await client.request(method, f"/api/callback-optout/{number}", headers=_auth("agent"))
    assert resp.status == 400, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == "bad_number" and "3 to 20 digits" in error["message"]
    assert await linkage.redis.exists(f"{linkage.prefix}callback-optout") == 0


@pytest.mark.parametrize("role", ["peer", "unit"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_peer_and_unit_tokens_are_refused(client, linkage, role, method):
    status, body = await _call(client, method, NUMBER, role)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert not await linkage.callbacks.opted_out(NUMBER)


async def test_the_number_is_masked_in_the_log_of_a_refused_request(client, log_lines):
    resp = await client.request("PUT", f"/api/callback-optout/{NUMBER}x", headers=_auth("agent"))
    assert resp.status == 400
    resp = await client.request("PUT", f"/api/callback-optout/{NUMBER}")  # no token
    assert resp.status == 401
    refused = log_lines.events("http.refused")
    assert [line["code"] for line in refused] == ["bad_number", "unauthorized"]
    assert all(NUMBER not in str(line) and "139****4399" in line["path"] for line in refused)


async def test_an_opted_out_callers_ticket_gets_no_callback_call_and_an_opted_in_one_does(client, linkage, clock):
    async def originate(site, action):  # type: ignore[no-untyped-def]
        raise AssertionError("no call may be placed in this test")

    # outside the calling hours, whatever the time of the run: the 回访 is scheduled for the
    # next ones (Monday 08:30), never placed at once as it would be in calling hours
    clock.at = SATURDAY_NIGHT
    linkage.attach_phone(originate)  # never started: an ask is only scheduled in Redis
    ticket = await linkage.tickets.open_for_call("12345", "optout-test-call", caller="+86" + NUMBER)
    assert (await _call(client, "PUT", NUMBER))[1]["opted_out"] is True
    with linkage.bus.subscribe() as events:
        await linkage.callbacks.ask_satisfaction(ticket.id)
        skipped = await events.wait_for(is_event("linkage.callback_skipped", ticket_id=ticket.id), 5)
    assert skipped.data["reason"] == "opted_out"
    assert await linkage.phone.get(ticket.id) is None  # type: ignore[union-attr]

    assert (await _call(client, "DELETE", NUMBER))[1]["opted_out"] is False
    await linkage.callbacks.ask_satisfaction(ticket.id)
    ask = await linkage.phone.get(ticket.id)  # type: ignore[union-attr]
    assert ask is not None and ask["kind"] == "callback" and NUMBER in ask["numbers"]
    assert ask["state"] == "waiting"  # scheduled for the next calling hours, not called yet
    assert await linkage.redis.zscore(linkage.phone.due_key, ask["slot"]) == MONDAY_MORNING  # type: ignore[union-attr]


async def test_opt_outs_kept_by_the_earlier_rule_are_re_keyed_by_identity(linkage):
    """Before issue 16 a fixed line written +86 25 8888 1234 was kept as 862588881234 and an
    out-of-area mobile 013900004399 as itself: the callback's lookup would miss them."""
    key = optout_key(linkage.prefix)
    assert key == f"{linkage.prefix}callback-optout"
    await linkage.redis.sadd(key, "862588881234", "013900004399", NUMBER, "110")
    assert await migrate_optouts(linkage.redis, linkage.prefix) == 2
    assert await linkage.redis.smembers(key) == {"02588881234", NUMBER, "110"}
    assert await linkage.callbacks.opted_out("+86 25 8888 1234")
    assert await linkage.callbacks.opted_out("0086" + NUMBER)
    assert await migrate_optouts(linkage.redis, linkage.prefix) == 0  # idempotent
