"""System push between the platforms over real HTTP, with the peer down and then up:
nothing lost, nothing duplicated; the seeds' rules enforced; bounces counted."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import aiohttp
import pytest
from aiohttp import web

from hotline_link.app import App
from hotline_link.core.settings import push_secret_key
from tests.helpers import free_tcp_port, is_event
from tests.sandbox.callflows import Api
from tickets.keys import PUSH, TICKETS
from tickets.outbox import DUE, job_key
from tickets.redis_keys import handed_over_key
from tickets.signing import sign


@pytest.fixture
async def push_setup(server_settings, log_lines):
    peer_port = free_tcp_port()
    url = f"http://127.0.0.1:{peer_port}/api/intake/push"
    srv = App(replace(server_settings, push_targets={"110": url, "12345": url}))
    await srv.redis.delete(DUE)  # jobs left by earlier runs point at ports long gone
    await srv.start()
    yield srv, peer_port
    await srv.stop()


async def test_push_waits_for_a_peer_that_is_down_and_delivers_once(push_setup):
    server, peer_port = push_setup
    api = Api(server)
    source = await server[TICKETS].open_for_call("12345", f"push-test-{time.time()}", caller="13800001111",
                                                category="噪音", summary="夜间施工")
    before = await server[PUSH].stats()
    with server.bus.subscribe() as events:
        status, body = await api.request("POST", f"/api/tickets/{source.id}/push", "1001", json={"target": "110"})
        assert status == 202, body
        push_id = body["push_id"]
        await events.wait_for(is_event("push.retry", push_id=push_id, attempts=2), 10)  # peer down
        peer = web.AppRunner(server.web_app())
        await peer.setup()
        await web.TCPSite(peer, "127.0.0.1", peer_port).start()  # the peer comes up
        try:
            await events.wait_for(is_event("push.delivered", push_id=push_id), 15)
            pushed_in = await events.wait_for(is_event("ticket.pushed_in", source_ticket=source.id), 5)
            received = await server[TICKETS].get(pushed_in.data["ticket_id"])
            assert received.site == "110" and received.summary == "夜间施工"
            assert received.source_platform == "12345" and received.caller == "13800001111"

            job = {"push_id": push_id, "from_platform": "12345", "to_platform": "110",
                   "source_ticket": source.id, "category": "噪音", "summary": "夜间施工"}
            raw = json.dumps(job).encode()
            stamp = f"{time.time():.3f}"
            async with aiohttp.ClientSession() as http:
                secret = server.settings.push_secrets[push_secret_key("12345", "110")]
                headers = {"X-HL-Timestamp": stamp, "X-HL-Signature": sign(secret, stamp, raw)}
                async with http.post(f"http://127.0.0.1:{peer_port}/api/intake/push", data=raw,
                                     headers=headers) as resp:
                    again = await resp.json()
                    assert resp.status == 200 and again == {"ticket_id": received.id, "duplicate": True}
                headers["X-HL-Signature"] = "0" * 64
                async with http.post(f"http://127.0.0.1:{peer_port}/api/intake/push", data=raw,
                                     headers=headers) as resp:
                    assert resp.status == 401 and (await resp.json())["error"]["code"] == "bad_signature"
        finally:
            await peer.cleanup()
    assert await server.redis.smembers(handed_over_key(source.id)) == {received.id}  # exactly one
    after = await server[PUSH].stats()
    assert after["110"]["received"] == before["110"]["received"] + 1
    assert after["110"]["duplicates"] == before["110"]["duplicates"] + 1
    assert await server.redis.zscore(DUE, push_id) is None  # delivered: out of the outbox
    assert not await server.redis.exists(job_key(push_id))


async def test_110_rules_restricted_refused_and_non_emergency_to_12345(push_setup):
    server, _peer_port = push_setup
    api = Api(server)
    secret = await server[TICKETS].open_for_call("110", f"push-r-{time.time()}", category="涉稳")
    status, body = await api.request("POST", f"/api/tickets/{secret.id}/push", "2001", json={"target": "12345"})
    assert (status, body["error"]["code"]) == (403, "push_refused")

    urgent = await server[TICKETS].open_for_call("110", f"push-e-{time.time()}", category="求助")
    status, body = await api.request("PATCH", f"/api/tickets/{urgent.id}", "2001",
                                     json={"emergency": True, "division_code": "321323"})
    assert status == 200 and body["emergency"] is True
    status, body = await api.request("PATCH", f"/api/tickets/{urgent.id}", "2001", json={"division_code": "32"})
    assert status == 400
    status, body = await api.request("POST", f"/api/tickets/{urgent.id}/push", "2001", json={"target": "12345"})
    assert status == 202 and body["emergency"] is False
    # nobody listens at this test's peer port: take the job out so it does not retry forever
    await server.redis.zrem(DUE, body["push_id"])
    await server.redis.delete(job_key(body["push_id"]))


async def test_classify_over_http(push_setup):
    server, _ = push_setup
    status, body = await Api(server).request("POST", "/api/classify", "1001",
                                             json={"text": "有人持刀抢劫，已经有人受伤"})
    assert status == 200 and body["platform"] == "110" and body["emergency"] is True
