"""Inbox state the receiver cannot read, or a step that lost every race, is the
receiver's to mend: over a real server the answer is 503 with a generic message (never our
Redis key names), the sender retries, and the ticket's queue is not stopped."""

from __future__ import annotations

from typing import Any

import pytest

from exchange.redis_keys import inbox_stream_key
from exchange.redis_state import Contention
from tests.unit.exchange_samples import T12345, ticket_12345


async def pushed_once(hotline: Any) -> None:
    await hotline.tickets.save(ticket_12345())
    await hotline.push.push(T12345, "110")
    assert await hotline.service.send_once() == 1


async def assert_retried_not_stopped(hotline: Any) -> None:
    outbox = hotline.service._on().outbox
    assert await outbox.stopped() == []
    assert await outbox.backlog() == 1
    [retry] = await hotline.service.audit.retries()
    assert retry["outcome"] == "retry" and "unavailable" in retry["reason"]
    assert "hl:" not in retry["reason"]


async def test_unreadable_inbox_state_is_a_503_the_sender_retries(deployments: Any) -> None:
    hotline, police = deployments
    await police.redis.set(inbox_stream_key("12345", T12345), "not json")
    await pushed_once(hotline)
    await assert_retried_not_stopped(hotline)


async def test_an_inbox_step_that_lost_every_race_is_a_503(deployments: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    hotline, police = deployments

    async def raced(*args: Any) -> None:
        raise Contention(f"gave up after 100 races on {inbox_stream_key('12345', T12345)}")

    monkeypatch.setattr(police.service._on().inbox, "receive", raced)
    await pushed_once(hotline)
    await assert_retried_not_stopped(hotline)
