"""The exchange plugin between two real deployments when things go wrong: the peer's server
down then up, an answer lost (the message delivered twice), the applier dying between the
effect and ``done``, a wrong key on one side. Whatever happens: nothing lost, nothing
applied twice, no second ticket. Rounds are driven one at a time on a shared clock."""

from __future__ import annotations

from exchange import wire
from exchange.effects import derived_id
from tests.unit.exchange_deployments import Deployment, events_named, keyring
from tests.unit.exchange_samples import T12345, ticket_12345

LEASE_S = 30.0  # the deployments' lease_s


async def three_pushes(hotline: Deployment) -> list[str]:
    """Three of 12345's tickets pushed to 110 (through the push service, as the API does)."""
    ids = []
    for n in (17, 18, 19):
        ticket = ticket_12345(id=f"12345-20261124-0000{n}")
        await hotline.tickets.save(ticket)
        ids.append((await hotline.push.push(ticket.id, "110")).push_id)
    return ids


async def test_the_peer_down_then_up_gets_everything_once(deployments):
    hotline, police = deployments
    await police.down()
    pushed = await three_pushes(hotline)
    assert await hotline.service.send_once() == 3
    outbox = hotline.service._on().outbox
    assert await outbox.backlog() == 3 and await outbox.stopped() == []  # retried, not dropped
    assert [await outbox.attempts(mid) for mid in pushed] == [1, 1, 1]
    hotline.clock.now += 10  # past the back-off: still down
    assert await hotline.service.send_once() == 3
    assert await outbox.backlog() == 3
    await police.up()  # on the same port
    hotline.clock.now += 10
    await hotline.settle(police)
    assert await outbox.backlog() == 0 and await police.service._on().outbox.backlog() == 0
    assert await police.ticket_count() == 3
    assert sorted([(await police.pushed_ticket(mid)).source_ticket for mid in pushed]) == \
        ["12345-20261124-000017", "12345-20261124-000018", "12345-20261124-000019"]
    for n in (17, 18, 19):  # each 12345 ticket signed for once
        story = await hotline.story(f"12345-20261124-0000{n}")
        assert [event for event, _ in story] == ["exchange.sent.handover", "exchange.received.received"]


async def test_a_message_delivered_twice_opens_one_ticket(deployments):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    pushed = await hotline.push.push(T12345, "110")
    outbox, client = hotline.service._on().outbox, hotline.service.client
    assert client is not None
    [head] = await outbox.due(hotline.clock.now, 10, LEASE_S)
    first = await client.deliver(head)  # taken by 110, but its answer is lost: never read here
    assert isinstance(first, wire.Acked) and first.receipt.outcome == "applied"
    hotline.clock.now += LEASE_S + 1  # the lease runs out: the same message goes again
    await hotline.settle(police)
    assert await outbox.backlog() == 0
    duplicates = [e for e in await hotline.service.audit.log() if e["outcome"] == "duplicate"]
    assert [e["message_id"] for e in duplicates] == [pushed.push_id]
    assert await police.ticket_count() == 1
    assert [event for event, _ in await hotline.story(T12345)] == ["exchange.sent.handover",
                                                                    "exchange.received.received"]


async def test_the_applier_dying_after_the_effect_runs_again_without_a_second_ticket(deployments):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    pushed = await hotline.push.push(T12345, "110")
    await hotline.service.send_once()
    inbox = police.service._on().inbox
    [(_, envelope)] = await inbox.claim("died", 10, 0)
    await police.service.apply(envelope)  # the effect ran; the consumer died before done
    opened = await police.pushed_ticket(pushed.push_id)
    assert await police.service.apply_once(idle_ms=0) == 1  # another consumer claims it again
    assert await inbox.claim("anyone", 10, 0, idle_ms=0) == []  # and this time it is done
    assert await police.ticket_count() == 1 and (await police.pushed_ticket(pushed.push_id)).id == opened.id
    assert [event for event, _ in await police.story(opened.id)] == ["exchange.received.handover",
                                                                      "exchange.sent.received"]
    queue = await police.service._on().outbox.queue("12345", opened.id)
    assert queue.next_seq == 2  # one 签收, the same message both times
    assert [p.message_id for p in queue.pending] == [derived_id(pushed.push_id, "received")]
    await hotline.settle(police)
    assert [event for event, _ in await hotline.story(T12345)] == ["exchange.sent.handover",
                                                                    "exchange.received.received"]


async def test_a_wrong_key_retries_with_an_alert_and_delivers_once_fixed(deployments):
    hotline, police = deployments
    client = hotline.service.client
    assert client is not None
    client.keyring = keyring(up="w" * 40)  # type: ignore[attr-defined]  # 12345 holds a wrong secret for k1
    await hotline.tickets.save(ticket_12345())
    with hotline.bus.subscribe() as seen:
        pushed = await hotline.push.push(T12345, "110")
        assert await hotline.service.send_once() == 1
        hotline.clock.now += 60
        assert await hotline.service.send_once() == 0  # a key refusal waits wire.KEY_RETRY_S, not the back-off
    alerts = events_named(seen, "exchange.alert")
    assert [(a["reason"], a["ticket_id"], a["site"], a["peer_platform"]) for a in alerts] == \
        [("bad_signature", T12345, "12345", "110")]
    outbox = hotline.service._on().outbox
    assert await outbox.backlog() == 1 and await outbox.stopped() == [] and await police.ticket_count() == 0
    client.keyring = keyring()  # type: ignore[attr-defined]  # the operator fixes the secrets file
    hotline.clock.now += wire.KEY_RETRY_S
    await hotline.settle(police)
    assert await outbox.backlog() == 0
    assert (await police.pushed_ticket(pushed.push_id)).source_ticket == T12345
    assert await police.ticket_count() == 1


async def test_a_handover_by_call_applied_again_opens_one_ticket(deployments):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    sent = await hotline.service.hand_over(ticket_12345(), "transfer", "110", source_call="hl12345-1795530667.13")
    await hotline.service.send_once()
    [(_, envelope)] = await police.service._on().inbox.claim("died", 10, 0)
    await police.service.apply(envelope)
    assert await police.service.apply_once(idle_ms=0) == 1
    opened = await police.redis.get(f"hl:exchange:opened:{sent.message_id}")
    assert await police.ticket_count() == 1
    ticket = await police.tickets.get(opened)
    assert ticket is not None and (ticket.source_ticket, ticket.summary) == (T12345, ticket_12345().summary)
    assert [event for event, _ in await police.story(opened)] == ["exchange.received.handover"]
    assert await police.service._on().outbox.backlog() == 0  # a call's 签收 is its agent's, not the system's
    assert await police.tickets.handover_was_sent(T12345, "110")  # intake links the call that follows
