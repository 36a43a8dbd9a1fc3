"""Three-way calls on the real sandbox: caller, 12345 agent and 110 dispatcher in one
ConfBridge room (checked with AMI ConfbridgeList); agents leave; the caller is never left
alone."""

from __future__ import annotations

from tests.helpers import is_event
from tests.sandbox.callflows import Api, answered_call, online_agent, recordings_of
from tickets.keys import TICKETS


async def room_channels(server, room: str) -> list[str]:
    members = await server.ami.send_list("12345", {"Action": "ConfbridgeList", "Conference": room})
    return sorted(m["Channel"] for m in members)


async def test_three_parties_in_one_room_then_the_12345_agent_leaves(cc_server, softphones, peers):
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        agent_12345 = await online_agent(server, softphones, peers, "12345", "1001")
        agent_110 = await online_agent(server, softphones, peers, "110", "2001")
        call = await answered_call(server, events, peers, agent_12345, "12345", "13877778888", 6000)
        status, body = await api.request("POST", f"/api/calls/{call.call_id}/conference", "1001",
                                         json={"target": "110", "summary": "责任不清"})
        assert status == 200, body
        assert body["state"] == "joined" and sorted(body["parties"]) == ["1001", "110", "caller"]
        room = body["room"]
        channels = await room_channels(server, room)
        assert len(channels) == 3
        assert [c.split("-")[0] for c in channels] == ["Local/110@conference", "PJSIP/1001", "PJSIP/anonymous"]

        status, body = await api.request("POST", f"/api/calls/{call.call_id}/transfer", "1001",
                                         json={"target": "110"})
        assert (status, body["error"]["code"]) == (409, "conference_exists"), body
        status, body = await api.request("DELETE", f"/api/calls/{call.call_id}/conference/1001", "1001")
        assert status == 202, body
        await events.wait_for(is_event("conference.left", party="1001"), 10)
        assert await agent_12345.finished(10) == 0  # its leg was hung up
        remaining = await room_channels(server, room)
        assert [c.split("-")[0] for c in remaining] == ["Local/110@conference", "PJSIP/anonymous"]
        assert call.caller.process.returncode is None  # caller and 110 keep talking
    assert await call.caller.finished(15) == 0
    assert await agent_110.finished(10) == 0
    ticket = await server[TICKETS].for_call(call.call_id)
    assert f"INVITE ticket={ticket.id}" in agent_110.messages()
    # the caller's channel went into the room: one recording covers the call and the room
    # until 12345's agent left; the caller's last seconds with 110 are 110's to record
    recorded = await recordings_of(api, ticket.id)
    assert len(recorded) == 1 and 0 < recorded[0]["seconds"] < 5.0, recorded  # of the 6 s call


async def test_last_agent_cannot_leave_the_caller_alone_and_no_answer_keeps_them_talking(
        cc_server, softphones, peers):
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        agent = await online_agent(server, softphones, peers, "12345", "1002")
        slow = await online_agent(server, softphones, peers, "110", "2002", ring_ms=30000)
        call = await answered_call(server, events, peers, agent, "12345", "13888889999", 9000)
        path = f"/api/calls/{call.call_id}/conference"
        status, body = await api.request("POST", path + "?wait=false", "1002", json={"target": "110"})
        assert (status, body["state"]) == (202, "dialling"), body
        status, body = await api.request("DELETE", path + "/1002", "1002")
        assert (status, body["error"]["code"]) == (409, "caller_would_be_alone"), body
        status, body = await api.request("DELETE", path + "/2002", "1002")
        assert (status, body["error"]["code"]) == (403, "not_your_call"), body
        status, body = await api.request("POST", path, "1002", json={"target": "110"})
        assert (status, body["error"]["code"]) == (409, "conference_exists"), body
        await events.wait_for(lambda e: e.name == "conference.dialling", 5)
        status, body = await api.request("GET", path, "1002")
        assert status == 200 and set(body["parties"]) == {"1002", "caller"}, body
    slow.kill()
    assert await call.caller.finished(20) == 0  # talked to 1002 in the room until hanging up
