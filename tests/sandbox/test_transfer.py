"""One-click transfer between 12345 and 110 on the real sandbox, with the ticket riding
along in SIP headers, and every failure path returning the caller to the agent."""

from __future__ import annotations

import asyncio

from tests.helpers import is_event
from tests.sandbox.callflows import Api, answered_call, online_agent
from tickets.keys import TICKETS


async def test_blind_transfer_12345_to_110_carries_the_ticket(cc_server, softphones, peers):
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        agent_12345 = await online_agent(server, softphones, peers, "12345", "1001")
        agent_110 = await online_agent(server, softphones, peers, "110", "2001")
        call = await answered_call(server, events, peers, agent_12345, "12345", "13811112222", 4000)

        status, body = await api.request("POST", f"/api/calls/{call.call_id}/transfer", "1001",
                                         json={"target": "110", "category": "治安", "summary": "邻居打架"})
        assert status == 200, body
        assert body["state"] == "answered" and body["target"] == "110"
        ticket_id = body["ticket_id"]
        assert ticket_id.startswith("12345-")
        received = await events.wait_for(is_event("ticket.received", site="110"), 10)
    assert received.data["source_ticket"] == ticket_id
    assert received.data["source_platform"] == "12345"
    assert received.data["category"] == "治安" and received.data["summary"] == "邻居打架"
    assert await agent_12345.finished(10) == 0  # the 12345 agent is free at once
    assert await call.caller.finished(15) == 0  # the caller talked to 110 until hanging up
    assert await agent_110.finished(10) == 0
    assert f"INVITE ticket={ticket_id}" in agent_110.messages()
    ticket_110 = await server[TICKETS].get(received.data["ticket_id"])
    assert ticket_110.site == "110" and ticket_110.source_ticket == ticket_id


async def test_blind_transfer_110_to_12345(cc_server, softphones, peers):
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        agent_110 = await online_agent(server, softphones, peers, "110", "2002")
        agent_12345 = await online_agent(server, softphones, peers, "12345", "1002")
        call = await answered_call(server, events, peers, agent_110, "110", "13822223333", 3000)
        status, body = await api.request("POST", f"/api/calls/{call.call_id}/transfer", "2002",
                                         json={"target": "12345", "summary": "噪音扰民"})
        assert status == 200, body
        received = await events.wait_for(is_event("ticket.received", site="12345"), 10)
    assert received.data["source_platform"] == "110" and received.data["summary"] == "噪音扰民"
    assert await call.caller.finished(15) == 0
    assert f"INVITE ticket={body['ticket_id']}" in agent_12345.messages()


async def test_busy_target_returns_the_caller_to_the_agent(cc_server, softphones, peers):
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        agent = await online_agent(server, softphones, peers, "12345", "1003", calls=2)
        await online_agent(server, softphones, peers, "110", "2003", calls=2, busy=True)
        call = await answered_call(server, events, peers, agent, "12345", "13833334444", 5000)
        status, body = await api.request("POST", f"/api/calls/{call.call_id}/transfer", "1003",
                                         json={"target": "110"})
        assert (status, body["error"]["code"]) == (409, "target_busy"), body
        back = await events.wait_for(lambda e: e.name == "call.ringing" and e.data["agent"] == "1003"
                                     and e.data["call_id"] == call.call_id, 10)
    assert back.data["site"] == "12345"
    assert await call.caller.finished(15) == 0  # never dropped: talking to 1003 again
    assert await agent.finished(10) == 0  # it answered both the call and the returned caller


async def test_no_answer_returns_the_caller(cc_server, softphones, peers):
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        agent = await online_agent(server, softphones, peers, "12345", "1004", calls=2)
        slow = await online_agent(server, softphones, peers, "110", "2004", ring_ms=30000)
        call = await answered_call(server, events, peers, agent, "12345", "13844445555", 9000)
        status, body = await api.request("POST", f"/api/calls/{call.call_id}/transfer", "1004",
                                         json={"target": "110"})
        assert (status, body["error"]["code"]) == (504, "no_answer"), body
        await events.wait_for(lambda e: e.name == "call.ringing" and e.data["agent"] == "1004"
                              and e.data["call_id"] == call.call_id, 10)
    slow.kill()
    assert await call.caller.finished(20) == 0


async def test_caller_hanging_up_during_transfer(cc_server, softphones, peers):
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        agent = await online_agent(server, softphones, peers, "12345", "1005")
        slow = await online_agent(server, softphones, peers, "110", "2005", ring_ms=30000)
        call = await answered_call(server, events, peers, agent, "12345", "13855556666", 2000)
        status, body = await api.request("POST", f"/api/calls/{call.call_id}/transfer", "1005",
                                         json={"target": "110"})
    assert (status, body["error"]["code"]) == (410, "caller_hung_up"), body
    slow.kill()
    assert await call.caller.finished(10) == 0


async def test_double_click_and_wrong_agent_are_refused(cc_server, softphones, peers):
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        agent = await online_agent(server, softphones, peers, "12345", "1001")
        await online_agent(server, softphones, peers, "110", "2001")
        call = await answered_call(server, events, peers, agent, "12345", "13866667777", 4000)
        path = f"/api/calls/{call.call_id}/transfer"
        status, body = await api.request("POST", path, "1002", json={"target": "110"})
        assert (status, body["error"]["code"]) == (403, "not_your_call")
        status, _ = await api.request("POST", path, token="", json={"target": "110"})
        assert status == 401
        status, body = await api.request("POST", path, "1001", json={"target": "999"})
        assert (status, body["error"]["code"]) == (400, "unknown_target")
        first, second = await asyncio.gather(
            api.request("POST", path, "1001", json={"target": "110"}),
            api.request("POST", path, "1001", json={"target": "110"}))
    codes = sorted([first[0], second[0]])
    assert codes == [200, 409], (first, second)
    loser = first if first[0] == 409 else second
    assert loser[1]["error"]["code"] == "operation_in_progress"
    assert await call.caller.finished(15) == 0


async def test_trunk_down_returns_the_caller(cc_server, softphones, peers):
    """The 110 site is stopped: once the trunk's qualify marks it unreachable, a transfer to
    110 fails at once with target_unreachable and the caller rings the agent again."""
    from devtools.sandbox import Sandbox

    server, api = cc_server, Api(cc_server)
    trunk_state: asyncio.Queue[str] = asyncio.Queue()

    async def on_contact(event) -> None:
        if event.site == "12345" and event.get("AOR") == "trunk-110":
            trunk_state.put_nowait(event.get("ContactStatus"))

    server.ami.subscribe("ContactStatus", on_contact)
    sandbox = Sandbox(server.settings)
    try:
        with server.bus.subscribe() as events:
            agent = await online_agent(server, softphones, peers, "12345", "1006", calls=2)
            call = await answered_call(server, events, peers, agent, "12345", "13866660000", 9000)
            await asyncio.to_thread(sandbox.asterisk("110").stop)
            while await asyncio.wait_for(trunk_state.get(), 20) != "Unreachable":
                pass
            status, body = await api.request("POST", f"/api/calls/{call.call_id}/transfer", "1006",
                                             json={"target": "110"})
            assert (status, body["error"]["code"]) == (502, "target_unreachable"), body
            await events.wait_for(lambda e: e.name == "call.ringing" and e.data["agent"] == "1006"
                                  and e.data["call_id"] == call.call_id, 10)
        assert await call.caller.finished(20) == 0  # back with the agent, then hung up
    finally:
        await asyncio.to_thread(sandbox.up, False, False)
        while await asyncio.wait_for(trunk_state.get(), 20) != "Reachable":
            pass
        await server.ami.wait_connected(15)
