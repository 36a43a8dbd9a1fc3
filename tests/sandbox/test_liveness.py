"""Phones that vanish (SIGKILL: no BYE, no unregister, no more media) do not hold seats:
a dead softphone's seat is offline within ``seat_liveness_s`` and gets no caller; an
answered call whose caller vanished ends as ``media_timeout`` within ``media_timeout_s``
and frees the seat; a softphone that died while the server could not hear Asterisk is
offline after the reconnect's snapshot. Each time the next caller reaches a live seat."""

from __future__ import annotations

import asyncio
import time

from seat_pool.keys import SEAT_REGISTRY
from seat_pool.state import SeatState
from tests.helpers import is_event
from tests.sandbox.callflows import online_agent

# how late past its bound a dead phone may be seen: the AMI event's way to the server
SLACK_S = 5.0


async def _next_caller_reaches(server, events, peers, caller: str, agent: str) -> None:
    run = await peers.call(server.settings.site("12345"), caller, "12345", hold_ms=800)
    started = await events.wait_for(is_event("call.started", site="12345", caller=caller), 10)
    answered = await events.wait_for(is_event("call.answered", call_id=started.data["call_id"]), 15)
    assert answered.data["answered_by"] == f"PJSIP/{agent}"
    assert await run.finished(15) == 0, run.output()


async def test_a_killed_softphone_is_offline_within_the_bound_and_gets_no_caller(cc_server, softphones, peers):
    server = cc_server
    bound = server.settings.seat_liveness_s
    dead = await online_agent(server, softphones, peers, "12345", "1004")  # idle longest: first choice
    await online_agent(server, softphones, peers, "12345", "1016")
    with server.bus.subscribe() as events:
        dead.process.kill()  # SIGKILL
        killed = time.monotonic()
        await events.wait_for(is_event("seat.changed", site="12345", seat="1004", new="offline"), bound + SLACK_S)
        assert time.monotonic() - killed <= bound + SLACK_S
        await _next_caller_reaches(server, events, peers, f"139{time.time_ns() % 10**8:08d}", "1016")


async def test_a_caller_vanishing_mid_call_ends_as_media_timeout_and_frees_the_seat(cc_server, softphones, peers):
    server = cc_server
    bound = server.settings.media_timeout_s
    site = server.settings.site("12345")
    agent = await online_agent(server, softphones, peers, "12345", "1005", calls=2)
    ghost_number = f"138{time.time_ns() % 10**8:08d}"
    with server.bus.subscribe() as events:
        ghost = await peers.call(site, ghost_number, "12345", hold_ms=10 * bound * 1000, timeout_s=20 * bound)
        started = await events.wait_for(is_event("call.started", site="12345", caller=ghost_number), 10)
        call_id = started.data["call_id"]
        await events.wait_for(is_event("call.answered", call_id=call_id), 10)
        await asyncio.sleep(2)  # the phone talked a little, media flowing
        ghost.process.kill()  # SIGKILL: no BYE, no more RTP
        killed = time.monotonic()
        ended = await events.wait_for(is_event("call.ended", call_id=call_id), bound + SLACK_S)
        assert ended.data["reason"] == "media_timeout"
        assert time.monotonic() - killed <= bound + SLACK_S
        await server[SEAT_REGISTRY].wait_for_state("12345", "1005", SeatState.IDLE, SLACK_S)
        await _next_caller_reaches(server, events, peers, f"139{time.time_ns() % 10**8:08d}", "1005")
    assert await agent.finished(15) == 0, agent.output()


async def test_a_softphone_dead_while_the_server_was_deaf_is_offline_after_the_reconnect(
        proxied_server, softphones, peers):
    server, proxy = proxied_server
    bound = server.settings.seat_liveness_s
    dead = await online_agent(server, softphones, peers, "12345", "1006")
    await online_agent(server, softphones, peers, "12345", "1017")
    await proxy.cut()
    dead.process.kill()
    await asyncio.sleep(bound + 1)  # Asterisk has found the contact unreachable; the server heard nothing
    assert (await server[SEAT_REGISTRY].states("12345"))["1006"] is SeatState.IDLE  # stale, as heard last
    with server.bus.subscribe() as events:
        await proxy.restore()
        await events.wait_for(is_event("seat.changed", site="12345", seat="1006", new="offline"), 15)
        await _next_caller_reaches(server, events, peers, f"139{time.time_ns() % 10**8:08d}", "1017")
