"""签收 and feedback when the roads cross: an answer whose ticket the handover completes
while it is being signed for still sends its 签收; feedback on a case we handed over that
comes before any 签收 (no agent signed for the call) is linked by our handover and applied.
Two real deployments; rounds driven one at a time."""

from __future__ import annotations

import asyncio
from typing import Any

from exchange.effects import Peer
from hotline_link.core.bus import BusEvent
from tests.unit.exchange_calls import AGENT_110, answered, arrive, route_hook
from tests.unit.exchange_samples import T12345, ticket_12345

CALL_12345 = "hl12345-1795530667.13"
ARRIVED = "hl110-1795530700.5"


async def test_an_answer_read_before_the_handover_completed_its_ticket_still_signs(deployments: Any) -> None:
    hotline, police = deployments
    await arrive(route_hook(police), "110", ARRIVED, "12345", T12345)  # the call first, not proven
    real, gate, read = police.tickets.for_call, asyncio.Event(), asyncio.Event()

    async def stalls_after_reading(call_id: str) -> Any:
        found = await real(call_id)
        read.set()
        await gate.wait()
        return found

    police.tickets.for_call = stalls_after_reading
    signing = asyncio.create_task(police.service.sign_for(BusEvent.of(answered(ARRIVED, "110", AGENT_110))))
    await read.wait()  # the answer read the ticket the call opened, not completed yet
    police.tickets.for_call = real
    await hotline.tickets.save(ticket_12345())
    await hotline.service.hand_over_call(ticket_12345(), "transfer", "110", CALL_12345)
    await hotline.service.send_once()
    assert await police.service.apply_once() == 1  # completes and links it; no agent kept yet
    gate.set()
    assert await signing is not None
    await hotline.settle(police)
    [signed] = [data for name, data in await hotline.story(T12345) if name == "exchange.received.received"]
    assert signed["accepted_by"] == AGENT_110


async def test_feedback_before_any_sign_for_is_linked_by_our_handover(deployments: Any) -> None:
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    await hotline.service.hand_over_call(ticket_12345(), "transfer", "110", CALL_12345)
    await hotline.settle(police)  # 110 opened its ticket; no agent answered: no 签收
    [key] = await police.redis.keys("hl:ticket:110-*")
    opened = await police.tickets.get(key.split(":", 2)[2])
    assert opened is not None
    await police.service.status(opened, Peer("12345", T12345), "dispatched", unit="八大湖派出所")
    await hotline.settle(police)
    assert "exchange.received.status" in [name for name, _ in await hotline.story(T12345)]
    assert await hotline.service.audit.is_linked(T12345, "110", opened.id)
    assert [e for e in await hotline.service.audit.log() if e["outcome"] == "refused"] == []
