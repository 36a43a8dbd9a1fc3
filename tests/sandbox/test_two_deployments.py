"""Two agencies, two deployments (双网双中心) on the real sandbox: the 12345 deployment and the
110 deployment, each a server with its own Redis and only its own sites, meet over the SIP
trunk and the signed exchange channel, and nowhere else."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from hotline_link.asterisk.render import handset_port
from linkage.keys import LINKAGE
from tests.helpers import is_event
from tests.sandbox.callflows import Api, answered_call, online_agent
from tickets.keys import TICKETS

# keys that name a site, a platform's ticket or a site's call (linkedid "hl<site>-...")
_OWNED = re.compile(r"^hl:(?:seat|claim|queue|ticket-seq|overflow|arrivals):(?P<site>[^:]+)"
                    r"|^hl:[a-z-]*ticket[a-z-]*:(?P<platform>12345|110)-"
                    r"|hl(?P<system>12345|110|remote)-[0-9]")


def owners(keys: list[str]) -> set[str]:
    """The sites and platforms the keys belong to."""
    found = set()
    for key in keys:
        for match in _OWNED.finditer(key):
            found.add(next(group for group in match.groups() if group))
    return found


def test_owners_reads_sites_tickets_and_calls_from_key_names() -> None:
    assert owners(["hl:seat:110:2001", "hl:ticket:12345-20261207-000001", "hl:call-ticket:hlremote-17.3",
                   "hl:exchange:log"]) == {"110", "12345", "remote"}


async def story_of(api: Api, ticket_id: str, agent: str) -> list[dict[str, Any]]:
    status, body = await api.request("GET", f"/api/tickets/{ticket_id}/timeline", agent)
    assert status == 200, body
    return list(body["events"])


async def until_in_story(api: Api, ticket_id: str, agent: str, event: str, timeout_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    while time.monotonic() < deadline:
        events = await story_of(api, ticket_id, agent)
        seen = [e["event"] for e in events]
        found = [e for e in events if e["event"] == event]
        if found:
            return dict(found[-1]["data"])
        await asyncio.sleep(0.3)
    raise AssertionError(f"no {event} on {ticket_id} within {timeout_s} s; its story: {seen}")


async def test_a_transfer_crosses_by_the_trunk_and_the_channel_only(two_deployments, softphones, peers, log_lines):
    hotline, police = two_deployments["12345"], two_deployments["110"]
    hotline_api, police_api = Api(hotline.server), Api(police.server)
    caller = f"138{int(time.time() * 1000) % 10**8:08d}"
    with hotline.server.bus.subscribe() as hotline_events, police.server.bus.subscribe() as police_events:
        agent_12345 = await online_agent(hotline.server, softphones, peers, "12345", "1001")
        agent_110 = await online_agent(police.server, softphones, peers, "110", "2001")
        call = await answered_call(hotline.server, hotline_events, peers, agent_12345, "12345", caller, 5000)
        status, body = await hotline_api.request("POST", f"/api/calls/{call.call_id}/transfer", "1001",
                                                 json={"target": "110", "category": "治安", "summary": "邻居打架"})
        assert status == 200, body
        ticket_12345 = body["ticket_id"]
        received = await police_events.wait_for(is_event("ticket.received", site="110"), 15)
    ticket_110 = received.data["ticket_id"]
    # the call's headers alone are not proof: its ticket names the source once the
    # handover message (signed, from the 12345 server) has matched the call
    assert received.data["source_platform"] == "12345"
    assert await call.caller.finished(20) == 0 and await agent_110.finished(10) == 0
    # the trunk carried the handed-over call (X-Ticket-Call), which the signed message names too
    taken = [line for line in log_lines.events("exchange.call_taken") if line.get("peer_ticket") == ticket_12345]
    assert [line["source_call"] for line in taken] == [call.call_id], taken

    # 110 opened one ticket for the case (the call and the handover message met), and its
    # 签收 came back over the channel into the 12345 ticket's story
    handover = await until_in_story(police_api, ticket_110, "2001", "exchange.received.handover")
    assert (handover["peer_ticket"], handover["category"], handover["mode"]) == (ticket_12345, "治安", "transfer")
    signed = await until_in_story(hotline_api, ticket_12345, "1001", "exchange.received.received")
    assert signed["receiver_ticket"] == ticket_110 and signed["accepted_by"] == "2001"
    assert len(await police.keys("hl:ticket:110-*")) == 1
    opened = await police.server[TICKETS].get(ticket_110)
    assert (opened.source_platform, opened.source_ticket, opened.category) == ("12345", ticket_12345, "治安")

    # each Redis holds only its own platform's tickets, calls and seats
    assert owners(await hotline.keys("hl:*")) <= {"12345", "remote"}
    assert owners(await police.keys("hl:*")) == {"110"}
    assert "12345" in owners(await hotline.keys("hl:*"))


async def test_a_restricted_110_case_crosses_by_its_number_only(two_deployments, softphones, peers):
    hotline, police = two_deployments["12345"], two_deployments["110"]
    caller = f"139{int(time.time() * 1000) % 10**8:08d}"
    with police.server.bus.subscribe() as police_events, hotline.server.bus.subscribe() as hotline_events:
        agent_110 = await online_agent(police.server, softphones, peers, "110", "2002")
        agent_12345 = await online_agent(hotline.server, softphones, peers, "12345", "1002")
        call = await answered_call(police.server, police_events, peers, agent_110, "110", caller, 5000)
        ticket = await police.server[TICKETS].open_for_call("110", call.call_id)
        await police.server[TICKETS].update(ticket, category="涉案", summary="涉案线索：某仓库藏匿赃物",
                                             division_code="320681", restricted=True)
        status, body = await Api(police.server).request("POST", f"/api/calls/{call.call_id}/transfer", "2002",
                                                        json={"target": "12345"})
        assert status == 200, body
        received = await hotline_events.wait_for(is_event("ticket.received", site="12345"), 15)
    assert await call.caller.finished(20) == 0 and await agent_12345.finished(10) == 0
    ticket_12345 = received.data["ticket_id"]
    handover = await until_in_story(Api(hotline.server), ticket_12345, "1002", "exchange.received.handover")
    assert handover["restricted"] is True and handover["peer_ticket"] == ticket.id
    assert (handover["category"], handover["summary"], handover["division_code"]) == ("", "", "")
    opened = await hotline.server[TICKETS].get(ticket_12345)
    assert (opened.source_platform, opened.source_ticket) == ("110", ticket.id)
    assert (opened.category, opened.summary, opened.division_code) == ("", "", "")
    # nothing of its content is anywhere in the 12345 deployment's Redis
    for key in await hotline.keys("hl:*"):
        kind = await hotline.redis.type(key)
        text = (str(await hotline.redis.hgetall(key)) if kind == "hash" else
                str(await hotline.redis.xrange(key)) if kind == "stream" else
                str(await hotline.redis.get(key)) if kind == "string" else "")
        assert "赃物" not in text and "涉案线索" not in text, key


async def test_a_push_crosses_signed_for_and_listed_on_both_sides(two_deployments):
    hotline, police = two_deployments["12345"], two_deployments["110"]
    ticket = await hotline.server[TICKETS].open_for_call("12345", f"test-push-{time.time_ns()}")
    ticket = await hotline.server[TICKETS].update(ticket, category="治安", summary="楼道有可疑包裹",
                                                  division_code="320681", caller="13900002222")
    hotline_api, police_api = Api(hotline.server), Api(police.server)
    status, body = await hotline_api.request("POST", f"/api/tickets/{ticket.id}/push", "1001",
                                             json={"target": "110"})
    assert status == 202, body
    signed = await until_in_story(hotline_api, ticket.id, "1001", "exchange.received.received")
    assert signed["accepted_by"] == "system" and signed["receiver_ticket"].startswith("110-")
    pushed = await police.server[TICKETS].get(signed["receiver_ticket"])
    assert (pushed.source_ticket, pushed.category, pushed.summary) == (ticket.id, "治安", "楼道有可疑包裹")
    # 可查: each side lists the case, in its own direction
    for api, direction, ours in ((hotline_api, "out", ticket.id), (police_api, "in", pushed.id)):
        status, listed = await api.request("GET", f"/api/exchange/v1/cases?direction={direction}", role="supervisor")
        assert status == 200, listed
        assert [row["ticket"] for row in listed["cases"]] == [ours], listed


async def test_the_supervisor_page_shows_the_link_to_the_other_deployment(two_deployments, tmp_path):
    from tests.sandbox.test_supervisor_page import _browser, _screenshot, _wait_until

    hotline = two_deployments["12345"]
    api = Api(hotline.server)
    driver = await asyncio.to_thread(_browser, tmp_path / "chromium-profile")
    try:
        await asyncio.to_thread(driver.get, f"{api.base}/supervisor?token={api.token(role='supervisor')}")
        link = "return (document.querySelector('#exchange [data-link]') || {}).dataset?.link || null;"
        await asyncio.to_thread(_wait_until, driver, lambda d: d.execute_script(link) == "up", 30)
        panel = await asyncio.to_thread(lambda: driver.find_element("id", "exchange-panel").text)
        assert "交互通道" in panel and "正常" in panel and "110" in panel, panel
        await asyncio.to_thread(_screenshot, driver, tmp_path, "supervisor-exchange-link.png")
    finally:
        await asyncio.to_thread(driver.quit)


async def test_a_three_way_call_joins_the_110_deployment_and_the_caller_stays(two_deployments, softphones, peers):
    """三方通话 across the two deployments: 110 joins over the trunk, its ticket names the
    12345 ticket (mode conference), and when the 12345 agent leaves, caller and 110 talk on."""
    hotline, police = two_deployments["12345"], two_deployments["110"]
    hotline_api = Api(hotline.server)
    caller = f"137{int(time.time() * 1000) % 10**8:08d}"
    with hotline.server.bus.subscribe() as hotline_events, police.server.bus.subscribe() as police_events:
        agent_12345 = await online_agent(hotline.server, softphones, peers, "12345", "1003")
        agent_110 = await online_agent(police.server, softphones, peers, "110", "2003")
        call = await answered_call(hotline.server, hotline_events, peers, agent_12345, "12345", caller, 7000)
        status, body = await hotline_api.request("POST", f"/api/calls/{call.call_id}/conference", "1003",
                                                 json={"target": "110", "category": "纠纷", "summary": "责任不清"})
        assert status == 200, body
        assert body["state"] == "joined" and sorted(body["parties"]) == ["1003", "110", "caller"], body
        ticket_12345 = body["ticket_id"]
        received = await police_events.wait_for(is_event("ticket.received", site="110"), 15)
        status, body = await hotline_api.request("DELETE", f"/api/calls/{call.call_id}/conference/1003", "1003")
        assert status == 202, body
        await hotline_events.wait_for(is_event("conference.left", party="1003"), 10)
        assert await agent_12345.finished(10) == 0
        assert call.caller.process.returncode is None  # still talking with 110
    assert await call.caller.finished(20) == 0 and await agent_110.finished(10) == 0
    ticket_110 = received.data["ticket_id"]
    handover = await until_in_story(Api(police.server), ticket_110, "2003", "exchange.received.handover")
    assert (handover["peer_ticket"], handover["mode"], handover["category"]) == (ticket_12345, "conference", "纠纷")
    signed = await until_in_story(hotline_api, ticket_12345, "1003", "exchange.received.received")
    assert signed["receiver_ticket"] == ticket_110 and signed["accepted_by"] == "2003"
    assert owners(await police.keys("hl:*")) == {"110"}


async def test_dispatch_and_feedback_at_110_come_back_into_the_12345_story(two_deployments, peers):
    """反馈回写: a case pushed to 110 is dispatched there to the police by duty phone (key 1
    accepts), who report arrival and result; each step reaches the 12345 ticket's story as
    an exchange message, and 12345's cases API shows the result."""
    hotline, police = two_deployments["12345"], two_deployments["110"]
    hotline_api = Api(hotline.server)
    ticket = await hotline.server[TICKETS].open_for_call("12345", f"test-feedback-{time.time_ns()}")
    ticket = await hotline.server[TICKETS].update(ticket, category="治安", summary="商铺门口有人持械争吵",
                                                  division_code="320681", caller="13900003333")
    status, body = await hotline_api.request("POST", f"/api/tickets/{ticket.id}/push", "1001",
                                             json={"target": "110"})
    assert status == 202, body
    signed = await until_in_story(hotline_api, ticket.id, "1001", "exchange.received.received")
    police_ticket = await police.server[TICKETS].get(signed["receiver_ticket"])
    settings = hotline.server.settings  # the sandbox's handsets answer on the 12345 deployment's public site
    handset = await peers.handset(settings.site(settings.public_network_site), handset_port(settings),
                                  [(1500, "1")])
    with police.server.bus.subscribe() as events:
        await police.server[LINKAGE].dispatch(police_ticket, "QD-POLICE", by="2001")
        await events.wait_for(is_event("linkage.accepted", ticket_id=police_ticket.id), 60)
    assert await handset.finished(30) == 0, handset.output()
    await police.server[LINKAGE].feedback(police_ticket.id, "QD-POLICE", "arrival", {"situation": "民警已到场"})
    await police.server[LINKAGE].feedback(police_ticket.id, "QD-POLICE", "result",
                                          {"resolved": True, "summary": "已劝离"})
    deadline = time.monotonic() + 30
    steps: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not any(step.get("stage") == "result" for step in steps):
        steps = [e["data"] for e in await story_of(hotline_api, ticket.id, "1001")
                 if e["event"] == "exchange.received.status"]
        await asyncio.sleep(0.3)
    # in order and once each (a 回访 may follow later)
    assert [step.get("stage") for step in steps][:4] == ["dispatched", "accepted", "arrived", "result"], steps
    assert {step.get("unit") for step in steps[:4]} == {"市公安局"}, steps  # QD-POLICE, by its name
    status, listed = await hotline_api.request("GET", "/api/exchange/v1/cases?direction=out", role="supervisor")
    assert status == 200, listed
    row = next(r for r in listed["cases"] if r["ticket"] == ticket.id)
    assert (row["peer_ticket"], row["signed_for_by"]) == (police_ticket.id, "system"), row
    assert row["feedback_stage"] in ("result", "callback", "closed"), row  # the last step heard


async def test_a_units_request_for_police_reaches_110_as_a_handover(two_deployments):
    """联动110: a 12345 unit on the scene asks for the police; the 12345 deployment hands the
    ticket to 110 over the exchange channel, where it opens a ticket naming its source."""
    hotline, police = two_deployments["12345"], two_deployments["110"]
    hotline_api = Api(hotline.server)
    ticket = await hotline.server[TICKETS].open_for_call("12345", f"test-ask-police-{time.time_ns()}")
    ticket = await hotline.server[TICKETS].update(ticket, category="燃气", summary="燃气泄漏现场有人阻挠抢修",
                                                  division_code="320681", caller="13900004444")
    await hotline.server[LINKAGE].dispatch(ticket, "QD-GAS", by="1001")
    await hotline.server[LINKAGE].feedback(ticket.id, "QD-GAS", "accept", {})
    with hotline.server.bus.subscribe() as events:
        await hotline.server[LINKAGE].feedback(ticket.id, "QD-GAS", "ask_police", {"note": "有人阻挠抢修，请民警到场"})
        await events.wait_for(is_event("linkage.police_requested", ticket_id=ticket.id), 5)
    signed = await until_in_story(hotline_api, ticket.id, "1001", "exchange.received.received")
    at_110 = await police.server[TICKETS].get(signed["receiver_ticket"])
    assert at_110.site == "110" and at_110.source_ticket == ticket.id and at_110.source_platform == "12345"
    assert at_110.category == "燃气"
    status, story = await hotline_api.request("GET", f"/api/tickets/{ticket.id}/timeline", "1001")
    assert status == 200
    assert "linkage.police_requested" in [e["event"] for e in story["events"]]
