"""The applier keeps a ticket's order: a message about a pair its 签收 has not linked yet
(the 签收 on another instance, or its effect failed) waits and is applied once it is
linked, never dropped; the later entries of its stream wait with it; an entry that can
never be applied is given up after ``exchange_max_deliveries`` claims, with an alert. Two real
deployments, rounds driven one at a time."""

from __future__ import annotations

from typing import Any

import pytest

from exchange.effects import Peer
from exchange.messages import StatusBody
from tests.unit.exchange_deployments import Deployment, events_named
from tests.unit.exchange_samples import T12345, ticket_12345

OTHER_110 = "110-20261124-000099"  # a 110 ticket no handover of ours went to


async def received_then_status_applied_in_12345(hotline: Deployment, police: Deployment) -> None:
    """12345 pushes its case; 110 opens a ticket, sends its 签收 (seq 1) and a status (seq 2);
    12345's inbox applied both (onto the applied stream), its applier has not run yet."""
    await hotline.tickets.save(ticket_12345())
    await hotline.push.push(T12345, "110")
    await hotline.service.send_once()
    assert await police.service.apply_once() == 1  # 110 opens its ticket, queues 签收
    [key] = await police.redis.keys("hl:ticket:110-*")
    opened = await police.tickets.get(key.split(":", 2)[2])
    assert opened is not None
    await police.service.status(opened, Peer("12345", T12345), "dispatched", unit="八大湖派出所")
    assert await police.service.send_once() == 1  # received
    assert await police.service.send_once() == 1  # status
    assert await police.service._on().outbox.backlog() == 0  # 110 forgot both


async def story_types(hotline: Deployment) -> list[str]:
    return [name for name, _ in await hotline.story(T12345)]


async def test_a_status_claimed_before_its_received_is_linked_by_our_handover(deployments: Any) -> None:
    hotline, police = deployments
    await received_then_status_applied_in_12345(hotline, police)
    inbox = hotline.service._on().inbox
    first = await inbox.claim("instance-b", 1, 0)  # another instance takes the 签收 and stalls
    assert [e.type for _, e in first] == ["received"]
    assert await hotline.service.apply_once() == 1  # the status: the case is one we handed over
    assert await story_types(hotline) == ["exchange.sent.handover", "exchange.received.status"]
    assert await hotline.service.apply_once(idle_ms=0) == 1  # the stalled 签收, reclaimed
    assert await story_types(hotline) == ["exchange.sent.handover", "exchange.received.status",
                                          "exchange.received.received"]
    assert [e for e in await hotline.service.audit.log() if e["outcome"] == "refused"] == []
    assert await inbox.claim("anyone", 10, 0, idle_ms=0) == []


async def test_a_status_about_a_pair_not_linked_yet_waits_for_the_link(deployments: Any) -> None:
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    await police.service._on().outbox.enqueue("12345", OTHER_110, StatusBody(
        stage="arrived", unit="U", detail="到场", at=police.clock.now), peer_ticket=T12345, now=police.clock.now)
    assert await police.service.send_once() == 1
    assert await hotline.service.apply_once() == 1  # not linked: it waits, pending
    assert await hotline.story(T12345) == []
    assert [e for e in await hotline.service.audit.log() if e["outcome"] == "refused"] == []
    await hotline.service.audit.link("110", OTHER_110, T12345)  # what its 签收, applied late, does
    assert await hotline.service.apply_once(idle_ms=0) == 1
    assert await story_types(hotline) == ["exchange.received.status"]


async def test_a_failed_effect_holds_the_rest_of_its_stream(deployments: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    hotline, police = deployments
    await received_then_status_applied_in_12345(hotline, police)
    real, calls = hotline.service.audit.link, []

    async def fails_once(*args: str) -> None:
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("a bug or bad data, once")
        await real(*args)

    monkeypatch.setattr(hotline.service.audit, "link", fails_once)
    assert await hotline.service.apply_once() == 2  # the 签收 fails: the status is not tried
    assert await story_types(hotline) == ["exchange.sent.handover"]
    assert await hotline.service.apply_once(idle_ms=0) == 2
    assert await story_types(hotline) == ["exchange.sent.handover", "exchange.received.received",
                                          "exchange.received.status"]


@pytest.mark.parametrize("max_deliveries", [10, 3])  # the default, and a setting
async def test_a_message_never_linked_is_given_up_with_an_alert(deployments: Any, max_deliveries: int) -> None:
    hotline, police = deployments
    assert hotline.service.config.exchange_max_deliveries == 10
    hotline.service.config = hotline.service.config.model_copy(update={"exchange_max_deliveries": max_deliveries})
    await hotline.tickets.save(ticket_12345())
    await police.service._on().outbox.enqueue("12345", OTHER_110, StatusBody(
        stage="arrived", unit="U", detail="到场", at=police.clock.now), peer_ticket=T12345, now=police.clock.now)
    assert await police.service.send_once() == 1
    inbox = hotline.service._on().inbox
    with hotline.bus.subscribe() as seen:
        for _ in range(max_deliveries - 1):
            assert await hotline.service.apply_once(idle_ms=0) == 1
            assert [e for e in await hotline.service.audit.log() if e["outcome"] == "refused"] == []
            assert events_named(seen, "exchange.alert") == []
        assert await hotline.service.apply_once(idle_ms=0) == 1
    assert [a["reason"] for a in events_named(seen, "exchange.alert")] == ["not_linked"]
    refused = [e for e in await hotline.service.audit.log() if e["outcome"] == "refused"]
    assert [(e["type"], e["reason"].split(":")[0]) for e in refused] == [("status", "not_linked")]
    assert [row["reason"].split(":")[0] for row in await inbox.dead()] == ["not_linked"]
    assert await inbox.claim("anyone", 10, 0, idle_ms=0) == []
    assert await hotline.story(T12345) == []


async def test_an_effect_that_keeps_failing_is_buried_not_retried_forever(deployments: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    hotline, police = deployments
    await received_then_status_applied_in_12345(hotline, police)

    async def broken(*args: str) -> None:
        raise RuntimeError("bad data")

    monkeypatch.setattr(hotline.service.audit, "link", broken)
    inbox = hotline.service._on().inbox
    with hotline.bus.subscribe() as seen:
        for _ in range(hotline.service.config.exchange_max_deliveries):
            await hotline.service.apply_once(idle_ms=0)
    assert [a["reason"] for a in events_named(seen, "exchange.alert")] == ["apply_failed"]
    assert [row["reason"] for row in await inbox.dead()] == ["apply_failed: RuntimeError: bad data"]
    assert [e.type for _, e in await inbox.claim("anyone", 10, 0, idle_ms=0)] == ["status"]  # next in line
