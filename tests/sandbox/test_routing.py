"""Routing against the real sandbox: the queue, overflow to remote seats over the trunk,
110 calls never overflowed, and seat claims that stay atomic across router processes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import replace

import pytest

from hotline_link.app import App
from hotline_link.core.redis_client import redis_client
from seat_pool.store import SeatStore, claim_key, seat_key
from tests.helpers import hangup_everything, is_event
from tests.sandbox.callflows import Api, answered_call, online_agent

SURGE = dict(overflow_enter_wait_s=2.0, overflow_exit_wait_s=1.0, overflow_enter_hold_s=0.0,
             overflow_exit_hold_s=2.0, overflow_max_remote_share=1.0, overflow_tick_s=0.2,
             overflow_arrival_window_s=5.0,  # only this test's calls, not the ones before it
             ivr_sites="")  # queued callers wait for a seat here; the IVR has its own tests


@pytest.fixture
async def surge_server(server_settings, log_lines):
    srv = App(replace(server_settings, **SURGE))
    await srv.start()
    await srv.ami.wait_connected(15)
    yield srv
    await hangup_everything(srv)
    await srv.stop()


async def test_local_seats_full_next_call_rings_a_remote_seat(surge_server, softphones, peers):
    server = surge_server
    with server.bus.subscribe() as events:
        await online_agent(server, softphones, peers, "12345", "1003")
        remote = await online_agent(server, softphones, peers, "remote", "3001")
        site = server.settings.site("12345")
        first = await peers.call(site, "13700000001", "12345", hold_ms=6000)
        started = await events.wait_for(is_event("call.started", site="12345", caller="13700000001"), 10)
        await events.wait_for(is_event("call.answered", call_id=started.data["call_id"]), 10)

        second = await peers.call(site, "13700000002", "12345", hold_ms=1000)
        started = await events.wait_for(is_event("call.started", site="12345", caller="13700000002"), 10)
        call_id = started.data["call_id"]
        await events.wait_for(is_event("queue.joined", call_id=call_id), 10)
        changed = await events.wait_for(is_event("overflow.changed", site="12345", active=True), 10)
        assert changed.data["estimated_wait_s"] > SURGE["overflow_enter_wait_s"]
        left = await events.wait_for(is_event("queue.left", call_id=call_id), 10)
        assert (left.data["outcome"], left.data["seat"]) == ("remote", "3001")
        answered = await events.wait_for(is_event("call.answered", call_id=call_id), 10)
        assert answered.data["answered_by"].startswith("PJSIP/trunk-remote")
        assert await second.finished(15) == 0
        assert await remote.finished(15) == 0  # the remote softphone took and ended the call
        assert await first.finished(15) == 0
        # the surge is over: the center hands the remote seats back
        await events.wait_for(is_event("overflow.changed", site="12345", active=False), 15)


async def test_110_calls_wait_for_a_local_seat_never_remote(surge_server, softphones, peers):
    server = surge_server
    with server.bus.subscribe() as events:
        local = await online_agent(server, softphones, peers, "110", "2003", calls=2)
        await online_agent(server, softphones, peers, "remote", "3002")
        site = server.settings.site("110")
        first = await peers.call(site, "13700000011", "110", hold_ms=3000)
        await events.wait_for(is_event("call.answered", answered_by="PJSIP/2003"), 10)
        second = await peers.call(site, "13700000012", "110", hold_ms=500)
        started = await events.wait_for(is_event("call.started", site="110", caller="13700000012"), 10)
        call_id = started.data["call_id"]
        joined = await events.wait_for(is_event("queue.joined", call_id=call_id), 10)
        assert joined.data["emergency"] is True
        left = await events.wait_for(is_event("queue.left", call_id=call_id), 15)
        assert (left.data["outcome"], left.data["seat"]) == ("seat", "2003")  # waited for 2003
        assert left.data["waited_s"] > 1.0
        assert await first.finished(15) == 0 and await second.finished(15) == 0
        assert await local.finished(15) == 0


RACER = """
import asyncio, json, os, sys
from redis.asyncio import Redis
from seat_pool.store import SeatStore

async def main(url, site, seats, tag, attempts):
    # the password comes in the environment, never on a command line others can read
    redis = Redis.from_url(url, decode_responses=True, password=os.environ.get("HL_REDIS_PASSWORD") or None)
    store = SeatStore(redis, claim_ttl_s=60)
    won = []
    await redis.blpop(site + ":go", timeout=20)  # both start together
    for n in range(attempts):
        seat = await store.claim_idle(site, seats, f"{tag}-{n}")
        if seat is not None:
            won.append(seat)
    await redis.aclose()
    print(json.dumps(won))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4], int(sys.argv[5])))
"""


async def test_two_router_processes_never_claim_one_seat_twice(sandbox_settings):
    site, seats = "race-test", [f"9{n:03d}" for n in range(12)]
    redis = redis_client(sandbox_settings, decode_responses=True)
    try:
        store = SeatStore(redis, claim_ttl_s=60)
        for seat in seats:
            await redis.delete(claim_key(site, seat))
            await redis.hset(seat_key(site, seat), mapping={"state": "idle", "since": "1"})
        procs = [await asyncio.create_subprocess_exec(
            sys.executable, "-c", RACER, sandbox_settings.redis_url, site, ",".join(seats), tag, "30",
            stdout=asyncio.subprocess.PIPE, env={**os.environ, "HL_REDIS_PASSWORD": sandbox_settings.redis_password})
            for tag in ("router-a", "router-b")]
        await redis.rpush(site + ":go", "go", "go")
        results = [json.loads((await asyncio.wait_for(p.communicate(), 30))[0]) for p in procs]
        won = results[0] + results[1]
        assert sorted(won) == sorted(seats)  # every seat given out once, none twice
        holders = {seat: await redis.get(claim_key(site, seat)) for seat in seats}
        assert all(h and h.startswith("router-") for h in holders.values())
        assert await store.claim_idle(site, seats, "late") is None
    finally:
        for seat in seats:
            await redis.delete(claim_key(site, seat), seat_key(site, seat))
        await redis.delete(site + ":go")
        await redis.aclose()


async def test_case_handed_over_by_110_goes_to_the_police_desk(cc_server, softphones, peers):
    """1003 (general) has been idle longer than 1002 (general + police desk), yet the case
    that 110 hands over rings the police desk."""
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        general = await online_agent(server, softphones, peers, "12345", "1003")
        police_desk = await online_agent(server, softphones, peers, "12345", "1002")
        agent_110 = await online_agent(server, softphones, peers, "110", "2002")
        call = await answered_call(server, events, peers, agent_110, "110", "13822220000", 3000)
        status, body = await api.request("POST", f"/api/calls/{call.call_id}/transfer", "2002",
                                         json={"target": "12345", "summary": "治安线索"})
        assert status == 200, body
        routed = await events.wait_for(is_event("call.routed", site="12345", outcome="seat"), 10)
        assert routed.data["seat"] == "1002"
        assert await call.caller.finished(15) == 0
    assert f"INVITE ticket={body['ticket_id']}" in police_desk.messages()
    general.kill()


IVR_ON = dict(ivr_sites="12345", ivr_offer_wait_s=0.0, overflow_centers="")  # any wait: the IVR


async def test_queued_12345_caller_goes_to_the_ivr_and_keeps_their_place(server_settings, softphones,
                                                                          peers, log_lines):
    server = App(replace(server_settings, **IVR_ON))
    await server.start()
    try:
        await server.ami.wait_connected(15)
        with server.bus.subscribe() as events:
            agent = await online_agent(server, softphones, peers, "12345", "1004", calls=2)
            site = server.settings.site("12345")
            first = await peers.call(site, "13700000021", "12345", hold_ms=12000)
            await events.wait_for(is_event("call.answered", answered_by="PJSIP/1004"), 10)
            second = await peers.call_dtmf(site, "13700000022", "12345", [(1500, "0")], hold_ms=None)
            started = await events.wait_for(is_event("call.started", caller="13700000022"), 10)
            call_id = started.data["call_id"]
            left = await events.wait_for(is_event("queue.left", call_id=call_id), 10)
            assert left.data["outcome"] == "ivr"
            await events.wait_for(is_event("ivr.choice", call_id=call_id, choice="wait"), 15)
            # back from the IVR: queued again with its first arrival time, never offered the IVR twice
            served = await events.wait_for(is_event("queue.left", call_id=call_id, outcome="seat"), 15)
            assert served.data["seat"] == "1004"
            assert [e["position"] for e in log_lines.events("queue.joined")
                    if e["call_id"] == call_id] == [1, 1]  # queued, the IVR, queued again
            assert served.data["waited_s"] > left.data["waited_s"]  # counted from the first arrival
            await events.wait_for(is_event("call.answered", call_id=call_id), 10)
            await hangup_everything(server)
            assert await first.finished(15) == 0
            await second.finished(15)
            agent.kill()
    finally:
        await hangup_everything(server)
        await server.stop()


async def test_110_caller_never_goes_to_the_ivr(server_settings, softphones, peers, log_lines):
    server = App(replace(server_settings, **{**IVR_ON, "ivr_sites": "12345,110"}))
    await server.start()
    try:
        await server.ami.wait_connected(15)
        with server.bus.subscribe() as events:
            agent = await online_agent(server, softphones, peers, "110", "2004", calls=2)
            site = server.settings.site("110")
            first = await peers.call(site, "13700000031", "110", hold_ms=2500)
            await events.wait_for(is_event("call.answered", answered_by="PJSIP/2004"), 10)
            second = await peers.call(site, "13700000032", "110", hold_ms=500)
            started = await events.wait_for(is_event("call.started", caller="13700000032"), 10)
            left = await events.wait_for(is_event("queue.left", call_id=started.data["call_id"]), 15)
            assert (left.data["outcome"], left.data["seat"]) == ("seat", "2004")
            assert await first.finished(15) == 0 and await second.finished(15) == 0
            assert await agent.finished(15) == 0
    finally:
        await hangup_everything(server)
        await server.stop()
