"""A received push whose id was claimed but whose ticket was never saved (the first try
died between the two) opens its ticket on the retry, instead of answering "duplicate"
with no ticket. Two real deployments; nothing of Redis is mocked."""

from __future__ import annotations

import asyncio
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


async def test_two_tries_racing_on_one_push_save_its_ticket_once(deployments: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow first try has claimed the push id and not yet saved; a retry (or a second
    instance) meanwhile finds the claim with no ticket: one of them saves, once."""
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    payload = await hotline.push.push(T12345, "110")
    real, saved = police.tickets.save, []
    first_claimed, let_first_save = asyncio.Event(), asyncio.Event()

    async def slow_first(ticket: Ticket) -> None:
        saved.append(ticket.id)
        await real(ticket)

    real_set = police.redis.set

    async def set_then_pause(key: str, *args: Any, **kwargs: Any) -> Any:
        result = await real_set(key, *args, **kwargs)
        if key.startswith("hl:push-received:") and not first_claimed.is_set():
            first_claimed.set()
            await let_first_save.wait()  # the first try stalls between its claim and its save
        return result

    monkeypatch.setattr(police.tickets, "save", slow_first)
    monkeypatch.setattr(police.redis, "set", set_then_pause)
    first = asyncio.create_task(police.push.receive(payload))
    await first_claimed.wait()
    second = await police.push.receive(payload)
    let_first_save.set()
    results = [await first, second]
    assert {ticket_id for ticket_id, _ in results} == {saved[0]}
    assert sorted(again for _, again in results) == [False, True]
    assert len(saved) == 1 and await police.ticket_count() == 1
    stats = await police.push.stats()
    assert stats["110"]["received"] == 1, stats  # type: ignore[index]
