"""The exchange plugin between two real deployments (12345's and 110's: two redis-servers,
two aiohttp servers, real clients): a push opens one ticket on the other side and comes
back signed for (签收), the receiver's linkage steps come back as status messages, and the
seeds' rules hold at the boundary. Rounds are driven one at a time on a shared clock."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from exchange.effects import Peer
from exchange.errors import NotSendable
from exchange.messages import Envelope, HandoverBody, StatusBody
from hotline_link.core.bus import BusEvent
from hotline_link.core.events import LinkageArrived, LinkageDispatched, LinkageResolved, TicketPushedIn
from hotline_link.core.tasks import wait_until
from tests.unit.exchange_deployments import (
    AGENT_TOKEN,
    SUPERVISOR_TOKEN,
    Deployment,
    events_named,
    misaddress,
)
from tests.unit.exchange_samples import T110, T12345, ticket_110, ticket_12345
from tickets.push_policy import PushRefused

WAIT_S = 30.0  # a condition a real loop makes true: generous, never a fixed sleep


async def push_over_http(session: aiohttp.ClientSession, deployment: Deployment, ticket_id: str,
                         target: str, token: str = SUPERVISOR_TOKEN) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with session.post(f"{deployment.url}/api/tickets/{ticket_id}/push", json={"target": target},
                            headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status, await resp.json()


async def pushed_and_settled(deployments: tuple[Deployment, Deployment],
                             session: aiohttp.ClientSession) -> tuple[str, str]:
    """12345's sample ticket pushed to 110 over the API and every message settled:
    (the push id, 110's ticket id)."""
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    status, body = await push_over_http(session, hotline, T12345, "110")
    assert status == 202, body
    await hotline.settle(police)
    return body["push_id"], (await police.pushed_ticket(body["push_id"])).id


# --- a push --------------------------------------------------------------------------------


async def test_a_12345_push_opens_one_110_ticket_naming_the_source(deployments, session):
    hotline, police = deployments
    with police.bus.subscribe() as seen:
        _, opened = await pushed_and_settled(deployments, session)
    ticket = await police.tickets.get(opened)
    assert ticket is not None
    source = ticket_12345()
    assert (ticket.site, ticket.source_platform, ticket.source_ticket) == ("110", "12345", T12345)
    assert (ticket.category, ticket.summary, ticket.division_code, ticket.caller, ticket.emergency) == \
        (source.category, source.summary, source.division_code, source.caller, False)
    assert await police.ticket_count() == 1
    assert events_named(seen, TicketPushedIn.NAME) == [
        {"ticket_id": opened, "site": "110", "source_ticket": T12345, "source_platform": "12345", "bounced": False}]
    assert [(e, d["peer_ticket"]) for e, d in await police.story(opened)] == [
        ("exchange.received.handover", T12345), ("exchange.sent.received", T12345)]
    assert await hotline.service._on().outbox.backlog() == 0 and await police.service._on().outbox.backlog() == 0
    assert (await hotline.push.stats())["12345"]["pushed"] == 1  # type: ignore[index]
    assert (await police.push.stats())["110"]["received"] == 1  # type: ignore[index]


async def test_12345s_timeline_shows_110s_sign_for_with_110s_ticket(deployments, session):
    hotline, _ = deployments
    push_id, opened = await pushed_and_settled(deployments, session)
    story = await hotline.story(T12345)
    assert [event for event, _ in story] == ["exchange.sent.handover", "exchange.received.received"]
    sent, signed = story[0][1], story[1][1]
    assert (sent["message_id"], sent["mode"], sent["peer_platform"]) == (push_id, "push", "110")
    assert (signed["peer_platform"], signed["peer_ticket"], signed["receiver_ticket"], signed["accepted_by"]) == \
        ("110", opened, opened, "system")
    assert "caller" not in sent  # the number stays on the ticket, never on the story


async def test_110s_dispatch_arrival_and_result_come_back_to_12345_in_order(deployments, session):
    hotline, police = deployments
    _, opened = await pushed_and_settled(deployments, session)
    applied: list[Envelope] = []
    changed = asyncio.Event()
    apply = hotline.service.apply

    async def watched(envelope: Envelope) -> None:  # the real effect; the test hears it happen
        await apply(envelope)
        applied.append(envelope)
        changed.set()

    hotline.service.apply = watched  # type: ignore[method-assign]
    for one in (hotline, police):  # the real loops and the write-back consumer
        await one.service.start()
    police.bus.emit(LinkageDispatched(ticket_id=opened, unit="QD-SN-BDH", unit_name="八大湖派出所", level=1,
                                      mode="system", site="110", by="2001", queued_until=None,
                                      accept_due=police.clock.now + 300))
    police.bus.emit(LinkageArrived(ticket_id=opened, unit="QD-SN-BDH", site="110", arrived_at=police.clock.now + 60,
                                   on_time=True, situation="民警已到场"))
    police.bus.emit(LinkageResolved(ticket_id=opened, unit="QD-SN-BDH", site="110", resolved=True, on_time=True,
                                    summary="已责令停工"))
    assert await wait_until(changed, lambda: sum(e.type == "status" for e in applied) >= 3, WAIT_S)

    async def statuses() -> list[dict]:  # type: ignore[type-arg]
        return [data for event, data in await hotline.story(T12345) if event == "exchange.received.status"]

    got = await statuses()
    assert [(s["stage"], s["unit"], s["detail"], s["peer_ticket"]) for s in got] == [
        ("dispatched", "八大湖派出所", "", opened), ("arrived", "QD-SN-BDH", "民警已到场", opened),
        ("result", "QD-SN-BDH", "已办结：已责令停工", opened)]
    assert [s["seq"] for s in got] == [2, 3, 4]  # after the 签收, in the order they happened
    assert got[1]["at"] == police.clock.now + 60


async def test_a_linkage_step_on_a_ticket_that_did_not_come_by_handover_is_not_written_back(deployments):
    _, police = deployments
    await police.tickets.save(ticket_110())
    event = BusEvent.of(LinkageArrived(ticket_id=T110, unit="U", site="110", arrived_at=1.0, on_time=True,
                                       situation="到场"))
    assert await police.service.write_back(event) is None
    assert await police.service._on().outbox.backlog() == 0


async def test_supervise_from_12345_reaches_110_as_an_alert_on_its_ticket(deployments, session):
    hotline, police = deployments
    _, opened = await pushed_and_settled(deployments, session)
    with police.bus.subscribe() as seen:
        await hotline.service.supervise(ticket_12345(), Peer("110", opened), "请于今日反馈办理进度",
                                        due_at=police.clock.now + 3600)
        await hotline.settle(police)
    assert events_named(seen, "exchange.alert") == [
        {"ticket_id": opened, "site": "110", "peer_platform": "12345", "reason": "supervise",
         "detail": "请于今日反馈办理进度"}]
    assert (await police.story(opened))[-1][0] == "exchange.received.supervise"


async def test_a_message_about_a_pair_no_handover_linked_is_refused_not_applied(deployments):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    with pytest.raises(NotSendable, match="not linked"):  # the service never sends one
        await police.service.status(ticket_110(), Peer("12345", T12345), "arrived")
    # a peer that does anyway (a bug, an older version): a status about 12345's ticket from a
    # 110 ticket no handover ever joined to it
    await police.service._on().outbox.enqueue("12345", "110-20261124-000099", StatusBody(
        stage="arrived", unit="U", detail="到场", at=police.clock.now), peer_ticket=T12345, now=police.clock.now)
    await hotline.settle(police)
    for _ in range(hotline.service.config.exchange_max_deliveries):  # it waits for a link that may yet come
        await hotline.service.apply_once(idle_ms=0)
    assert await hotline.story(T12345) == []  # nothing applied to 12345's ticket
    refused = [e for e in await hotline.service.audit.messages_about(T12345) if e["outcome"] == "refused"]
    assert [(e["type"], e["reason"].split(":")[0]) for e in refused] == [("status", "not_linked")]
    assert await hotline.service._on().inbox.claim("anyone", 10, 0, idle_ms=0) == []  # done, not left pending


# --- the boundary --------------------------------------------------------------------------


async def test_a_restricted_110_ticket_is_never_pushed(deployments, session):
    _, police = deployments
    await police.tickets.save(ticket_110(category="涉案线索"))
    status, body = await push_over_http(session, police, T110, "12345")
    assert (status, body["error"]["code"]) == (403, "push_refused")
    assert "restricted" in body["error"]["message"]
    with pytest.raises(PushRefused, match="never shared"):
        await police.service.hand_over(ticket_110(restricted=True), "push", "12345")
    assert await police.service._on().outbox.backlog() == 0


async def test_a_restricted_handover_by_transfer_crosses_by_number_only(deployments):
    hotline, police = deployments
    secret = ticket_110(category="涉案", summary="涉案线索，地址保密")
    await police.tickets.save(secret)
    sent = await police.service.hand_over(secret, "transfer", "12345", source_call="hl110-1795530667.2")
    await hotline.settle(police)
    opened_id = await hotline.redis.get(f"hl:exchange:opened:{sent.message_id}")
    ticket = await hotline.tickets.get(opened_id)
    assert ticket is not None and (ticket.source_platform, ticket.source_ticket) == ("110", T110)
    assert (ticket.category, ticket.summary, ticket.caller, ticket.division_code, ticket.emergency,
            ticket.restricted) == ("", "", "", "", False, True)
    [(event, data)] = await hotline.story(ticket.id)
    assert event == "exchange.received.handover" and data["restricted"] is True and data["summary"] == ""
    assert "涉案" not in repr(await hotline.service.audit.log())


async def test_a_110_handover_marked_emergency_arrives_non_emergency(deployments):
    hotline, police = deployments
    urgent = ticket_110(emergency=True)
    await police.tickets.save(urgent)
    by_rule = await police.service.hand_over(urgent, "transfer", "12345")  # 110's own boundary clears it
    assert by_rule.body.emergency is False  # type: ignore[union-attr]
    # an older 110 that sends it marked emergency anyway: 12345's boundary clears it on arrival
    marked = await police.service._on().outbox.enqueue("12345", "110-20261124-000032", HandoverBody.model_validate(
        {"mode": "push", "restricted": False, "category": "纠纷", "summary": "邻里纠纷", "division_code": "370203",
         "emergency": True, "caller": "13912345678"}), peer_ticket=None, now=police.clock.now)
    await hotline.settle(police)
    ticket = await hotline.pushed_ticket(marked.message_id)
    assert ticket.emergency is False and ticket.summary == "邻里纠纷"
    applied = [e for e in await hotline.service.audit.log() if e["message_id"] == marked.message_id
               and e["outcome"] == "applied"]
    assert [e["reason"] for e in applied] == ["forced body.emergency"]
    assert await hotline.ticket_count() == 2


# --- operating it --------------------------------------------------------------------------


async def test_a_stopped_queue_shows_on_the_status_page_and_resumes(deployments, session):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    client = hotline.service.client
    right_url = misaddress(hotline, police)
    with hotline.bus.subscribe() as seen:
        await push_over_http(session, hotline, T12345, "110")
        await hotline.service.send_once()
    assert [a["reason"] for a in events_named(seen, "exchange.alert")] == ["method_not_allowed"]
    headers = {"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}
    async with session.get(f"{hotline.url}/api/exchange/v1/status", headers=headers) as resp:
        assert resp.status == 200
        state = await resp.json()
    assert (state["enabled"], state["platform"], state["peer_platform"], state["backlog"]) == (True, "12345", "110", 1)
    assert [(s["ticket"], s["type"], s["reason"].split(":")[0]) for s in state["stopped"]] == \
        [(T12345, "handover", "method_not_allowed")]
    async with session.get(f"{hotline.url}/api/exchange/v1/status",
                           headers={"Authorization": f"Bearer {AGENT_TOKEN}"}) as resp:
        assert resp.status == 403
    client.url = right_url  # type: ignore[attr-defined]  # the operator mends the address
    resume = f"{hotline.url}/api/exchange/v1/queues/110/{T12345}/resume"
    async with session.post(resume, headers=headers) as resp:
        assert (resp.status, await resp.json()) == (200, {"to_platform": "110", "ticket": T12345, "resumed": True})
    async with session.post(resume, headers=headers) as resp:
        assert (resp.status, (await resp.json())["error"]["code"]) == (404, "not_stopped")
    await hotline.settle(police)
    assert await police.ticket_count() == 1 and await hotline.service._on().outbox.stopped() == []


async def test_a_supervisor_voids_a_stopped_head_over_http_and_it_is_never_sent(deployments, session):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    right_url = misaddress(hotline, police)
    await push_over_http(session, hotline, T12345, "110")
    await hotline.service.send_once()  # refused for good: the queue stops
    skip = f"{hotline.url}/api/exchange/v1/queues/110/{T12345}/skip"
    async with session.post(skip, headers={"Authorization": f"Bearer {AGENT_TOKEN}"}) as resp:
        assert resp.status == 403
    [stopped] = await hotline.service._on().outbox.stopped()
    headers = {"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}
    async with session.post(skip, headers=headers) as resp:
        assert (resp.status, await resp.json()) == (200, {"to_platform": "110", "ticket": T12345,
                                                          "voided": stopped["message_id"]})
    async with session.post(skip, headers=headers) as resp:
        assert (resp.status, (await resp.json())["error"]["code"]) == (404, "not_stopped")
    hotline.service.client.url = right_url  # type: ignore[union-attr]
    await hotline.settle(police)
    assert await police.ticket_count() == 0  # the voided handover never went
    assert await hotline.service._on().outbox.backlog() == 0
    outcomes = [e["outcome"] for e in await hotline.service.audit.messages_about(T12345)
                if e["message_id"] == stopped["message_id"]]
    assert outcomes[-1] == "voided"
