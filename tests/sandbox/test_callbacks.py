"""The callback queue (回电) on the real sandbox: a caller's IVR request and a missed call are
called back by the server, the agent's phone first (SIPp) and then the citizen's (a SIPp
handset of the public network); a missed caller who got through meanwhile is not."""

from __future__ import annotations

import secrets

import pytest

from hotline_link.app import App
from hotline_link.asterisk.render import handset_port
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.state import SeatState
from tests.helpers import is_event
from tests.sandbox.callflows import Api
from tickets.keys import TIMELINE


def citizen() -> str:
    """A number the public network's handset answers (1390000XXXX), new to this run."""
    return "1390000" + "".join(secrets.choice("0123456789") for _ in range(4))


def masked(number: str) -> str:
    return f"{number[:3]}****{number[-4:]}"


@pytest.fixture
async def callback_server(server_settings, log_lines):
    """Callbacks at any hour (the test must not depend on the clock), a short grace after a
    missed call, ticking fast; no surge IVR, so a caller with no agent free waits ringing."""
    srv = App(server_settings.with_values(ivr_sites="", callback_calling_hours=False, callback_tick_s=0.5,
                                          missed_callback_grace_s=10.0, callback_agent_ring_s=10))
    await srv.start()
    await srv.ami.wait_connected(15)
    yield srv
    await srv.stop()


async def agent_that_talks(server, softphones, peers, agent: str, calls: int = 1):
    """An agent's SIPp phone that answers and hangs up after 3 s of talk."""
    site = server.settings.site("12345")
    port = await softphones.register(site, agent)
    await server[SEAT_REGISTRY].wait_for_state("12345", agent, SeatState.IDLE, 10)
    return await peers.answer(site, agent, port, calls=calls, talk_range_ms=(3000, 3000))


async def queue_of(api: Api) -> dict[str, dict]:
    status, body = await api.request("GET", "/api/callbacks?site=12345", role="supervisor")
    assert status == 200, body
    return {r["number"]: r for r in body["sites"][0]["requests"]}


async def test_an_ivr_callback_request_reaches_a_free_agent_who_talks_to_the_caller(
        callback_server, softphones, peers, sandbox_settings):
    server, api = callback_server, Api(callback_server)
    site, public = server.settings.site("12345"), server.settings.site(server.settings.public_network_site)
    caller = citizen()
    with server.bus.subscribe() as events:
        run = await peers.call_dtmf(site, caller, "12345", [(2500, "2")], hold_ms=3000)
        started = await events.wait_for(is_event("call.started", site="12345", caller=caller), 10)
        reply = await server.ami.send("12345", {"Action": "Redirect", "Channel": started.data["channel"],
                                                "Context": "ivr", "Exten": "s", "Priority": "1"})
        assert "Redirect successful" in str(reply), reply
        requested = await events.wait_for(is_event("callback.step", step="requested", source="ivr"), 20)
        assert await run.finished(30) == 0, run.output()
        assert (await queue_of(api))[masked(caller)]["stage"] == "pending"

        handset = await peers.handset(public, handset_port(sandbox_settings), [], wait_bye_s=30)
        agent = await agent_that_talks(server, softphones, peers, "1006")
        request_id = requested.data["request_id"]
        connected = await events.wait_for(is_event("callback.step", request_id=request_id, step="connected"), 30)
        assert connected.data["agent"] == "1006"
        # the desk's screen pop shows the ticket that asked for the call
        status, screen = await api.request("GET", "/api/agents/1006/screen", "1006")
        assert status == 200, screen
        assert screen["ticket"]["id"] == requested.data["ticket_id"], screen
    assert await agent.finished(15) == 0, agent.output()
    assert await handset.finished(15) == 0, handset.output()
    assert handset.messages() == [f"INVITE sip:{caller}"]
    assert connected.data["stage"] == "done" and connected.data["ticket_id"] == requested.data["ticket_id"]
    assert masked(caller) not in await queue_of(api)  # done: no longer open
    story = await server[TIMELINE].for_ticket(requested.data["ticket_id"])
    steps = [e["data"].get("step") for e in story["events"] if e["event"] == "callback.step"]
    assert steps[0] == "requested" and "connected" in steps, steps


async def test_a_missed_call_is_called_back_unless_the_caller_got_through_meanwhile(
        callback_server, softphones, peers, sandbox_settings):
    server, api = callback_server, Api(callback_server)
    site, public = server.settings.site("12345"), server.settings.site(server.settings.public_network_site)
    missed, got_through = citizen(), citizen()
    with server.bus.subscribe() as events:
        # no agent free: both give up while it rings
        gave_up = [await peers.call_and_give_up(site, number, "12345", ring_ms=1500)
                   for number in (missed, got_through)]
        for run in gave_up:
            assert await run.finished(20) == 0, run.output()
        # two requests, one per caller (wait_for looks at what came already: the same event
        # would answer a second identical wait, so the second wait names another request)
        missed_request = is_event("callback.step", step="requested", source="missed")
        first = await events.wait_for(missed_request, 10)
        await events.wait_for(lambda e: missed_request(e) and e.data["request_id"] != first.data["request_id"], 10)
        queued = await queue_of(api)
        assert {queued[masked(n)]["stage"] for n in (missed, got_through)} == {"pending"}, queued

        # within the grace, the second caller calls again and is answered
        handset = await peers.handset(public, handset_port(sandbox_settings), [], wait_bye_s=30)
        agent = await agent_that_talks(server, softphones, peers, "1007", calls=2)
        again = await peers.call(site, got_through, "12345", hold_ms=1500)
        answered = await events.wait_for(is_event("call.answered", site="12345", caller=got_through), 10)
        assert answered.data["answered_by"] == "PJSIP/1007"
        assert await again.finished(15) == 0

        skipped = await events.wait_for(is_event("callback.step", request_id=queued[masked(got_through)]["id"],
                                                 stage="skipped"), 30)
        connected = await events.wait_for(is_event("callback.step", request_id=queued[masked(missed)]["id"],
                                                   step="connected"), 40)
    assert skipped.data["reason"] == "answered"
    assert connected.data["agent"] == "1007" and connected.data["source"] == "missed"
    assert await handset.finished(20) == 0, handset.output()
    assert handset.messages() == [f"INVITE sip:{missed}"]  # never the one who got through
    assert await agent.finished(15) == 0, agent.output()
