"""The AMI connection is cut mid-call (a real TCP failure, through a proxy); the caller
hangs up while the server cannot hear; after reconnecting the server re-reads the
channels and ends the call."""

from __future__ import annotations

import asyncio

from call_control.keys import CALLS
from devtools.sip.contacts import wait_reachable
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.state import SeatState
from tests.helpers import is_event


async def test_hangup_during_ami_outage_is_seen_after_reconnect(proxied_server, softphones, peers):
    server, proxy = proxied_server
    site = server.settings.site("12345")
    lost = asyncio.Event()

    async def on_disconnect(site_id: str) -> None:
        if site_id == "12345":
            lost.set()

    server.ami.on_disconnect(on_disconnect)
    with server.bus.subscribe() as events:
        port = await softphones.register(site, "1003")
        await server[SEAT_REGISTRY].wait_for_state("12345", "1003", SeatState.IDLE, 10)
        agent = await peers.answer(site, "1003", port)
        await wait_reachable(server.ami.send, "12345", "1003")
        caller = await peers.call(site, "13900001111", "12345", hold_ms=2500)
        answered = await events.wait_for(is_event("call.answered", site="12345"), 10)
        call_id = answered.data["call_id"]

        await proxy.cut()
        await asyncio.wait_for(lost.wait(), 5)
        assert await caller.finished(15) == 0, caller.output()  # hung up, unheard
        assert await agent.finished(10) == 0, agent.output()
        assert server[CALLS].book.get("12345", call_id) is not None
        assert not any(e.name == "call.ended" for e in events.seen)

        await proxy.restore()
        ended = await events.wait_for(is_event("call.ended", call_id=call_id), 15)
    assert ended.data["reason"] == "gone_while_disconnected"
    assert server.ami.sites["12345"].connect_count == 2
    assert server[CALLS].book.get("12345", call_id) is None
