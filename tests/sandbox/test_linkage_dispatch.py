"""Dispatch to a handling unit over the real HTTP API: by a signed webhook through the
outbox, the unit's feedback with a unit token, every step on the ticket's timeline, the
satisfaction callback, the report; repeat calls from one number over real SIP calls."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from dataclasses import replace
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from hotline_link.app import App
from hotline_link.asterisk.render import handset_port
from linkage.keys import LINKAGE
from tests.helpers import free_tcp_port, is_event
from tests.sandbox.callflows import Api, answered_call, online_agent, tokens_with_units
from tickets.keys import OUTBOX, TICKETS
from tickets.redis_keys import OUTBOX_DEAD
from tickets.signing import verify

UNIT_TOKEN = "unit-token-for-the-gas-company-0001"
OTHER_UNIT_TOKEN = "unit-token-for-the-water-company-01"
HOOK_SECRET = "a-test-webhook-secret-0123456789"


def units_file(path, hook_url: str):
    path.write_text(
        "schema,1\nversion,2026.11.24\njurisdiction,qidong\n"
        "id,name,level,duty_phone,backup_phone,webhook_url,secret_ref,handles\n"
        f"QD-GAS,燃气公司,1,77009,78009,{hook_url},unit_secret_test,QD-12345-068\n"
        "QD-WATER,水务公司,1,77010,78010,,,QD-12345-066\n"
        f"QD-POWER,供电公司,1,77008,78008,{hook_url},unit_secret_not_in_the_file,QD-12345-067\n", encoding="utf-8")
    return path


@pytest.fixture
async def linkage_server(server_settings, tmp_path, log_lines):
    hook_port = free_tcp_port()
    received: asyncio.Queue = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:  # the unit's own system
        raw = await request.read()
        verify(HOOK_SECRET, request.headers["X-HL-Timestamp"], request.headers["X-HL-Signature"], raw, time.time())
        await received.put(json.loads(raw))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", hook_port).start()
    settings = replace(server_settings,
                       linkage_jurisdiction=str(units_file(tmp_path / "units.csv", f"http://127.0.0.1:{hook_port}/hook")),
                       tokens_file=str(tokens_with_units(tmp_path / "tokens.toml", server_settings.tokens_path,
                                                         {UNIT_TOKEN: "QD-GAS", OTHER_UNIT_TOKEN: "QD-WATER"})))
    srv = App(settings)
    srv[OUTBOX].secrets["unit_secret_test"] = HOOK_SECRET  # in production: the secrets file (mode 600)
    # no 回访 call at any hour: these tests record the callback by hand (in working hours the
    # real one would ring at once and land on the timeline between)
    srv[LINKAGE].callbacks.window = lambda now: now + 86400
    await srv.start()
    yield srv, received
    await srv.stop()
    await runner.cleanup()


def local_day() -> str:
    """Today in the report's zone (its days are the hotlines' local days)."""
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


async def new_ticket(server, **fields):
    ticket = await server[TICKETS].open_for_call("12345", f"linkage-http-{time.time_ns()}", caller="13800003333")
    return await server[TICKETS].update(ticket, **fields)


async def test_dispatch_by_webhook_then_feedback_with_a_unit_token_all_on_the_timeline(linkage_server):
    server, received = linkage_server
    api = Api(server)
    first_day = local_day()  # a run across local midnight still finds its dispatch
    ticket = await new_ticket(server, category="燃气", summary="小区天然气管道漏气需要维修")
    status, body = await api.request("GET", f"/api/tickets/{ticket.id}/dispatch", "1001")
    assert status == 200 and body["dispatch"] is None
    assert "QD-GAS" in [u["id"] for u in body["proposed_units"]]  # the catalog proposes; the agent confirms
    assert all("secret_ref" not in u for u in body["proposed_units"])
    with server.bus.subscribe() as events:
        status, body = await api.request("POST", f"/api/tickets/{ticket.id}/dispatch", "1001", json={"unit": "QD-GAS"})
        assert status == 201 and body["mode"] == "system" and body["state"] == "dispatched", body
        hooked = await asyncio.wait_for(received.get(), 10)  # signed with the unit's secret
        assert hooked["ticket_id"] == ticket.id and hooked["unit"] == "QD-GAS" and hooked["kind"] == "dispatch"
        status, again = await api.request("POST", f"/api/tickets/{ticket.id}/dispatch", "1001", json={"unit": "QD-GAS"})
        assert status == 200 and again["dispatched_at"] == body["dispatched_at"]  # idempotent
        status, err = await api.request("POST", f"/api/tickets/{ticket.id}/dispatch", "1001", json={"unit": "QD-WATER"})
        assert status == 409 and err["error"]["code"] == "already_dispatched"

        path = f"/api/tickets/{ticket.id}/feedback"
        status, err = await api.request("POST", path, token=OTHER_UNIT_TOKEN, json={"step": "accept"})
        assert status == 403 and err["error"]["code"] == "not_your_ticket"
        status, err = await api.request("POST", path, "1001", json={"step": "accept"})  # an agent is no unit
        assert status == 403 and err["error"]["code"] == "forbidden"
        status, err = await api.request("POST", path, token=UNIT_TOKEN, json={"step": "arrival", "situation": "到了"})
        assert status == 409 and err["error"]["code"] == "wrong_step"
        status, body = await api.request("POST", path, token=UNIT_TOKEN, json={"step": "accept"})
        assert status == 200 and body["state"] == "accepted"
        status, err = await api.request("POST", path, token=UNIT_TOKEN, json={"step": "arrival"})
        assert status == 400 and "situation" in err["error"]["message"]
        status, body = await api.request("POST", path, token=UNIT_TOKEN,
                                         json={"step": "arrival", "situation": "已关闭总阀，疏散住户"})
        assert status == 200 and body["state"] == "arrived"
        status, err = await api.request("POST", path, token=UNIT_TOKEN, json={"step": "result", "resolved": "yes"})
        assert status == 400 and "resolved" in err["error"]["message"]
        status, body = await api.request("POST", path, token=UNIT_TOKEN,
                                         json={"step": "result", "resolved": True, "summary": "更换阀门"})
        assert status == 200 and body["state"] == "resolved"
        await events.wait_for(is_event("linkage.resolved", ticket_id=ticket.id, resolved=True), 5)
        arrived = await events.wait_for(is_event("linkage.arrived", ticket_id=ticket.id), 1)
        assert arrived.data["on_time"] is True

    status, body = await api.request("POST", f"/api/tickets/{ticket.id}/callback", "1001", json={"result": "满意"})
    assert status == 200 and body["callback"] == "满意"
    status, err = await api.request("POST", f"/api/tickets/{ticket.id}/callback", "1001", json={"result": "满意"})
    assert status == 409 and err["error"]["code"] == "no_callback"

    status, story = await api.request("GET", f"/api/tickets/{ticket.id}/timeline", "1001")
    steps = [e["event"] for e in story["events"] if e["event"].startswith("linkage.")]
    assert steps == ["linkage.dispatched", "linkage.accepted", "linkage.arrived", "linkage.resolved",
                     "linkage.callback"]
    assert story["ticket"]["handling_unit"] == "燃气公司"

    status, report = await api.request("GET", f"/supervisor/report?from={first_day}&to={local_day()}&format=json",
                                       role="supervisor")
    assert status == 200 and report["units"]["QD-GAS"]["dispatched"] >= 1
    assert report["units"]["QD-GAS"]["name"] == "燃气公司"


async def test_report_formats_and_bad_ranges_over_http(linkage_server):
    """The report of the days this test ran, over data the test made itself: a dispatch
    gives the units' chart a bar, whatever the date and whatever an earlier run left."""
    server, received = linkage_server
    api = Api(server)
    first_day = local_day()
    ticket = await new_ticket(server, category="燃气", summary="楼道燃气表漏气")
    status, _ = await api.request("POST", f"/api/tickets/{ticket.id}/dispatch", "1001", json={"unit": "QD-GAS"})
    assert status == 201
    await asyncio.wait_for(received.get(), 10)
    span = f"from={first_day}&to={local_day()}"
    headers = {"Authorization": f"Bearer {api.token(role='supervisor')}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(api.base + f"/supervisor/report?{span}", headers=headers) as resp:
            page = await resp.text()
            assert resp.status == 200 and resp.content_type == "text/html"
            assert "@page { size: A4" in page and "<svg" in page and "燃气公司" in page
            assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")  # no script runs
        async with http.get(api.base + f"/supervisor/report?{span}&format=csv", headers=headers) as resp:
            text = await resp.text()
            assert resp.status == 200 and text.startswith("scope,name,figure,value") and "\nunit,QD-GAS," in text
    later = (dt.date.fromisoformat(first_day) + dt.timedelta(days=29)).isoformat()
    status, err = await api.request("GET", f"/supervisor/report?from={later}&to={first_day}", role="supervisor")
    assert status == 400 and err["error"]["code"] == "bad_range"
    status, err = await api.request("GET", f"/supervisor/report?{span}&format=pdf", role="supervisor")
    assert status == 400 and "format" in err["error"]["message"]
    status, err = await api.request("GET", "/supervisor/report", "1001")
    assert status == 403


async def test_unknown_unit_and_agents_of_the_other_platform_are_refused(linkage_server):
    server, _ = linkage_server
    api = Api(server)
    ticket = await new_ticket(server, category="停水")
    status, err = await api.request("POST", f"/api/tickets/{ticket.id}/dispatch", "1001", json={"unit": "NOPE"})
    assert status == 400 and err["error"]["code"] == "unknown_unit"
    status, err = await api.request("POST", f"/api/tickets/{ticket.id}/dispatch", "2001", json={"unit": "QD-WATER"})
    assert status == 403  # a 110 agent does not dispatch 12345's tickets
    status, err = await api.request("POST", f"/api/tickets/{ticket.id}/feedback", token=UNIT_TOKEN,
                                    json={"step": "accept"})
    assert status == 404 and err["error"]["code"] == "not_dispatched"
    status, flags = await api.request("GET", "/api/linkage/flags", role="supervisor")
    assert status == 200 and isinstance(flags, dict)
    status, units = await api.request("GET", "/api/units", "1001")
    assert status == 200 and [u["id"] for u in units["units"]] == ["QD-GAS", "QD-WATER", "QD-POWER"]


async def test_a_webhook_whose_secret_is_missing_is_never_sent_unsigned(linkage_server):
    server, received = linkage_server
    ticket = await new_ticket(server, category="停电")
    with server.bus.subscribe() as events:
        status, body = await Api(server).request("POST", f"/api/tickets/{ticket.id}/dispatch", "1001",
                                                 json={"unit": "QD-POWER"})
        assert status == 201 and body["mode"] == "system"
        job = f"dispatch-{ticket.id}-QD-POWER"
        dead = await events.wait_for(is_event("push.dead", push_id=job), 10)
        assert "no secret unit_secret_not_in_the_file configured" in dead.data["reason"]
    assert received.empty()
    await server.redis.hdel(OUTBOX_DEAD, job)


async def test_repeat_calls_from_one_number_are_linked_and_flagged_for_joint_handling(linkage_server, softphones,
                                                                                     peers):
    server, _ = linkage_server
    caller = f"139{time.time_ns() % 100_000_000:08d}"
    agent = await online_agent(server, softphones, peers, "12345", "1001", calls=3)
    with server.bus.subscribe() as events:  # one subscription per call: answered_call takes the first match
        first = await answered_call(server, events, peers, agent, "12345", caller, hold_ms=1500)
        assert await first.caller.finished(15) == 0
    opened = await server[TICKETS].for_call(first.call_id)
    repeat_calls = []
    for n in (1, 2):  # threshold 3: the first call and two repeats
        with server.bus.subscribe() as events:
            call = await answered_call(server, events, peers, agent, "12345", caller, hold_ms=1500)
            repeat = await events.wait_for(is_event("linkage.repeat", ticket_id=opened.id, repeats=n), 10)
            assert repeat.data["call_id"] == call.call_id and repeat.data["basis"] == "number"
            assert await call.caller.finished(15) == 0
            repeat_calls.append(call.call_id)
    joint = await events.wait_for(is_event("linkage.joint", ticket_id=opened.id), 5)
    assert joint.data["calls"] == 3
    assert (await server[LINKAGE].deadlines.flags())[opened.id]["flag"] == "joint"
    assert await server[LINKAGE].repeats(opened.id) == 2
    _status, story = await Api(server).request("GET", f"/api/tickets/{opened.id}/timeline", "1001")
    answered = {e["data"].get("call_id") for e in story["events"] if e["event"] == "call.answered"}
    assert answered == {first.call_id, *repeat_calls}  # the repeat calls show on the open ticket's story


async def test_a_joint_case_with_a_lead_by_webhook_and_an_assisting_unit_by_phone_that_refuses(
        linkage_server, peers, sandbox_settings):
    """联合调处: the gas company leads (its webhook), the water company assists (its duty phone
    rings through the public network; key 1 accepts), then refuses the case as not its own;
    the lead's result resolves the ticket, and the report counts the joint case and the
    refusal against the water company."""
    server, received = linkage_server
    api = Api(server)
    first_day = local_day()
    public = server.settings.site(server.settings.public_network_site)
    ticket = await new_ticket(server, category="燃气", summary="燃气管道破裂，附近自来水管也被挖断")
    handset = await peers.handset(public, handset_port(sandbox_settings), [(1500, "1")])
    with server.bus.subscribe() as events:
        status, lead = await api.request("POST", f"/api/tickets/{ticket.id}/dispatch", "1001", json={"unit": "QD-GAS"})
        assert status == 201 and lead["mode"] == "system", lead
        assert (await asyncio.wait_for(received.get(), 10))["unit"] == "QD-GAS"
        status, assisting = await api.request("POST", f"/api/tickets/{ticket.id}/dispatch", "1001",
                                              json={"unit": "QD-WATER", "role": "assisting"})
        assert status == 201 and assisting["mode"] == "phone" and assisting["role"] == "assisting", assisting
        accepted = await events.wait_for(is_event("linkage.accepted", ticket_id=ticket.id, unit="QD-WATER"), 30)
        assert accepted.data["role"] == "assisting"
        assert await handset.finished(20) == 0 and handset.messages() == ["INVITE sip:77010"]

        path = f"/api/tickets/{ticket.id}/feedback"
        status, body = await api.request("POST", path, token=UNIT_TOKEN, json={"step": "accept"})
        assert status == 200 and body["state"] == "accepted", body
        status, err = await api.request("POST", path, token=OTHER_UNIT_TOKEN, json={"step": "refuse"})
        assert status == 400 and "reason" in err["error"]["message"], err
        status, body = await api.request("POST", path, token=OTHER_UNIT_TOKEN,
                                         json={"step": "refuse", "reason": "供水管道不在事故范围，不属于本单位职责"})
        assert status == 200 and body["state"] == "refused", body
        await events.wait_for(is_event("linkage.refused", ticket_id=ticket.id, unit="QD-WATER"), 5)
        status, body = await api.request("POST", path, token=UNIT_TOKEN,
                                         json={"step": "progress", "note": "正在关闭总阀"})
        assert status == 200, body
        status, body = await api.request("POST", path, token=UNIT_TOKEN,
                                         json={"step": "result", "resolved": True, "summary": "管道已修复"})
        assert status == 200 and body["state"] == "resolved", body

    status, overview = await api.request("GET", f"/api/tickets/{ticket.id}/dispatch", "1001")
    assert status == 200
    assert overview["dispatch"]["unit"] == "QD-GAS" and overview["dispatch"]["state"] == "resolved"
    assert [(a["dispatch"]["unit"], a["dispatch"]["state"]) for a in overview["assisting"]] == [("QD-WATER", "refused")]
    status, story = await api.request("GET", f"/api/tickets/{ticket.id}/timeline", "1001")
    steps = [(e["event"], e["data"].get("unit")) for e in story["events"] if e["event"].startswith("linkage.")]
    for step in (("linkage.dispatched", "QD-WATER"), ("linkage.refused", "QD-WATER"), ("linkage.progress", "QD-GAS"),
                 ("linkage.resolved", "QD-GAS")):
        assert step in steps, steps
    status, report = await api.request("GET", f"/supervisor/report?from={first_day}&to={local_day()}&format=json",
                                       role="supervisor")
    assert status == 200
    assert report["units"]["QD-WATER"]["refused"] >= 1 and report["units"]["QD-WATER"]["assisting"] >= 1
    assert report["platforms"]["12345"]["joint_cases"] >= 1
