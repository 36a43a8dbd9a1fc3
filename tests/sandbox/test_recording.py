"""全程录音 on the real sandbox: every call is recorded from intake on the caller's channel;
a blind transfer leaves one recording at each platform, on each platform's ticket, served
to supervisors and to the agent who handled the ticket only."""

from __future__ import annotations

import asyncio
import io
import wave

from tests.helpers import is_event
from tests.sandbox.callflows import Api, fresh_number, online_agent, recordings_of


async def test_a_transferred_call_is_recorded_once_at_each_platform(cc_server, softphones, peers):
    server, api = cc_server, Api(cc_server)
    site = server.settings.site("12345")
    with server.bus.subscribe() as events:
        agent_12345 = await online_agent(server, softphones, peers, "12345", "1003")
        agent_110 = await online_agent(server, softphones, peers, "110", "2003")
        caller = fresh_number()
        run = await peers.call(site, caller, site.intake, hold_ms=7000, speaking=True)
        started = await events.wait_for(is_event("call.started", site="12345", caller=caller), 10)
        await events.wait_for(is_event("call.answered", call_id=started.data["call_id"]), 10)
        await asyncio.sleep(2.5)  # the part before the transfer
        status, body = await api.request("POST", f"/api/calls/{started.data['call_id']}/transfer", "1003",
                                         json={"target": "110", "category": "治安", "summary": "录音测试"})
        assert status == 200, body
        received = await events.wait_for(is_event("ticket.received", site="110"), 10)
    assert await run.finished(20) == 0
    assert await agent_12345.finished(10) == 0 and await agent_110.finished(10) == 0

    at_12345 = await recordings_of(api, body["ticket_id"])
    at_110 = await recordings_of(api, received.data["ticket_id"])
    assert len(at_12345) == 1 and len(at_110) == 1, (at_12345, at_110)
    before, after = at_12345[0], at_110[0]
    assert before["call_id"] == started.data["call_id"] and before["part"] == 1
    # 12345 stops recording when it dials 110; 110 records from its intake to the hang-up
    assert 1.5 <= before["seconds"] <= 5.5, before
    assert 2.0 <= after["seconds"] <= 7.5, after
    assert after["call_id"] != before["call_id"]

    status, wav = await api.request("GET", f"/api/tickets/{body['ticket_id']}/recordings/{before['name']}", "1003")
    assert status == 200
    with wave.open(io.BytesIO(wav)) as audio:
        assert audio.getnframes() / audio.getframerate() >= 1.5

    # not for an agent who did not handle it, nor for the other platform's agent
    status, refused = await api.request("GET", f"/api/tickets/{body['ticket_id']}/recordings", "1004")
    assert status == 403 and refused["error"]["code"] == "forbidden", refused
    status, refused = await api.request("GET", f"/api/tickets/{body['ticket_id']}/recordings", "2003")
    assert status == 403, refused
    status, missing = await api.request(
        "GET", f"/api/tickets/{body['ticket_id']}/recordings/{after['name']}", role="supervisor")
    assert status == 404 and missing["error"]["code"] == "recording_not_found", missing
