"""A received push whose id was claimed but whose ticket was never saved (the first try
died between the two) opens its ticket on the retry, instead of answering "duplicate"
with no ticket. Two real deployments; nothing of Redis is mocked."""

from __future__ import annotations

from typing import Any

import pytest
import redis.exceptions

from tests.unit.exchange_samples import T12345, ticket_12345
from tickets.store import Ticket


async def test_a_push_claimed_but_not_saved_opens_its_ticket_on_the_retry(deployments: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    payload = await hotline.push.push(T12345, "110")
    await hotline.service.send_once()
    real, calls = police.tickets.save, []

    async def fails_once(ticket: Ticket) -> None:
        calls.append(ticket.id)
        if len(calls) == 1:
            raise redis.exceptions.ConnectionError("connection reset")
        await real(ticket)

    monkeypatch.setattr(police.tickets, "save", fails_once)
    with pytest.raises(redis.exceptions.ConnectionError):
        await police.service.apply_once()  # the push id is claimed, its ticket not saved
    assert await police.service.apply_once(idle_ms=0) == 1  # the retry
    opened = await police.pushed_ticket(payload.push_id)
    assert (opened.id, opened.source_ticket) == (calls[0], T12345)
    await hotline.settle(police)
    assert await police.ticket_count() == 1
    assert "exchange.received.received" in [name for name, _ in await hotline.story(T12345)]
