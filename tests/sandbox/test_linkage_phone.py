"""Dispatch by phone against the real sandbox: the server originates a call from the 12345
site to the unit's duty phone (a SIPp handset of the public network site), which hears the
synthesised prompt and presses a key; every attempt and outcome lands on the timeline."""

from __future__ import annotations

import time

import pytest

from hotline_link.app import App
from hotline_link.asterisk.render import handset_port
from linkage.keys import LINKAGE
from linkage.phone import PhoneTimings
from tests.helpers import is_event
from tests.sandbox.callflows import Api
from tickets.keys import TICKETS

FAST = PhoneTimings(ring_s=4, retry_delay_s=0.5, answer_window_s=30.0, tick_s=0.1)


@pytest.fixture
async def phone_server(server_settings, log_lines):
    srv = App(server_settings)
    assert srv[LINKAGE].phone is not None
    srv[LINKAGE].phone.timings = FAST  # seconds instead of minutes between attempts
    await srv.start()
    await srv.ami.wait_connected(15)
    yield srv
    await srv.stop()


async def water_ticket(server):
    ticket = await server[TICKETS].open_for_call("12345", f"linkage-phone-{time.time_ns()}", caller="13800004444")
    return await server[TICKETS].update(ticket, category="供水", summary="小区停水三天无人处理")


async def test_a_duty_phone_that_answers_and_presses_1_accepts_the_dispatch(phone_server, peers, sandbox_settings):
    server = phone_server
    public = sandbox_settings.site(sandbox_settings.public_network_site)
    handset = await peers.handset(public, handset_port(sandbox_settings), [(1500, "1")])
    ticket = await water_ticket(server)
    with server.bus.subscribe() as events:
        status, body = await Api(server).request("POST", f"/api/tickets/{ticket.id}/dispatch", "1001",
                                                 json={"unit": "QD-WATER"})
        assert status == 201 and body["mode"] == "phone", body
        accepted = await events.wait_for(is_event("linkage.accepted", ticket_id=ticket.id), 40)
        assert accepted.data["unit"] == "QD-WATER"
        outcome = await events.wait_for(is_event("linkage.phone_outcome", ticket_id=ticket.id), 1)
        assert outcome.data["outcome"] == "key" and outcome.data["key"] == "1" and outcome.data["next"] == "done"
    assert await handset.finished(30) == 0, handset.output()
    assert handset.messages() == ["INVITE sip:77010"]  # QD-WATER's duty line, through the trunk
    record = await server[LINKAGE].record(ticket.id)
    assert record is not None and record["state"] == "accepted"
    status, story = await Api(server).request("GET", f"/api/tickets/{ticket.id}/timeline", "1001")
    steps = [e["event"] for e in story["events"] if e["event"].startswith("linkage.")]
    assert steps == ["linkage.dispatched", "linkage.phone_attempt", "linkage.phone_outcome", "linkage.accepted"]


async def test_an_unanswered_duty_phone_is_retried_then_the_backup_then_the_supervisor(
        phone_server, peers, sandbox_settings):
    server = phone_server
    public = sandbox_settings.site(sandbox_settings.public_network_site)
    handset = await peers.handset(public, handset_port(sandbox_settings), [], calls=3, ring_ms=60_000)
    ticket = await water_ticket(server)
    with server.bus.subscribe() as events:
        status, body = await Api(server).request("POST", f"/api/tickets/{ticket.id}/dispatch", "1001",
                                                 json={"unit": "QD-WATER"})
        assert status == 201 and body["mode"] == "phone", body
        alert = await events.wait_for(is_event("linkage.supervisor_alert", ticket_id=ticket.id), 60)
        assert alert.data["unit"] == "QD-WATER"
        outcomes = [e for e in events.seen if is_event("linkage.phone_outcome", ticket_id=ticket.id)(e)]
        attempts = [e for e in events.seen if is_event("linkage.phone_attempt", ticket_id=ticket.id)(e)]
    assert [o.data["outcome"] for o in outcomes] == ["unanswered"] * 3
    assert [o.data["next"] for o in outcomes] == ["retry", "retry", "exhausted"]
    assert [a.data["attempt"] for a in attempts] == [1, 2, 3]
    assert await handset.finished(30) == 0, handset.output()
    assert handset.messages() == ["INVITE sip:77010", "INVITE sip:77010", "INVITE sip:78010"]
    flags = await server[LINKAGE].deadlines.flags()
    assert flags[ticket.id]["flag"] == "phone_unanswered"


async def test_after_the_result_the_caller_is_called_back_and_answers_by_key(phone_server, peers,
                                                                             sandbox_settings):
    """回访: the unit accepts by phone (1), reports arrival and result; the caller (a handset
    of the public network) is then called and presses 2: 基本满意 is recorded."""
    server = phone_server
    server[LINKAGE].callbacks.window = lambda now: now  # any hour: the test must not wait for 08:30
    public = sandbox_settings.site(sandbox_settings.public_network_site)
    handset = await peers.handset(public, handset_port(sandbox_settings), [(1500, "1")])
    ticket = await server[TICKETS].open_for_call("12345", f"linkage-phone-{time.time_ns()}",
                                                caller="13900004321")
    ticket = await server[TICKETS].update(ticket, category="供水", summary="水管爆裂")
    with server.bus.subscribe() as events:
        status, body = await Api(server).request("POST", f"/api/tickets/{ticket.id}/dispatch", "1001",
                                                 json={"unit": "QD-WATER"})
        assert status == 201, body
        await events.wait_for(is_event("linkage.accepted", ticket_id=ticket.id), 40)
        assert await handset.finished(30) == 0, handset.output()
        caller_phone = await peers.handset(public, handset_port(sandbox_settings), [(1500, "2")])
        await server[LINKAGE].feedback(ticket.id, "QD-WATER", "arrival", {"situation": "已到场抢修"})
        await server[LINKAGE].feedback(ticket.id, "QD-WATER", "result", {"resolved": True, "summary": "已修复"})
        answered = await events.wait_for(is_event("linkage.callback", ticket_id=ticket.id), 40)
    assert (answered.data["result"], answered.data["by"]) == ("基本满意", "phone")
    assert await caller_phone.finished(30) == 0, caller_phone.output()
    assert caller_phone.messages() == ["INVITE sip:13900004321"]
    record = await server[LINKAGE].record(ticket.id)
    assert record is not None and record["callback"] == "基本满意"


async def test_no_callback_call_for_a_restricted_ticket(phone_server):
    server = phone_server
    ticket = await server[TICKETS].open_for_call("12345", f"linkage-phone-{time.time_ns()}",
                                                caller="13900004322")
    ticket = await server[TICKETS].update(ticket, category="供水", restricted=True)
    with server.bus.subscribe() as events:
        await server[LINKAGE].callbacks.ask_satisfaction(ticket.id)
        skipped = await events.wait_for(is_event("linkage.callback_skipped", ticket_id=ticket.id), 5)
    assert skipped.data["reason"] == "restricted"
    assert await server[LINKAGE].phone.get(ticket.id) is None  # no call was asked for
