"""The phone's own keys on the real sandbox: an agent's SIP phone transfers with its own
REFER, and the ticket rides along as with the desk's one-click transfer (headers at the
other platform, the handover, the timeline)."""

from __future__ import annotations

from devtools.sip.contacts import wait_reachable
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.state import SeatState
from tests.helpers import is_event
from tests.sandbox.callflows import Api, answered_call, fresh_number, online_agent
from tickets.keys import TICKETS, TIMELINE


async def referring_agent(server, softphones, peers, site_id: str, agent: str, target: str,
                          after_ms: int = 1500):
    """A SIPp phone for ``agent`` that answers one call and then blind-transfers it to
    ``target`` with its own REFER."""
    site = server.settings.site(site_id)
    port = await softphones.register(site, agent)
    await server[SEAT_REGISTRY].wait_for_state(site_id, agent, SeatState.IDLE, 10)
    run = await peers.answer(site, agent, port, refer_to=target, refer_after_ms=after_ms)
    await wait_reachable(server.ami.send, site_id, agent)
    return run


async def test_the_phones_blind_transfer_keeps_the_ticket(cc_server, softphones, peers):
    number = fresh_number()
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        agent_12345 = await referring_agent(server, softphones, peers, "12345", "1009", "110")
        agent_110 = await online_agent(server, softphones, peers, "110", "2009")
        site = server.settings.site("12345")
        caller = await peers.call(site, number, site.intake, hold_ms=6000)
        started = await events.wait_for(is_event("call.started", site="12345", caller=number), 10)
        call_id = started.data["call_id"]
        answered = await events.wait_for(is_event("transfer.answered", call_id=call_id), 15)
        received = await events.wait_for(is_event("ticket.received", site="110"), 10)
    assert answered.data["via"] == "phone" and answered.data["agent"] == "1009"
    assert answered.data["target"] == "110"
    ticket_id = answered.data["ticket_id"]
    assert received.data["source_ticket"] == ticket_id and received.data["source_platform"] == "12345"
    assert await agent_12345.finished(10) == 0  # the REFER was taken: 202, NOTIFYs, BYE
    assert await caller.finished(15) == 0  # the caller talked to 110 until hanging up
    assert await agent_110.finished(10) == 0
    assert f"INVITE ticket={ticket_id}" in agent_110.messages()
    ticket_110 = await server[TICKETS].get(received.data["ticket_id"])
    assert ticket_110 is not None and ticket_110.source_ticket == ticket_id
    await server[TIMELINE].flush()
    status, story = await api.request("GET", f"/api/calls/{call_id}", role="supervisor")
    assert status == 200, story
    transfers = [e for e in story["events"] if e["event"].startswith("transfer.")]
    assert [e["event"] for e in transfers][-1] == "transfer.answered"
    assert all(e["data"]["via"] == "phone" for e in transfers)


async def test_warm_transfer_completed_hands_the_caller_over(cc_server, softphones, peers):
    number = fresh_number()
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        agent = await online_agent(server, softphones, peers, "12345", "1010")
        agent_110 = await online_agent(server, softphones, peers, "110", "2010")
        call = await answered_call(server, events, peers, agent, "12345", number, 9000)
        call_id, caller = call.call_id, call.caller
        status, body = await api.request("POST", f"/api/calls/{call_id}/consult", "1010",
                                         json={"target": "110", "category": "治安", "summary": "有人砸车"})
        assert status == 200 and body["state"] == "talking", body
        status, done = await api.request("POST", f"/api/calls/{call_id}/consult/complete", "1010")
        assert status == 200 and done["state"] == "completed", done
        received = await events.wait_for(is_event("ticket.received", site="110"), 10)
    ticket_id = body["ticket_id"]
    assert received.data["source_ticket"] == ticket_id and received.data["summary"] == "有人砸车"
    assert await caller.finished(15) == 0
    assert await agent.finished(10) == 0 and await agent_110.finished(10) == 0
    assert f"INVITE ticket={ticket_id}" in agent_110.messages()
    await server[TIMELINE].flush()
    status, story = await api.request("GET", f"/api/calls/{call_id}", role="supervisor")
    transfers = [e for e in story["events"] if e["event"].startswith("transfer.")]
    assert transfers and transfers[-1]["event"] == "transfer.answered", transfers
    assert all(e["data"]["via"] == "consult" for e in transfers)


async def test_warm_transfer_cancelled_or_unanswered_returns_the_caller(cc_server, softphones, peers):
    number = fresh_number()
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        agent = await online_agent(server, softphones, peers, "12345", "1011")
        await online_agent(server, softphones, peers, "110", "2011")
        call = await answered_call(server, events, peers, agent, "12345", number, 9000)
        call_id, caller = call.call_id, call.caller
        status, body = await api.request("POST", f"/api/calls/{call_id}/consult", "1011", json={"target": "110"})
        assert status == 200 and body["state"] == "talking", body
        status, body = await api.request("POST", f"/api/calls/{call_id}/transfer", "1011", json={"target": "110"})
        assert status == 409 and body["error"]["code"] == "operation_in_progress", body
        status, done = await api.request("POST", f"/api/calls/{call_id}/consult/cancel", "1011")
        assert status == 200 and done["state"] == "cancelled" and done["reason"] == "cancelled", done
        status, body = await api.request("POST", f"/api/calls/{call_id}/consult/cancel", "1011")
        assert status == 404 and body["error"]["code"] == "no_consult", body
        # the caller is with the agent again: the agent can hand the case on once more
        status, body = await api.request("POST", f"/api/calls/{call_id}/consult", "1011", json={"target": "119"})
        assert status in (200, 202), body
        status, done = await api.request("POST", f"/api/calls/{call_id}/consult/cancel", "1011")
        assert status == 200 and done["state"] == "cancelled", done
        status, call = await api.request("GET", "/api/agents/1011/call", "1011")
        assert status == 200 and call["call_id"] == call_id and call["state"] == "talking", call
    assert await caller.finished(20) == 0  # talked to the end, never dropped
    assert await agent.finished(10) == 0


# --- a real softphone we did not write (Debian's baresip) ----------------------------------

async def baresip_agent(server, softphones, tmp_path, site_id: str, agent: str):
    """A baresip phone registered as ``agent``, its seat idle: used as ``async with``."""
    from devtools.sip.baresip import Baresip, free_phone_ports

    site = server.settings.site(site_id)
    [ports] = free_phone_ports(1)
    return Baresip(tmp_path / f"baresip-{agent}", agent, ports, registrar=f"{site.host}:{site.sip_port}",
                   password=softphones.password(site, agent), regint=600)


async def _baresip_answers(server, peers, events, phone, site_id: str, caller: str, hold_ms: int):
    site = server.settings.site(site_id)
    await phone.wait_registered()
    await server[SEAT_REGISTRY].wait_for_state(site_id, phone.user, SeatState.IDLE, 10)
    await wait_reachable(server.ami.send, site_id, phone.user)
    caller_run = await peers.call(site, caller, site.intake, hold_ms=hold_ms)
    started = await events.wait_for(is_event("call.started", site=site_id, caller=caller), 10)
    incoming = await phone.wait_incoming()
    await phone.answer(incoming.call_id)
    await events.wait_for(is_event("call.answered", call_id=started.data["call_id"]), 10)
    return started.data["call_id"], incoming.call_id, caller_run


async def test_baresips_blind_transfer_keeps_the_ticket(cc_server, softphones, peers, tmp_path):
    number = fresh_number()
    server = cc_server
    target = server.settings.site("110")
    with server.bus.subscribe() as events:
        agent_110 = await online_agent(server, softphones, peers, "110", "2012")
        async with await baresip_agent(server, softphones, tmp_path, "12345", "1012") as phone:
            call_id, phone_call, caller = await _baresip_answers(server, peers, events, phone, "12345",
                                                                 number, 8000)
            await phone.blind_transfer(f"sip:110@{target.host}:{server.settings.site('12345').sip_port}",
                                       phone_call)
            await phone.wait_transferred(phone_call)
            answered = await events.wait_for(is_event("transfer.answered", call_id=call_id), 15)
            received = await events.wait_for(is_event("ticket.received", site="110"), 10)
    assert answered.data["via"] == "phone" and answered.data["agent"] == "1012"
    assert received.data["source_ticket"] == answered.data["ticket_id"]
    assert await caller.finished(15) == 0
    assert await agent_110.finished(10) == 0
    assert f"INVITE ticket={answered.data['ticket_id']}" in agent_110.messages()
    await server[TIMELINE].flush()
    status, story = await Api(server).request("GET", f"/api/tickets/{answered.data['ticket_id']}/timeline",
                                              role="supervisor")
    assert status == 200, story
    assert ("transfer.answered", "phone") in [(e["event"], e["data"].get("via")) for e in story["events"]]
    assert story["related_tickets"] == [received.data["ticket_id"]]


async def test_baresips_attended_transfer_keeps_the_ticket(cc_server, softphones, peers, tmp_path):
    number = fresh_number()
    server, api = cc_server, Api(cc_server)
    own = server.settings.site("12345")
    with server.bus.subscribe() as events:
        agent_110 = await online_agent(server, softphones, peers, "110", "2013")
        async with await baresip_agent(server, softphones, tmp_path, "12345", "1013") as phone:
            call_id, phone_call, caller = await _baresip_answers(server, peers, events, phone, "12345",
                                                                 number, 10000)
            await phone.hold(phone_call)
            consult_call = await phone.dial(f"sip:110@{own.host}:{own.sip_port}")
            await phone.wait_established(consult_call)
            talking = await events.wait_for(is_event("transfer.ringing", call_id=call_id), 10)
            await phone.attended_transfer(phone_call, consult_call)
            answered = await events.wait_for(is_event("transfer.answered", call_id=call_id), 15)
            received = await events.wait_for(is_event("ticket.received", site="110"), 10)
    assert talking.data["via"] == "attended" and answered.data["via"] == "attended"
    assert answered.data["agent"] == "1013" and answered.data["target"] == "110"
    assert received.data["source_ticket"] == answered.data["ticket_id"]
    assert f"INVITE ticket={answered.data['ticket_id']}" in agent_110.messages()
    assert await caller.finished(20) == 0  # the caller talked to 110 until hanging up
    assert await agent_110.finished(10) == 0
    await server[TIMELINE].flush()
    status, story = await api.request("GET", f"/api/calls/{call_id}", role="supervisor")
    assert status == 200, story
    assert [e["event"] for e in story["events"] if e["event"].startswith("transfer.")][-1] == "transfer.answered"


async def test_the_in_call_key_star_1_hands_the_caller_to_the_other_platform(cc_server, softphones, peers):
    number = fresh_number()
    server = cc_server
    with server.bus.subscribe() as events:
        site = server.settings.site("12345")
        port = await softphones.register(site, "1014")
        await server[SEAT_REGISTRY].wait_for_state("12345", "1014", SeatState.IDLE, 10)
        agent = await peers.answer(site, "1014", port, keys=[(1200, "*"), (150, "1")])
        await wait_reachable(server.ami.send, "12345", "1014")
        agent_110 = await online_agent(server, softphones, peers, "110", "2016")
        caller = await peers.call(site, number, site.intake, hold_ms=8000)
        started = await events.wait_for(is_event("call.started", site="12345", caller=number), 10)
        answered = await events.wait_for(is_event("transfer.answered", call_id=started.data["call_id"]), 15)
        received = await events.wait_for(is_event("ticket.received", site="110"), 10)
    assert answered.data["via"] == "phone" and answered.data["agent"] == "1014" and answered.data["target"] == "110"
    assert received.data["source_ticket"] == answered.data["ticket_id"]
    assert f"INVITE ticket={answered.data['ticket_id']}" in agent_110.messages()
    assert await caller.finished(15) == 0
    assert await agent.finished(10) == 0 and await agent_110.finished(10) == 0


async def test_a_consult_the_target_refuses_leaves_the_caller_with_the_agent(cc_server, softphones, peers):
    number = fresh_number()
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        agent = await online_agent(server, softphones, peers, "12345", "1015")
        await online_agent(server, softphones, peers, "110", "2017", busy=True)
        call = await answered_call(server, events, peers, agent, "12345", number, 8000)
        call_id, caller = call.call_id, call.caller
        status, body = await api.request("POST", f"/api/calls/{call_id}/consult", "1015", json={"target": "110"})
        assert status in (409, 502, 504) and body["error"]["code"] in ("target_busy", "no_answer",
                                                                       "target_unreachable"), body
        status, call = await api.request("GET", "/api/agents/1015/call", "1015")
        assert status == 200 and call["call_id"] == call_id and call["state"] == "talking", call
        failed = await events.wait_for(is_event("transfer.failed", call_id=call_id), 5)
    assert failed.data["via"] == "consult"
    assert await caller.finished(20) == 0  # talked with 1015 to the end: never dropped
    assert await agent.finished(10) == 0
