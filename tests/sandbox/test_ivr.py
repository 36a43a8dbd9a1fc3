"""The surge IVR and harassment screening on the real sandbox: SIPp callers pressing keys
(RFC 2833), the 12345 and 110 sites, FastAGI and Redis.

A caller is put into the IVR with an AMI Redirect of its channel to ``ivr,s,1`` (what
intake's ``Goto`` does during a surge), so these tests do not depend on the surge itself.
"""

from __future__ import annotations

import secrets

import aiohttp
import structlog

from hotline_link.core.bus import EventBus
from hotline_link.core.redis_client import redis_client
from ivr.callback import CALLBACK_CATEGORY
from ivr.harassment import HarassmentGuard, HarassmentPolicy, number_ref
from ivr.keys import HARASSMENT
from tests.helpers import is_event
from tests.sandbox.callflows import Api, online_agent
from tickets.keys import TICKETS


def _number() -> str:
    """A caller number of its own per test run, so counts from earlier runs do not matter."""
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


async def _into_ivr(server, events, caller: str) -> str:
    started = await events.wait_for(is_event("call.started", site="12345", caller=caller), 10)
    call_id = started.data["call_id"]
    reply = await server.ami.send("12345", {"Action": "Redirect", "Channel": started.data["channel"],
                                            "Context": "ivr", "Exten": "s", "Priority": "1"})
    assert "Redirect successful" in str(reply), reply
    await events.wait_for(is_event("ivr.entered", call_id=call_id, site="12345"), 10)
    return call_id


async def test_callback_key_opens_a_callback_ticket_for_the_callers_number(cc_server, peers, log_lines):
    server, caller = cc_server, _number()
    site = server.settings.site("12345")
    with server.bus.subscribe() as events:
        run = await peers.call_dtmf(site, caller, "12345", [(2500, "2")], hold_ms=3000)
        call_id = await _into_ivr(server, events, caller)
        await events.wait_for(is_event("ivr.choice", call_id=call_id, choice="callback"), 15)
        requested = await events.wait_for(is_event("ticket.callback_requested", call_id=call_id), 10)
        await events.wait_for(is_event("ivr.left", call_id=call_id, choice="callback"), 10)
    ticket = await server[TICKETS].get(requested.data["ticket_id"])
    assert ticket is not None and ticket.call_id == call_id and ticket.site == "12345"
    assert ticket.category == CALLBACK_CATEGORY and ticket.caller == caller
    assert requested.data["caller"] == f"{caller[:3]}****{caller[-4:]}"
    assert await run.finished(30) == 0, run.output()
    assert caller not in "".join(str(line) for line in log_lines.lines)


async def test_emergency_key_puts_the_caller_through_to_110(cc_server, softphones, peers):
    server, caller = cc_server, _number()
    agent = await online_agent(server, softphones, peers, "110", "2001")
    with server.bus.subscribe() as events:
        run = await peers.call_dtmf(server.settings.site("12345"), caller, "12345", [(2000, "9")],
                                    hold_ms=2500)
        call_id = await _into_ivr(server, events, caller)
        await events.wait_for(is_event("ivr.choice", call_id=call_id, choice="emergency"), 15)
        await events.wait_for(is_event("ivr.left", call_id=call_id, choice="emergency"), 5)
        answered = await events.wait_for(is_event("call.answered", site="110"), 15)
        assert answered.data["answered_by"] == "PJSIP/2001"
    assert await run.finished(30) == 0, run.output()
    assert await agent.finished(15) == 0, agent.output()


async def test_waiting_key_returns_the_caller_to_intake_where_an_agent_answers(cc_server, softphones,
                                                                               peers):
    server, caller = cc_server, _number()
    site = server.settings.site("12345")
    with server.bus.subscribe() as events:
        # 3: the web channel, back to the menu; then 0: an agent
        run = await peers.call_dtmf(site, caller, "12345", [(2000, "3"), (1500, "0")], hold_ms=12000)
        call_id = await _into_ivr(server, events, caller)
        agent = await online_agent(server, softphones, peers, "12345", "1003")
        await events.wait_for(is_event("ivr.choice", call_id=call_id, choice="web_channel"), 15)
        await events.wait_for(is_event("ivr.choice", call_id=call_id, choice="wait"), 30)
        await events.wait_for(is_event("ivr.left", call_id=call_id, choice="wait"), 5)
        answered = await events.wait_for(is_event("call.answered", call_id=call_id), 30)
        assert answered.data["answered_by"] == "PJSIP/1003"
    assert await run.finished(30) == 0, run.output()
    assert await agent.finished(15) == 0, agent.output()


async def test_self_service_answers_a_question_and_says_goodbye(cc_server, peers):
    server, caller = cc_server, _number()
    with server.bus.subscribe() as events:
        run = await peers.call_dtmf(server.settings.site("12345"), caller, "12345",
                                    [(2000, "1"), (2000, "4")], hold_ms=None, wait_bye_s=90)
        call_id = await _into_ivr(server, events, caller)
        await events.wait_for(is_event("ivr.choice", call_id=call_id, choice="self_service"), 15)
        topic = await events.wait_for(is_event("ivr.choice", call_id=call_id, topic="move_car"), 15)
        assert topic.data["choice"] == "self_service"
        # after the answer and the short menu, silence: a polite goodbye and the IVR hangs up
        await events.wait_for(is_event("ivr.left", call_id=call_id, choice="self_service"), 60)
    assert await run.finished(30) == 0, run.output()


async def test_harassment_window_flags_and_unflag_on_real_redis(sandbox_settings):
    redis = redis_client(sandbox_settings, decode_responses=True)
    bus = EventBus()
    guard = HarassmentGuard(redis, HarassmentPolicy(max_calls=3, window_s=60), bus)
    number, other, now = _number(), _number(), 1_000_000.0
    try:
        assert [await guard.screen("12345", number, now + i) for i in range(3)] == [False] * 3
        assert await guard.screen("12345", number, now + 3) is True  # the 4th call in a minute
        assert await guard.screen("12345", number, now + 200) is False  # the window has passed
        # one call screened in several intake rounds counts once
        assert not any([await guard.screen("12345", other, now + i, call_id="c1") for i in range(5)])
        # the route hook binds the call's id to its log context: the same without the argument
        with structlog.contextvars.bound_contextvars(call_id="c2"):
            assert not any([await guard.screen("12345", other, now + i) for i in range(5)])
        assert await guard.screen("12345", other, now + 6) is False  # the 3rd call
        assert await guard.screen("12345", other, now + 7) is True  # the 4th
        assert await guard.screen("110", number, now + 201) is False
        with bus.subscribe() as events:
            flag = await guard.flag(number, "辱骂坐席", "agent 1001", "12345")
            assert await guard.screen("12345", number, now + 300) is True
            assert await guard.screen("110", number, now + 300) is False  # 110 is never refused
            assert await guard.screen("12345", "anonymous", now) is False
            assert number_ref(number) in [f.ref for f in await guard.flags()]
            assert await guard.unflag(flag.ref, "supervisor") == number
            assert await guard.screen("12345", number, now + 301) is False
            names = [e.name for e in events.seen]
        assert names == ["harassment.flagged", "harassment.warned", "harassment.unflagged"]
        assert all(number not in str(e.data) for e in events.seen)
    finally:
        await redis.delete(f"hl:harassment:calls:12345:{number}", f"hl:harassment:calls:110:{number}",
                           f"hl:harassment:calls:12345:{other}")
        await redis.hdel("hl:harassment:flags", number)
        await redis.aclose()


async def test_harassment_api_roles_and_errors(server):
    api, number = Api(server), _number()
    status, body = await api.request("POST", "/api/harassment", "1001",
                                     json={"number": number, "reason": "反复恶意拨打"})
    assert status == 201 and body["number"] == f"{number[:3]}****{number[-4:]}" and body["by"] == "agent 1001"
    status, body = await api.request("GET", "/api/harassment", "1001")
    assert status == 403 and body["error"]["code"]
    status, body = await api.request("GET", "/api/harassment", role="supervisor")
    assert status == 200 and body["max_calls"] == server.settings.harassment_max_calls
    assert number_ref(number) in [f["ref"] for f in body["flagged"]] and number not in str(body)
    status, body = await api.request("DELETE", f"/api/harassment/{number}", "1001")
    assert status == 403
    status, body = await api.request("DELETE", f"/api/harassment/{number}", role="supervisor")
    assert status == 200 and body["ref"] == number_ref(number)
    status, body = await api.request("DELETE", f"/api/harassment/{number}", role="supervisor")
    assert status == 404 and body["error"]["code"] == "not_flagged"
    for bad in ({"number": "anonymous", "reason": "x"}, {"number": number, "reason": " "},
                {"number": number}, {"number": 13812341234, "reason": "x"}):
        status, body = await api.request("POST", "/api/harassment", "1001", json=bad)
        assert status == 400, (bad, body)
    async with aiohttp.ClientSession() as http:
        async with http.post(api.base + "/api/harassment", data=b"{not json",
                             headers={"Authorization": f"Bearer {api.token('1001')}"}) as resp:
            assert resp.status == 400


async def test_flagged_number_calling_12345_hears_the_warning_and_is_hung_up(cc_server, peers, log_lines):
    server, caller = cc_server, _number()
    await server[HARASSMENT].flag(caller, "测试：恶意滋扰", "supervisor")
    try:
        with server.bus.subscribe() as events:
            run = await peers.call_dtmf(server.settings.site("12345"), caller, "12345", [],
                                        hold_ms=None, wait_bye_s=60)
            started = await events.wait_for(is_event("call.started", site="12345", caller=caller), 10)
            warned = await events.wait_for(is_event("harassment.warned", site="12345"), 10)
            assert warned.data["reason"] == "flagged"
            # the caller hears the warning, then the center hangs up (the BYE comes to SIPp)
            assert await run.finished(60) == 0, run.output()
            ended = await events.wait_for(is_event("call.ended", call_id=started.data["call_id"]), 10)
            assert ended.data["answered_by"] is None  # no agent took it
        logged = log_lines.events("harassment.warned")
        assert logged and logged[0]["number"] == f"{caller[:3]}****{caller[-4:]}"
    finally:
        await server[HARASSMENT].unflag(caller, "supervisor")


async def test_callback_with_the_server_away_apologises_and_reaches_an_agent(cc_server, softphones, peers):
    """The FastAGI server stops: the callback cannot be registered, and the caller is not
    dropped but put through to an agent (intake rings every seat when the hook is away)."""
    server, caller = cc_server, _number()
    site = server.settings.site("12345")
    with server.bus.subscribe() as events:
        run = await peers.call_dtmf(site, caller, "12345", [(2000, "2")], hold_ms=25000)
        call_id = await _into_ivr(server, events, caller)
        await server.agi.stop()
        agent = await online_agent(server, softphones, peers, "12345", "1004")
        await events.wait_for(is_event("ivr.choice", call_id=call_id, choice="callback"), 15)
        await events.wait_for(is_event("ivr.left", call_id=call_id, choice="wait"), 30)
        answered = await events.wait_for(is_event("call.answered", call_id=call_id), 30)
        assert answered.data["answered_by"] == "PJSIP/1004"
        assert not any(e.name == "ticket.callback_requested" for e in events.seen)
    assert await run.finished(40) == 0, run.output()
    assert await agent.finished(15) == 0, agent.output()


async def test_anonymous_caller_asking_for_a_callback_is_put_through_to_an_agent(cc_server, peers):
    """No number to call back: no ticket, an apology, and back to intake."""
    server = cc_server
    with server.bus.subscribe() as events:
        run = await peers.call_dtmf(server.settings.site("12345"), "anonymous", "12345", [(2000, "2")],
                                    hold_ms=16000)
        call_id = await _into_ivr(server, events, "anonymous")
        await events.wait_for(is_event("ivr.choice", call_id=call_id, choice="callback"), 15)
        await events.wait_for(is_event("ivr.left", call_id=call_id, choice="wait"), 25)
        assert not any(e.name == "ticket.callback_requested" for e in events.seen)
    assert await run.finished(30) == 0, run.output()


async def test_two_wrong_keys_repeat_the_menu_once_then_wait_for_an_agent(cc_server, peers):
    server, caller = cc_server, _number()
    with server.bus.subscribe() as events:
        # 5 is no choice: the menu again (after an apology); 7 neither: on to an agent
        run = await peers.call_dtmf(server.settings.site("12345"), caller, "12345",
                                    [(2000, "5"), (6000, "7")], hold_ms=8000)
        call_id = await _into_ivr(server, events, caller)
        await events.wait_for(is_event("ivr.choice", call_id=call_id, choice="wait"), 20)
        left = await events.wait_for(is_event("ivr.left", call_id=call_id), 5)
        assert left.data["choice"] == "wait"
        choices = [e.data["choice"] for e in events.seen if e.name == "ivr.choice"]
        assert choices == ["wait"]  # neither wrong key counted as a choice
    assert await run.finished(30) == 0, run.output()


async def test_caller_hanging_up_during_an_answer_was_served_by_self_service(cc_server, peers):
    server, caller = cc_server, _number()
    with server.bus.subscribe() as events:
        run = await peers.call_dtmf(server.settings.site("12345"), caller, "12345",
                                    [(2000, "1"), (2000, "2")], hold_ms=3000)
        call_id = await _into_ivr(server, events, caller)
        await events.wait_for(is_event("ivr.choice", call_id=call_id, topic="housing_fund"), 15)
        left = await events.wait_for(is_event("ivr.left", call_id=call_id), 15)
        assert left.data["choice"] == "self_service"
    assert await run.finished(30) == 0, run.output()
