"""Paused seats and seats in wrap-up get no call, so a caller waits in the queue; ready
makes a seat take the waiting call. Real calls through the 12345 route hook."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hotline_link.app import App
from seat_pool.keys import SEAT_REGISTRY
from tests.helpers import hangup_everything, is_event
from tests.sandbox.callflows import Api, online_agent


@pytest.fixture
async def wrap_server(server_settings, log_lines):
    srv = App(replace(server_settings, wrap_up_s=60, ivr_sites=""))  # callers wait, no IVR
    await srv.start()
    await srv.ami.wait_connected(15)
    try:
        yield srv
        for agent in ("1011", "1012"):
            await srv[SEAT_REGISTRY].pause("12345", agent, "")
        await hangup_everything(srv)
    finally:
        await srv.stop()  # whatever failed above: a server left running holds the ports


async def routed_seat(server, events, peers, caller: str) -> str | None:
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

        # nobody free: the caller waits in the queue, and neither 1011 (wrap-up) nor 1012
        # (paused) rings; 1012 saying ready hands it the waiting call
        run = await peers.call(server.settings.site("12345"), "13900110002", "12345", hold_ms=500)
        started = await events.wait_for(is_event("call.started", site="12345", caller="13900110002"), 10)
        call_id = started.data["call_id"]
        joined = await events.wait_for(is_event("queue.joined", call_id=call_id), 10)
        assert joined.data["position"] == 1
        states = (await api.request("GET", "/api/seats", role="supervisor"))[1]["seats"]["12345"]
        assert (states["1011"], states["1012"]) == ("wrap_up", "paused")
        status, body = await api.request("POST", "/api/agents/1012/ready", "1012")
        assert (status, body["state"]) == (200, "idle")
        left = await events.wait_for(is_event("queue.left", call_id=call_id), 10)
        assert (left.data["outcome"], left.data["seat"]) == ("seat", "1012")
        routed = await events.wait_for(is_event("call.routed", call_id=call_id), 10)
        assert routed.data["seat"] == "1012"
        await events.wait_for(is_event("call.ended", call_id=call_id), 20)
        assert await run.finished(10) == 0
