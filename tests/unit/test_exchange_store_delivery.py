"""The outbox and the inbox in Redis together, over a network that loses, doubles and
reorders messages and loses answers: whatever happens, once the network heals every
message is applied exactly once, in seq order per ticket, and the sender's backlog is
empty. Sender and receiver each have a Redis database of their own, as two deployments."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.inbox_store import InboxStore
from exchange.messages import SuperviseBody
from exchange.outbox_store import OutboxStore
from tests.unit.exchange_network import Network
from tests.unit.exchange_samples import T110

OPS = st.lists(st.tuples(st.sampled_from(["send", "deliver", "deliver", "drop", "double", "wait"]),
                         st.integers(0, 100), st.booleans()), max_size=80)


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
    await net.heal()
    assert await net.sender.backlog() == 0 and await net.sender.stopped() == []
    claimed = await net.receiver.claim("c1", 1000, 0)
    applied: dict[str, list[str]] = {}
    for _, envelope in claimed:
        applied.setdefault(envelope.ticket, []).append(envelope.message_id)
        assert envelope.seq == len(applied[envelope.ticket])  # in seq order, none twice
    assert applied == sent
