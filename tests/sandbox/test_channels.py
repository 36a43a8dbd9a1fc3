"""Tickets that do not start with a call, on the real sandbox: a web report with danger to
life alerts the supervisor at once, a retry opens no second ticket, the ticket is handed to
110 online (在线转交); an SMS through the signed gateway webhook opens a ticket."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import aiohttp
import pytest

from hotline_link.app import App
from hotline_link.core.settings import read_secret_file
from tests.helpers import is_event
from tests.sandbox.callflows import Api, fresh_number
from tickets.keys import TICKETS
from tickets.outbox import DUE
from tickets.signing import sign


@pytest.fixture
async def channel_server(server_settings, log_lines):
    """One server playing both platforms: its pushes go to its own intake."""
    own = f"http://127.0.0.1:{server_settings.http_port}/api/intake/push"
    srv = App(replace(server_settings, push_targets={"110": own, "12345": own}))
    await srv.redis.delete(DUE)  # jobs left by earlier runs point at ports long gone
    await srv.start()
    yield srv
    await srv.stop()


async def test_a_web_report_of_danger_to_life_alerts_the_supervisor_and_can_go_to_110(channel_server):
    server, api = channel_server, Api(channel_server)
    channel = api.token(role="channel")
    report = {"channel": "web", "caller": fresh_number(), "division_code": "320681",
              "text": "小区门口有人持刀砍人，已经有人受伤倒地", "external_id": f"web-{time.time_ns()}"}
    with server.bus.subscribe() as events:
        status, opened = await api.request("POST", "/api/tickets", json=report, token=channel)
        assert status == 201, opened
        ticket_id = opened["ticket"]["id"]
        alert = await events.wait_for(is_event("ticket.intake_alert", ticket_id=ticket_id), 5)
    caller = report["caller"]
    assert opened["ticket"]["channel"] == "web" and opened["ticket"]["caller"] == f"{caller[:3]}****{caller[-4:]}"
    assert opened["recommendation"]["platform"] == "110" and opened["recommendation"]["emergency"], opened
    assert alert.data["channel"] == "web" and alert.data["site"] == "12345"

    status, state = await api.request("GET", "/api/supervisor/state", role="supervisor")
    assert status == 200
    assert any(a["kind"] == "ticket.intake_alert" and ticket_id in json.dumps(a) for a in state["alerts"]), \
        state["alerts"]

    # the portal retries after a timeout: the same ticket, not a second one
    status, again = await api.request("POST", "/api/tickets", json=report, token=channel)
    assert (status, again["ticket"]["id"], again["duplicate"]) == (200, ticket_id, True), again

    # 在线转交: the web ticket goes to 110 like any other
    with server.bus.subscribe() as events:
        status, pushed = await api.request("POST", f"/api/tickets/{ticket_id}/push", role="supervisor",
                                           json={"target": "110"})
        assert status == 202, pushed
        arrived = await events.wait_for(is_event("ticket.pushed_in", source_ticket=ticket_id), 15)
    at_110 = await server[TICKETS].get(arrived.data["ticket_id"])
    assert at_110.site == "110" and at_110.source_platform == "12345"

    # a unit or a peer token opens nothing
    status, refused = await api.request("POST", "/api/tickets", json=report, role="peer")
    assert status == 403, refused


async def test_an_sms_through_the_signed_gateway_webhook_opens_a_ticket(cc_server):
    server, api = cc_server, Api(cc_server)
    secret = read_secret_file(server.settings.secrets_file)["sms_secret"]
    sender = fresh_number()
    raw = json.dumps({"from": sender, "text": "我家楼下的路灯坏了一个星期了", "message_id": f"sms-{time.time_ns()}"},
                     ensure_ascii=False).encode()

    async def deliver(body: bytes, signature_secret: str) -> tuple[int, dict]:
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-HL-Timestamp": stamp,
                   "X-HL-Signature": sign(signature_secret, stamp, body)}
        async with aiohttp.ClientSession() as http, http.post(f"{api.base}/api/intake/sms", data=body,
                                                              headers=headers) as resp:
            return resp.status, await resp.json()

    status, refused = await deliver(raw, "not-the-gateway")
    assert status == 401, refused
    status, received = await deliver(raw, secret)
    assert status == 201, received
    ticket = await server[TICKETS].get(received["ticket_id"])
    assert ticket.channel == "sms" and ticket.caller == sender and ticket.site == "12345"
    status, again = await deliver(raw, secret)
    assert (status, again["ticket_id"], again["duplicate"]) == (200, received["ticket_id"], True)
