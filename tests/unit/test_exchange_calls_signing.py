"""签收 by the agent: when a call the other platform transferred is answered here, the
sender's ticket hears ``received`` naming that agent, once, whether the call was answered
before or after its handover message linked the ticket; a second answer (a re-route) sends
nothing more; a push keeps ``system``; a call of our own signs for nothing. Two deployments
on redis-servers of their own, rounds driven one at a time."""

from __future__ import annotations

from typing import Any

from exchange.calls import agent_of
from hotline_link.core.bus import BusEvent
from tests.unit.exchange_calls import AGENT_110, answered, arrive, queued, route_hook
from tests.unit.exchange_deployments import Deployment
from tests.unit.exchange_samples import T12345, ticket_12345

ARRIVED = "hl110-1795530700.5"


async def transferred(hotline: Deployment, police: Deployment) -> None:
    await hotline.tickets.save(ticket_12345())
    await hotline.service.hand_over_call(ticket_12345(), "transfer", "110", "hl12345-1795530667.13")


async def signed_for(hotline: Deployment) -> list[dict[str, Any]]:
    """12345's ticket's 签收 as its timeline shows them."""
    return [data for event, data in await hotline.story(T12345) if event == "exchange.received.received"]


async def test_the_agent_answering_a_transferred_call_signs_for_it_once(deployments):
    hotline, police = deployments
    await transferred(hotline, police)
    await hotline.settle(police)  # the message first
    await arrive(route_hook(police), "110", ARRIVED, "12345", T12345)
    ticket = await police.tickets.for_call(ARRIVED)
    assert ticket is not None
    sent = await police.service.sign_for(BusEvent.of(answered(ARRIVED, "110", AGENT_110)))
    assert sent is not None and (sent.type, sent.peer_ticket) == ("received", T12345)
    assert sent.body.accepted_by == AGENT_110  # type: ignore[union-attr]
    await police.service.sign_for(BusEvent.of(answered(ARRIVED, "110", "2002")))  # re-routed, answered again
    await hotline.settle(police)
    assert [(s["accepted_by"], s["receiver_ticket"]) for s in await signed_for(hotline)] == [(AGENT_110, ticket.id)]
    assert len(await queued(police, ticket.id, "received")) == 1


async def test_answered_before_the_message_came_the_sign_for_follows_the_link(deployments):
    hotline, police = deployments
    await arrive(route_hook(police), "110", ARRIVED, "12345", T12345)  # the call first, answered at once
    assert await police.service.sign_for(BusEvent.of(answered(ARRIVED, "110", AGENT_110))) is None  # not linked yet
    assert await police.service._on().outbox.backlog() == 0
    await police.service.sign_for(BusEvent.of(answered(ARRIVED, "110", "2002")))  # the first answer signs
    await transferred(hotline, police)
    await hotline.settle(police)
    ticket = await police.tickets.for_call(ARRIVED)
    assert ticket is not None
    assert [(s["accepted_by"], s["receiver_ticket"]) for s in await signed_for(hotline)] == [(AGENT_110, ticket.id)]
    await police.service.sign_for(BusEvent.of(answered(ARRIVED, "110", AGENT_110)))  # heard again later
    await hotline.settle(police)
    assert len(await signed_for(hotline)) == 1


async def test_the_running_consumer_signs_for_a_call_answered_on_the_bus(deployments):
    hotline, police = deployments
    await transferred(hotline, police)
    await hotline.settle(police)
    await arrive(route_hook(police), "110", ARRIVED, "12345", T12345)
    ticket = await police.tickets.for_call(ARRIVED)
    assert ticket is not None
    await police.service.start()
    police.bus.emit(answered(ARRIVED, "110", AGENT_110))
    await police.service.stop()  # the consumer handles what it was handed before it stops
    [entry] = await queued(police, ticket.id, "received")
    assert entry["peer_ticket"] == T12345


async def test_a_call_of_our_own_or_a_trunk_answering_signs_for_nothing(deployments):
    hotline, police = deployments
    own = await police.tickets.open_for_call("110", "hl110-own.1")
    assert await police.service.sign_for(BusEvent.of(answered("hl110-own.1", "110", AGENT_110))) is None
    await transferred(hotline, police)
    await hotline.settle(police)
    await arrive(route_hook(police), "110", ARRIVED, "12345", T12345)
    trunk = BusEvent.of(answered(ARRIVED, "110", "trunk-12345"))  # PJSIP/trunk-12345: a remote seat's leg
    assert await police.service.sign_for(trunk) is None
    assert await queued(police, own.id, "received") == []
    assert await police.service._on().outbox.backlog() == 0


async def test_a_push_keeps_system_as_its_sign_for(deployments):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    await hotline.push.push(T12345, "110")
    await hotline.settle(police)
    assert [s["accepted_by"] for s in await signed_for(hotline)] == ["system"]


def test_only_an_agents_phone_answers_for_a_person():
    assert agent_of("PJSIP/2001") == "2001" and agent_of("SIP/1001") == "1001"
    assert agent_of("PJSIP/trunk-110") is None and agent_of("Local/110@conference-out") is None
    assert agent_of("") is None and agent_of("PJSIP/2001-0000002a") is None
