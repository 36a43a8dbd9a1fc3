"""The agent desk in real Chromium against the real sandbox: the page's JsSIP registers
agent 1021 over WSS (DTLS-SRTP media, fake microphone), a SIPp caller dials 12345, the page
rings with the screen pop, the test clicks answer and RTP flows both ways (counted by
Asterisk), then clicks 转110 and the 110 agent's INVITE carries the ticket."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from call_control.keys import CALLS
from devtools.browser import chromium, chromium_available
from devtools.browser import click_action as _click
from devtools.browser import data_state as _data_state
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.state import SeatState
from tests.conftest import _unavailable
from tests.helpers import is_event
from tests.sandbox.callflows import Api, online_agent
from tests.sandbox.test_supervisor_page import _screenshot, _wait_until

pytestmark = pytest.mark.sandbox
BROWSER_AGENT = "1021"


def _desk_browser(profile: Path):
    if not chromium_available():
        _unavailable("Debian's chromium and chromium-driver are not installed")
    return chromium(profile, phone=True)


async def _rtp_counts(server, site: str, channel: str) -> tuple[int, int]:
    """(received, sent) RTP packets of ``channel``, as Asterisk counts them."""
    counts = []
    for what in ("rxcount", "txcount"):
        reply = await server.ami.send(site, {"Action": "Getvar", "Channel": channel,
                                             "Variable": f"CHANNEL(rtcp,{what})"})
        counts.append(int(float(reply.get("Value") or 0)))
    return counts[0], counts[1]


async def test_the_desk_registers_rings_answers_and_transfers(cc_server, softphones, peers, tmp_path):
    server, api = cc_server, Api(cc_server)
    site = server.settings.site("12345")
    caller_number = f"138{time.time_ns() // 1000 % 10**8:08d}"
    driver = await asyncio.to_thread(_desk_browser, tmp_path / "chromium")
    try:
        with server.bus.subscribe() as events:
            agent_110 = await online_agent(server, softphones, peers, "110", "2014")
            token = api.token(BROWSER_AGENT)
            await asyncio.to_thread(driver.get, f"{api.base}/desk?token={token}")
            await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "sip-state") == "registered", 15)
            await server[SEAT_REGISTRY].wait_for_state("12345", BROWSER_AGENT, SeatState.IDLE, 10)
            assert token not in driver.current_url  # the page drops the token from the address bar
            await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "seat-state") == "idle", 10)
            # the knowledge base suggests answers while the agent types (the real search API)
            await asyncio.to_thread(driver.find_element("id", "kb-q").send_keys, "公积金怎么取")
            await asyncio.to_thread(_wait_until, driver, lambda d: "提取" in d.find_element("id", "kb-list").text, 10)

            caller = await peers.call(site, caller_number, site.intake, hold_ms=12000, speaking=True)
            started = await events.wait_for(is_event("call.started", site="12345", caller=caller_number), 10)
            call_id = started.data["call_id"]
            await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "call-state") == "ringing", 10)
            shown = driver.find_element("id", "screen-caller").text
            assert caller_number[-4:] in shown and caller_number not in shown  # masked
            _screenshot(driver, tmp_path, "desk-ringing.png")

            await asyncio.to_thread(_click, driver, "answer")
            await events.wait_for(is_event("call.answered", call_id=call_id), 10)
            await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "call-state") == "talking", 10)
            await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "seat-state") == "talking", 10)
            await asyncio.sleep(1.5)  # media for a moment, both ways
            leg = server[CALLS].book.get("12345", call_id).agent_channel(BROWSER_AGENT)
            received, sent = await _rtp_counts(server, "12345", leg[1])
            assert received > 20 and sent > 20, (received, sent)  # from the browser's microphone, to it
            caller_leg = server[CALLS].book.get("12345", call_id).caller_channel
            assert (await _rtp_counts(server, "12345", caller_leg[1]))[1] > 20  # the browser's voice reached the caller
            _screenshot(driver, tmp_path, "desk-talking.png")

            await asyncio.to_thread(_click, driver, "transfer")
            answered = await events.wait_for(is_event("transfer.answered", call_id=call_id), 15)
            received_ticket = await events.wait_for(is_event("ticket.received", site="110"), 10)
        assert answered.data["agent"] == BROWSER_AGENT and answered.data["target"] == "110"
        assert received_ticket.data["source_ticket"] == answered.data["ticket_id"]
        assert await caller.finished(20) == 0
        assert await agent_110.finished(10) == 0
        assert f"INVITE ticket={answered.data['ticket_id']}" in agent_110.messages()
        await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "call-state") == "idle", 10)
    finally:
        await asyncio.to_thread(driver.quit)
    # the page unregisters on leaving; its seat goes offline rather than lingering idle
    await server[SEAT_REGISTRY].wait_for_state("12345", BROWSER_AGENT, SeatState.OFFLINE, 15)


async def _answered_in_the_desk(server, events, peers, driver, site, hold_ms: int) -> tuple[str, object]:
    number = f"138{time.time_ns() // 1000 % 10**8:08d}"
    caller = await peers.call(site, number, site.intake, hold_ms=hold_ms, speaking=True)
    started = await events.wait_for(is_event("call.started", site=site.id, caller=number), 10)
    await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "call-state") == "ringing", 10)
    await asyncio.to_thread(_click, driver, "answer")
    await events.wait_for(is_event("call.answered", call_id=started.data["call_id"]), 10)
    await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "call-state") == "talking", 10)
    return started.data["call_id"], caller


async def test_the_desks_warm_transfer_and_three_way_call(cc_server, softphones, peers, tmp_path):
    server, api = cc_server, Api(cc_server)
    site = server.settings.site("12345")
    driver = await asyncio.to_thread(_desk_browser, tmp_path / "chromium")
    try:
        with server.bus.subscribe() as events:
            agent_110 = await online_agent(server, softphones, peers, "110", "2015", calls=3)
            await asyncio.to_thread(driver.get, f"{api.base}/desk?token={api.token(BROWSER_AGENT)}")
            await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "sip-state") == "registered", 15)
            await server[SEAT_REGISTRY].wait_for_state("12345", BROWSER_AGENT, SeatState.IDLE, 10)

            # 咨询转接, completed: the caller goes on with 110, the desk is free
            call_id, caller = await _answered_in_the_desk(server, events, peers, driver, site, 14000)
            await asyncio.to_thread(_click, driver, "consult")
            await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "call-state") == "consulting", 10)
            _screenshot(driver, tmp_path, "desk-consulting.png")
            await asyncio.to_thread(_click, driver, "consult-complete")
            answered = await events.wait_for(is_event("transfer.answered", call_id=call_id), 15)
            assert answered.data["via"] == "consult"
            await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "call-state") == "idle", 10)
            assert await caller.finished(25) == 0

            # 咨询转接, cancelled: the caller is back with the desk; then 三方通话 and 退出三方
            await server[SEAT_REGISTRY].wait_for_state("12345", BROWSER_AGENT, SeatState.IDLE, 15)
            call_id, caller = await _answered_in_the_desk(server, events, peers, driver, site, 16000)
            await asyncio.to_thread(_click, driver, "consult")
            await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "call-state") == "consulting", 10)
            await asyncio.to_thread(_click, driver, "consult-cancel")
            await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "call-state") == "talking", 10)
            cancelled = await events.wait_for(is_event("transfer.failed", call_id=call_id), 5)
            assert cancelled.data["via"] == "consult" and cancelled.data["reason"] == "cancelled"
            await asyncio.to_thread(_click, driver, "conference")
            joined = await events.wait_for(lambda e: e.name == "conference.joined" and e.data["call_id"] == call_id
                                           and e.data["party"] == "110", 15)
            await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "call-state") == "conference", 10)
            _screenshot(driver, tmp_path, "desk-three-way.png")
            await asyncio.to_thread(_click, driver, "conference-leave")
            left = await events.wait_for(lambda e: e.name == "conference.left" and e.data["call_id"] == call_id
                                         and e.data["party"] == BROWSER_AGENT, 10)
            await asyncio.to_thread(_wait_until, driver, lambda d: _data_state(d, "call-state") == "idle", 10)
        assert joined.data["ticket_id"] == left.data["ticket_id"]
        assert await caller.finished(25) == 0  # the caller stayed with 110 to the end
        assert await agent_110.finished(15) == 0
    finally:
        await asyncio.to_thread(driver.quit)
    await server[SEAT_REGISTRY].wait_for_state("12345", BROWSER_AGENT, SeatState.OFFLINE, 15)
