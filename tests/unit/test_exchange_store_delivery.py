"""The outbox and the inbox in Redis together, over a network that loses, doubles and
reorders messages and loses answers: whatever happens, once the network heals every
message is applied exactly once, in seq order per ticket, and the sender's backlog is
empty. Sender and receiver each have a Redis database of their own, as two deployments."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from exchange.boundary import admit
from exchange.inbox_store import InboxStore
from exchange.messages import Envelope, SuperviseBody
from exchange.outbox_store import OutboxStore
from tests.unit.exchange_samples import NOW, T110

LEASE_S = 5.0
OPS = st.lists(st.tuples(st.sampled_from(["send", "deliver", "deliver", "drop", "double", "wait"]),
                         st.integers(0, 100), st.booleans()), max_size=80)


@pytest.fixture
async def receiver_redis(redis_url: str) -> AsyncIterator[Redis]:
    """The receiving deployment's Redis: another database of the test's redis-server."""
    client = Redis.from_url(redis_url.removesuffix("/0") + "/1", decode_responses=True)
    yield client
    await client.aclose()


class Network:
    """Two deployments and what is on the wire between them."""

    def __init__(self, sender: OutboxStore, receiver: InboxStore) -> None:
        self.sender, self.receiver = sender, receiver
        self.wire: list[Envelope] = []
        self.now = NOW

    async def send(self) -> None:
        self.wire += await self.sender.due(self.now, 10, LEASE_S)

    async def deliver(self, envelope: Envelope, answer_lost: bool) -> None:
        receipt = await self.receiver.receive(envelope, admit(envelope, "110"), self.now)
        assert receipt.outcome.value != "refused" or receipt.retry, receipt  # no conflict ever
        event(f"{receipt.outcome.value} {receipt.reason}".strip())
        if answer_lost:
            return  # the sender sends it again once its lease runs out
        if receipt.acknowledged:
            await self.sender.acked(envelope, now=self.now, outcome=receipt.outcome.value)
        else:
            await self.sender.retry_later(envelope, self.now, 1, reason=receipt.reason)


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3), ops=OPS)
async def test_a_lossy_doubling_reordering_network_applies_each_message_once_in_order(
        private_redis, receiver_redis, sizes, ops):
    await private_redis.flushall()
    net = Network(OutboxStore(private_redis, "12345"), InboxStore(receiver_redis, "110"))
    await net.receiver.ensure_group()
    sent: dict[str, list[str]] = {}
    for n, size in enumerate(sizes, start=1):
        ticket = f"12345-20261124-{n:06d}"
        for i in range(size):
            env = await net.sender.enqueue("110", ticket, SuperviseBody(note=f"第{i + 1}次"), peer_ticket=T110,
                                           now=net.now)
            sent.setdefault(ticket, []).append(env.message_id)
    for op, pick, answer_lost in ops:
        net.now += 1
        if op == "send":
            await net.send()
        elif op == "wait":
            net.now += pick * 5  # up to a partition longer than the replay window
        elif net.wire:
            index = pick % len(net.wire)
            if op == "deliver":
                await net.deliver(net.wire.pop(index), answer_lost)
            elif op == "drop":
                net.wire.pop(index)
            else:
                net.wire.insert(pick % (len(net.wire) + 1), net.wire[index])
    for _ in range(500):  # the network heals: what is on the wire arrives, late, then the rest
        for envelope in net.wire:
            await net.deliver(envelope, answer_lost=False)
        net.wire = []
        if not await net.sender.backlog():
            break
        net.now += 61  # past any lease and back-off
        await net.send()
    assert await net.sender.backlog() == 0 and await net.sender.stopped() == []
    claimed = await net.receiver.claim("c1", 1000, 0)
    applied: dict[str, list[str]] = {}
    for _, envelope in claimed:
        applied.setdefault(envelope.ticket, []).append(envelope.message_id)
        assert envelope.seq == len(applied[envelope.ticket])  # in seq order, none twice
    assert applied == sent
