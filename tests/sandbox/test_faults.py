"""Faults survived, against the real sandbox: Redis restarted while a call goes through, the
hotline-link server stopped and started mid-call with a new call going through the
dialplan's fallback meanwhile, and one Asterisk site restarted.

In every case the callers' calls complete (SIPp exits 0: answered, held, hung up by the
caller), the server's state comes back, and no call event is lost from the timeline. Each
test leaves the sandbox up and healthy, whatever happened (restored in ``finally``).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from call_control.keys import CALLS
from devtools.sandbox import Sandbox
from devtools.sip.contacts import wait_reachable
from hotline_link.app import App
from hotline_link.asterisk.ami.manager import AmiManager
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.state import SeatState
from tests.helpers import is_event
from tickets.keys import TICKETS, TIMELINE

pytestmark = pytest.mark.sandbox


async def _started_server(settings) -> App:
    server = App(settings)
    await server.start(http=False)
    await server.ami.wait_connected(15)
    return server


@pytest.fixture
def fault_settings(server_settings):
    return replace(server_settings, ami_reconnect_min_s=0.2, ami_reconnect_max_s=0.5)


@pytest.fixture
def sandbox(fault_settings):
    box = Sandbox(fault_settings)
    yield box
    # whatever the test did: Redis and every site running again
    status = box.up(build=False)
    assert status.running, status


async def test_redis_restarted_while_a_call_goes_through(fault_settings, sandbox, softphones, peers,
                                                         log_lines):
    site = fault_settings.site("12345")
    server = await _started_server(fault_settings)
    try:
        with server.bus.subscribe() as events:
            port = await softphones.register(site, "1004")
            await server[SEAT_REGISTRY].wait_for_state("12345", "1004", SeatState.IDLE, 10)
            agent = await peers.answer(site, "1004", port, calls=2)
            await wait_reachable(server.ami.send, "12345", "1004")

            await asyncio.to_thread(sandbox.redis.stop)
            # Redis is away for the whole call: the route hook cannot claim a seat, so the
            # dialplan's fallback rings every seat; the call's events wait in the writer
            caller = await peers.call(site, "13900002001", "12345", hold_ms=2000)
            started = await events.wait_for(is_event("call.started", site="12345", caller="13900002001"), 15)
            call_id = started.data["call_id"]
            await events.wait_for(is_event("call.answered", call_id=call_id), 15)
            assert await caller.finished(20) == 0, caller.output()
            await events.wait_for(is_event("call.ended", call_id=call_id), 15)
            assert not [e for e in events.seen if e.name == "call.routed" and e.data.get("call_id") == call_id]
            await asyncio.to_thread(sandbox.redis.start)

            # every event of the call reaches the timeline once Redis is back
            await server[TIMELINE].flush(20)
            recorded = [e["event"] for e in await server[TIMELINE].for_call(call_id)]
            assert {"call.started", "call.answered", "call.ended"} <= set(recorded), recorded
            ticket = await server[TICKETS].for_call(call_id)
            assert ticket is not None and ticket.site == "12345"

            # and the next call is routed by the hook again, to the seat, which is idle again
            await server[SEAT_REGISTRY].wait_for_state("12345", "1004", SeatState.IDLE, 15)
            second = await peers.call(site, "13900002002", "12345", hold_ms=500)
            started = await events.wait_for(is_event("call.started", site="12345", caller="13900002002"), 15)
            routed = await events.wait_for(is_event("call.routed", call_id=started.data["call_id"]), 15)
            assert routed.data["seat"] == "1004"
            assert await second.finished(20) == 0, second.output()
        assert await agent.finished(15) == 0, agent.output()
        assert bool(await server.redis.ping())
    finally:
        await server.stop()


async def test_server_stopped_and_started_mid_call(fault_settings, sandbox, softphones, peers, log_lines):
    """The call in progress keeps going while no server runs; a new call meanwhile goes
    through the dialplan's fallback (rings every seat) and is answered; the restarted
    server finds both calls in Asterisk (caller, answering seat), keeps the seats'
    registrations, and sees both calls end."""
    site = fault_settings.site("12345")
    first = await _started_server(fault_settings)
    second: App | None = None
    # the test's own AMI connection: it sees what Asterisk does while no server runs
    watcher = AmiManager(fault_settings)
    answers: dict[str, asyncio.Future[str]] = {"13900003002": asyncio.get_running_loop().create_future()}

    async def on_dial_end(event) -> None:
        waiting = answers.get(event.get("CallerIDNum"))
        if waiting is not None and event.get("DialStatus") == "ANSWER" and not waiting.done():
            waiting.set_result(event.get("DestChannel"))

    watcher.subscribe("DialEnd", on_dial_end)
    watcher.start()
    first_stopped = False
    try:
        await watcher.wait_connected(15)
        agents = []
        for agent in ("1005", "1006"):
            port = await softphones.register(site, agent)
            await first[SEAT_REGISTRY].wait_for_state("12345", agent, SeatState.IDLE, 10)
            agents.append(await peers.answer(site, agent, port))
            await wait_reachable(first.ami.send, "12345", agent)
        with first.bus.subscribe() as events:
            caller_a = await peers.call(site, "13900003001", "12345", hold_ms=6000)
            started = await events.wait_for(is_event("call.started", site="12345", caller="13900003001"), 15)
            call_a = started.data["call_id"]
            routed = await events.wait_for(is_event("call.routed", call_id=call_a), 10)
            await events.wait_for(is_event("call.answered", call_id=call_a), 10)
        busy_seat = routed.data["seat"]
        free_seat = ({"1005", "1006"} - {busy_seat}).pop()
        await first.stop()
        first_stopped = True

        # no server at all: the route hook's port is closed, the dialplan rings every seat
        caller_b = await peers.call(site, "13900003002", "12345", hold_ms=4000)
        answered_by = await asyncio.wait_for(answers["13900003002"], 15)
        assert answered_by.startswith(f"PJSIP/{free_seat}-")

        second = App(fault_settings)
        with second.bus.subscribe() as events:
            await second.start(http=False)
            await second.ami.wait_connected(15)
            # both calls are known again, each with its caller and the seat that answered it
            book = second[CALLS].book
            call_b = next(c for c in book.active("12345") if c.caller == "13900003002")
            assert call_b.answered_by == f"PJSIP/{free_seat}"
            assert book.find(call_a).caller == "13900003001"
            assert book.find(call_a).answered_by == f"PJSIP/{busy_seat}"
            # the registered seats stay registered (the snapshot read them from Asterisk)
            states = await second[SEAT_REGISTRY].states("12345")
            assert states["1005"] is not SeatState.OFFLINE and states["1006"] is not SeatState.OFFLINE, states
            ended_a = await events.wait_for(is_event("call.ended", call_id=call_a), 15)
            assert ended_a.data["reason"] == "hangup"
            await events.wait_for(is_event("call.ended", call_id=call_b.call_id), 15)
            await second[SEAT_REGISTRY].wait_for_state("12345", free_seat, SeatState.IDLE, 10)
        assert await caller_a.finished(15) == 0, caller_a.output()
        assert await caller_b.finished(15) == 0, caller_b.output()
        for run in agents:
            assert await run.finished(15) == 0, run.output()
        # the answered-while-away call got its ticket; both calls' stories are complete
        await second[TIMELINE].flush(10)
        assert await second[TICKETS].for_call(call_b.call_id) is not None
        recorded = {e["event"] for e in await second[TIMELINE].for_call(call_a)}
        assert {"call.started", "call.routed", "call.answered", "call.ended"} <= recorded, recorded
        recorded = {e["event"] for e in await second[TIMELINE].for_call(call_b.call_id)}
        assert {"call.started", "call.answered", "call.ended"} <= recorded, recorded
    finally:
        await watcher.stop()
        if second is not None:
            await second.stop()
        if not first_stopped:
            await first.stop()


async def test_one_asterisk_site_restarted(fault_settings, sandbox, softphones, peers, log_lines):
    """The 110 site restarts while a 12345 call is up: the 12345 call is untouched, the
    server reconnects to 110 and resyncs, and a new 110 call is routed and answered."""
    site_12345, site_110 = fault_settings.site("12345"), fault_settings.site("110")
    server = await _started_server(fault_settings)
    lost = asyncio.Event()

    async def on_disconnect(site_id: str) -> None:
        if site_id == "110":
            lost.set()

    server.ami.on_disconnect(on_disconnect)
    try:
        port = await softphones.register(site_12345, "1007")
        await server[SEAT_REGISTRY].wait_for_state("12345", "1007", SeatState.IDLE, 10)
        agent_12345 = await peers.answer(site_12345, "1007", port)
        await wait_reachable(server.ami.send, "12345", "1007")
        with server.bus.subscribe() as events:
            # long enough to outlast the restart of the other site, however slow it is
            caller = await peers.call(site_12345, "13900004001", "12345", hold_ms=20000)
            started = await events.wait_for(is_event("call.started", site="12345", caller="13900004001"), 15)
            await events.wait_for(is_event("call.answered", call_id=started.data["call_id"]), 10)

            asterisk_110 = sandbox.asterisk("110")
            await asyncio.to_thread(asterisk_110.stop)
            await asyncio.wait_for(lost.wait(), 10)
            await asyncio.to_thread(asterisk_110.start)
            await server.ami.wait_connected(20)
            assert server.ami.sites["110"].connect_count >= 2
            # the 12345 call never noticed
            assert server[CALLS].book.find(started.data["call_id"]) is not None
            assert await caller.finished(40) == 0, caller.output()
            await events.wait_for(is_event("call.ended", call_id=started.data["call_id"]), 10)

            # the restarted site lost its registrations: the softphone registers again
            port = await softphones.register(site_110, "2003")
            await server[SEAT_REGISTRY].wait_for_state("110", "2003", SeatState.IDLE, 15)
            agent_110 = await peers.answer(site_110, "2003", port)
            await wait_reachable(server.ami.send, "110", "2003")
            caller_110 = await peers.call(site_110, "13900004002", "110", hold_ms=500)
            started = await events.wait_for(is_event("call.started", site="110", caller="13900004002"), 15)
            routed = await events.wait_for(is_event("call.routed", call_id=started.data["call_id"]), 10)
            assert routed.data["seat"] == "2003"
            assert await caller_110.finished(15) == 0, caller_110.output()
        assert await agent_110.finished(10) == 0, agent_110.output()
        assert await agent_12345.finished(10) == 0, agent_12345.output()
    finally:
        await server.stop()
