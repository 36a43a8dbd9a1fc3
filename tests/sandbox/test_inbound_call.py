"""A real SIP call: SIPp caller -> 12345 site -> FastAGI route -> registered SIPp agent."""

from __future__ import annotations

from devtools.sip.contacts import wait_reachable
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.state import SeatState
from tests.helpers import is_event

CALLER = "13812341234"


async def test_call_is_routed_to_registered_agent_and_hangup_seen(server, softphones, peers,
                                                                   log_lines):
    site = server.settings.site("12345")
    with server.bus.subscribe() as events:
        port = await softphones.register(site, "1002")
        await server[SEAT_REGISTRY].wait_for_state("12345", "1002", SeatState.IDLE, 10)
        agent = await peers.answer(site, "1002", port)
        await wait_reachable(server.ami.send, "12345", "1002")
        caller = await peers.call(site, CALLER, "12345", hold_ms=1500)

        started = await events.wait_for(is_event("call.started", site="12345", caller=CALLER), 10)
        call_id = started.data["call_id"]
        assert call_id.startswith("hl12345-")  # linkedid, prefixed by the site's systemname
        routed = await events.wait_for(is_event("call.routed", call_id=call_id), 10)
        assert routed.data["seat"] == "1002"
        answered = await events.wait_for(is_event("call.answered", call_id=call_id), 10)
        assert answered.data["answered_by"] == "PJSIP/1002"
        ended = await events.wait_for(is_event("call.ended", call_id=call_id), 15)
        assert ended.data["reason"] == "hangup"
        assert ended.data["duration_s"] >= 1.5

    assert await caller.finished(10) == 0, caller.output()
    assert await agent.finished(10) == 0, agent.output()
    logged = [line for line in log_lines.events("call.started") if line.get("call_id") == call_id]
    assert logged and logged[0]["caller"] == "138****1234" and logged[0]["site"] == "12345"
    assert CALLER not in "".join(str(line) for line in log_lines.lines)
    assert any(line.get("call_id") == call_id for line in log_lines.events("call.ended"))
