"""The agent-facing API on the real sandbox: the current call, the WebSocket screen pop of
a case transferred in with its ticket, and clear errors for bad requests."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.helpers import hangup_everything
from tests.sandbox.callflows import Api, answered_call, online_agent


@pytest.fixture
async def api_server(server):
    yield server
    await hangup_everything(server)


async def test_current_call_and_transferred_in_screen_pop(api_server, softphones, peers):
    server, api = api_server, Api(api_server)
    url = f"{api.base.replace('http', 'ws')}/api/agents/2003/events?token={api.token('2003')}"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{api.base.replace('http', 'ws')}/api/agents/2003/events",
                                  headers={"Authorization": f"Bearer {api.token('1003')}"})
    assert refused.value.status == 403  # another agent's token cannot listen in
    with server.bus.subscribe() as events:
        agent = await online_agent(server, softphones, peers, "12345", "1003")
        await online_agent(server, softphones, peers, "110", "2003")
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            call = await answered_call(server, events, peers, agent, "12345", "13900002222", 3000)
            status, body = await api.request("GET", "/api/agents/1003/call", "1003")
            assert status == 200, body
            assert body["call_id"] == call.call_id and body["state"] == "talking"
            assert body["caller"] == "139****2222"
            status, body = await api.request("GET", "/api/agents/1003/call", "1004")
            assert (status, body["error"]["code"]) == (403, "forbidden")

            status, body = await api.request("POST", f"/api/calls/{call.call_id}/transfer", "1003",
                                             json={"target": "110", "category": "求助"})
            assert status == 200, body
            messages = []
            while not any(m["type"] == "answered" for m in messages):
                messages.append(json.loads(await asyncio.wait_for(ws.receive_str(), 10)))
    pop = next(m for m in messages if m["type"] == "transferred_in")
    assert pop["agent"] == "2003" and pop["caller"] == "139****2222"
    assert pop["ticket"]["source_ticket"] == body["ticket_id"]
    assert pop["ticket"]["source_platform"] == "12345" and pop["ticket"]["category"] == "求助"
    assert await call.caller.finished(15) == 0


async def test_bad_requests_get_clear_errors(api_server):
    api = Api(api_server)
    async with aiohttp.ClientSession() as http:
        async with http.get(api.base + "/health") as resp:
            assert resp.status == 200 and (await resp.json())["healthy"] is True
        headers = {"Authorization": f"Bearer {api.token('1001')}"}
        async with http.post(api.base + "/api/calls/x/transfer", data=b"{not json",
                             headers=headers) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_request"
        async with http.post(api.base + "/api/calls/x/transfer", json=["110"], headers=headers) as resp:
            assert resp.status == 400
        async with http.post(api.base + "/api/calls/x/transfer", json={"target": 110}, headers=headers) as resp:
            assert resp.status == 400 and "target" in (await resp.json())["error"]["message"]
        async with http.post(api.base + "/api/calls/nope/transfer", json={"target": "110"},
                             headers=headers) as resp:
            assert resp.status == 404 and (await resp.json())["error"]["code"] == "call_not_found"
        async with http.get(api.base + "/api/seats", headers=headers) as resp:
            assert resp.status == 403
        sup = {"Authorization": f"Bearer {api.token(role='supervisor')}"}
        async with http.get(api.base + "/api/seats", headers=sup) as resp:
            assert resp.status == 200 and "12345" in (await resp.json())["seats"]
        async with http.get(api.base + "/api/nowhere", headers=sup) as resp:
            assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
