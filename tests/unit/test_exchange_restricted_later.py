"""A case flagged restricted after its messages were queued: what leaves is the form a
restricted ticket sends (same message id and seq), never the content queued before (控制
知悉范围). Two real deployments; rounds driven one at a time."""

from __future__ import annotations

from typing import Any

from exchange.effects import Peer
from tests.unit.exchange_deployments import Deployment
from tests.unit.exchange_samples import T12345, ticket_12345


async def flag_restricted(one: Deployment, ticket_id: str) -> None:
    ticket = await one.tickets.get(ticket_id)
    assert ticket is not None
    await one.tickets.update(ticket, restricted=True)


async def test_a_handover_queued_before_the_flag_crosses_by_number_only(deployments: Any) -> None:
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    queued = await hotline.service.hand_over_call(ticket_12345(), "transfer", "110", "hl12345-1795530667.13")
    assert queued.body.summary  # queued with its content
    await flag_restricted(hotline, T12345)
    await hotline.settle(police)
    [key] = await police.redis.keys("hl:ticket:110-*")
    opened = await police.tickets.get(key.split(":", 2)[2])
    assert opened is not None
    assert (opened.category, opened.summary, opened.caller, opened.restricted) == ("", "", "", True)
    [(_, data)] = [(name, data) for name, data in await police.story(opened.id)
                   if name == "exchange.received.handover"]
    assert (data["message_id"], data["seq"], data["restricted"]) == (queued.message_id, queued.seq, True)
    assert (data["category"], data["summary"], data["division_code"]) == ("", "", "")


async def test_a_status_queued_before_the_flag_crosses_without_its_text(deployments: Any) -> None:
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    await hotline.push.push(T12345, "110")
    await hotline.settle(police)
    [key] = await police.redis.keys("hl:ticket:110-*")
    opened = await police.tickets.get(key.split(":", 2)[2])
    assert opened is not None
    queued = await police.service.status(opened, Peer("12345", T12345), "arrived", unit="八大湖派出所",
                                         detail="民警已到场，嫌疑人住址保密")
    assert queued.body.detail  # queued with its text
    await flag_restricted(police, opened.id)
    await hotline.settle(police)
    [data] = [data for name, data in await hotline.story(T12345) if name == "exchange.received.status"]
    assert (data["message_id"], data["seq"], data["stage"]) == (queued.message_id, queued.seq, "arrived")
    assert (data.get("unit"), data.get("detail", "")) == (None, "")
    assert "八大湖" not in str(data) and "保密" not in str(data)
