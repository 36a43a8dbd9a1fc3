"""Paused seats and seats in wrap-up get no call; ready makes a seat take calls again.
Real calls through the 12345 route hook."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hotline_link.server import Server
from tests.helpers import hangup_everything, is_event
from tests.sandbox.callflows import Api, online_agent


@pytest.fixture
async def wrap_server(server_settings, log_lines):
    srv = Server(replace(server_settings, wrap_up_s=60))
    await srv.start()
    await srv.ami.wait_connected(15)
    yield srv
    for agent in ("1011", "1012"):
        await srv.registry.pause("12345", agent, "")
    await hangup_everything(srv)
    await srv.stop()


async def routed_seat(server, events, peers, caller: str) -> str | None:  # type: ignore[no-untyped-def]
    run = await peers.call(server.settings.site("12345"), caller, "12345", hold_ms=500)
    started = await events.wait_for(is_event("call.started", site="12345", caller=caller), 10)
    routed = await events.wait_for(is_event("call.routed", call_id=started.data["call_id"]), 10)
    await events.wait_for(is_event("call.ended", call_id=started.data["call_id"]), 20)
    assert await run.finished(10) == 0
    return routed.data["seat"]


async def test_pause_wrap_up_and_ready(wrap_server, softphones, peers):
    server, api = wrap_server, Api(wrap_server)
    with server.bus.subscribe() as events:
        await online_agent(server, softphones, peers, "12345", "1011", calls=3)
        await online_agent(server, softphones, peers, "12345", "1012", calls=3)
        status, body = await api.request("POST", "/api/agents/1012/pause", "1012", json={"reason": "培训"})
        assert (status, body["state"]) == (200, "paused"), body
        status, _ = await api.request("POST", "/api/agents/1012/pause", "1011", json={"reason": "x"})
        assert status == 403  # not another agent's seat

        assert await routed_seat(server, events, peers, "13900110001") == "1011"  # 1012 is paused
        await events.wait_for(is_event("seat.changed", seat="1011", old="talking", new="idle"), 10)
        status, seats = await api.request("GET", "/api/seats", role="supervisor")
        assert seats["seats"]["12345"]["1011"] == "wrap_up" and seats["seats"]["12345"]["1012"] == "paused"

        assert await routed_seat(server, events, peers, "13900110002") is None  # nobody free
        status, body = await api.request("POST", "/api/agents/1012/ready", "1012")
        assert (status, body["state"]) == (200, "idle")
        assert await routed_seat(server, events, peers, "13900110003") == "1012"
