"""The sender's outbox in Redis (a redis-server of the test's own): each ticket's messages
numbered from 1, one in flight per ticket, leased so two instances never send the same
head at once, retried with a capped back-off and never dropped, stopped by a final
refusal until resumed, with other tickets going on meanwhile."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from exchange.messages import SuperviseBody
from exchange.outbox_store import OutboxStore
from exchange.redis_keys import OUTBOX_DUE, outbox_message_key, outbox_queue_key
from exchange.redis_state import CorruptState
from exchange.sequencing import Pending
from tests.unit.exchange_samples import NOW, T110, T12345
from tickets.outbox import MAX_BACKOFF_S
from tickets.store import TICKET_TTL_S

LEASE_S = 30.0


def ours(n: int) -> str:
    """Our n-th ticket (12345)."""
    return f"12345-20261124-{n:06d}"


def note(text: str = "请于今日反馈办理进度") -> SuperviseBody:
    return SuperviseBody(note=text, due_at=NOW + 3600)


async def queue(store: OutboxStore, ticket: str = T12345, n: int = 1, now: float = NOW) -> list:
    return [await store.enqueue("110", ticket, note(f"第{i}次"), peer_ticket=T110, now=now) for i in range(n)]


@pytest.fixture
def store(private_redis: Redis) -> OutboxStore:
    return OutboxStore(private_redis, "12345")


async def test_a_tickets_messages_are_numbered_and_only_the_head_is_due(store):
    one, two, three = await queue(store, n=3)
    assert [env.seq for env in (one, two, three)] == [1, 2, 3]
    assert (one.from_platform, one.to_platform, one.ticket, one.peer_ticket, one.sent_at) == (
        "12345", "110", T12345, T110, NOW)
    assert [env.message_id for env in await store.due(NOW + 1, 10, LEASE_S)] == [one.message_id]
    assert await store.backlog() == 3
    assert (await store.queue("110", T12345)).in_flight == Pending(one.message_id, 1)


async def test_a_due_head_is_stamped_as_sent_at_each_attempt(store):
    [one] = await queue(store)
    [first] = await store.due(NOW + 5, 10, LEASE_S)
    [again] = await store.due(NOW + 5 + LEASE_S, 10, LEASE_S)  # the lease ran out: the sender died
    assert (first.sent_at, again.sent_at) == (NOW + 5, NOW + 5 + LEASE_S)
    assert first.model_copy(update={"sent_at": NOW}) == one == again.model_copy(update={"sent_at": NOW})


async def test_enqueue_is_idempotent_on_the_message_id(store):
    mid = uuid.uuid4().hex
    first = await store.enqueue("110", T12345, note(), peer_ticket=T110, now=NOW, message_id=mid)
    again = await store.enqueue("110", T12345, note("另一个"), peer_ticket=T110, now=NOW + 9, message_id=mid)
    assert again == first and await store.backlog() == 1
    await store.acked(first, now=NOW + 10)
    assert await store.enqueue("110", T12345, note(), peer_ticket=T110, now=NOW + 20, message_id=mid) == first
    assert (await store.queue("110", T12345)).next_seq == 2
    with pytest.raises(ValueError, match="already queued"):
        await store.enqueue("110", ours(99), note(), peer_ticket=T110, now=NOW, message_id=mid)


async def test_acked_forgets_the_head_and_makes_the_next_one_due(store, private_redis):
    one, two = await queue(store, n=2)
    [sent] = await store.due(NOW + 1, 10, LEASE_S)
    await store.acked(sent, now=NOW + 2, outcome="applied")
    assert await store.backlog() == 1
    assert [env.message_id for env in await store.due(NOW + 2, 10, LEASE_S)] == [two.message_id]
    assert await private_redis.hget(outbox_message_key(one.message_id), "state") == "done"
    await store.acked(sent, now=NOW + 3)  # a late acknowledgement again: nothing changes
    assert (await store.queue("110", T12345)).pending == (Pending(two.message_id, 2),)
    outcomes = [(e["seq"], e["outcome"]) for e in await store.audit.messages_about(T12345)]
    assert outcomes == [(1, "queued"), (2, "queued"), (1, "applied")]


async def test_two_instances_asking_at_once_never_get_the_same_head(redis_url):
    clients = [Redis.from_url(redis_url, decode_responses=True) for _ in range(2)]
    try:
        stores = [OutboxStore(client, "12345") for client in clients]
        heads = [(await queue(stores[0], ours(n)))[0].message_id for n in range(1, 41)]
        for attempt in range(3):  # and again whenever the leases run out
            now = NOW + 1 + attempt * LEASE_S
            got = await asyncio.gather(*(s.due(now, 7, LEASE_S) for s in stores * 3))
            ids = [env.message_id for batch in got for env in batch]
            assert len(ids) == len(set(ids)) == 40 and set(ids) == set(heads)
            assert await stores[1].due(now, 100, LEASE_S) == []  # all leased
    finally:
        for client in clients:
            await client.aclose()


async def test_a_failing_peer_backs_off_but_never_drops_the_message(store):
    [one] = await queue(store)
    now = NOW
    for attempts in range(1, 200):
        [sent] = await store.due(now, 10, LEASE_S)
        assert sent.message_id == one.message_id
        when = await store.retry_later(sent, now, attempts, reason="ClientConnectorError")
        assert when is not None and now < when <= now + MAX_BACKOFF_S
        assert await store.due(when - 0.01, 10, LEASE_S) == []  # not before its time
        now = when
    assert await store.backlog() == 1 and await store.stopped() == []
    [late] = await store.due(now + 86400 * 30, 10, LEASE_S)  # a month-long partition
    assert late.message_id == one.message_id and late.sent_at == now + 86400 * 30


async def test_a_retry_of_what_is_no_longer_in_flight_changes_nothing(store):
    _one, two = await queue(store, n=2)
    [sent] = await store.due(NOW, 10, LEASE_S)
    await store.acked(sent, now=NOW + 1)
    assert await store.retry_later(sent, NOW + 2, 1) is None
    [head] = await store.due(NOW + 2, 10, LEASE_S)
    assert head.message_id == two.message_id


async def test_a_rejection_stops_the_queue_until_an_operator_resumes_it(store):
    one, _two = await queue(store, n=2)
    [sent] = await store.due(NOW + 1, 10, LEASE_S)
    await store.rejected(sent, "conflict: seq 1 was applied as message x", now=NOW + 2)
    assert await store.due(NOW + 3600, 10, LEASE_S) == []
    [stop] = await store.stopped()
    assert stop == {"to_platform": "110", "ticket": T12345, "message_id": one.message_id, "seq": 1,
                    "type": "supervise", "reason": "conflict: seq 1 was applied as message x", "at": NOW + 2}
    three = (await queue(store))[0]  # more messages queue up behind it, none goes
    assert three.seq == 3 and await store.due(NOW + 7200, 10, LEASE_S) == []
    assert await store.backlog() == 3
    await store.rejected(sent, "again", now=NOW + 3)  # not in flight: nothing
    assert (await store.queue("110", T12345)).stopped.startswith("conflict")
    assert await store.resume("110", T12345, now=NOW + 10)
    assert await store.stopped() == []
    assert [env.message_id for env in await store.due(NOW + 10, 10, LEASE_S)] == [one.message_id]
    assert not await store.resume("110", T12345, now=NOW + 11)  # not stopped: nothing to do
    outcomes = [e["outcome"] for e in await store.audit.messages_about(T12345)]
    assert outcomes == ["queued", "queued", "rejected", "queued", "resumed"]


async def test_a_stopped_ticket_does_not_hold_up_the_others(store):
    [stuck] = await queue(store, ours(1))
    [sent] = await store.due(NOW, 10, LEASE_S)
    await store.rejected(sent, "wrong_key", now=NOW)
    [other] = await queue(store, ours(2), now=NOW + 1)
    assert [env.message_id for env in await store.due(NOW + 1, 10, LEASE_S)] == [other.message_id]
    assert [s["ticket"] for s in await store.stopped()] == [ours(1)] and stuck.seq == 1


async def test_acknowledging_a_stopped_head_ends_the_stop(store):
    await queue(store, n=2)
    [sent] = await store.due(NOW, 10, LEASE_S)
    await store.rejected(sent, "peer cannot read it", now=NOW)
    await store.acked(sent, now=NOW + 1)  # the peer had it after all (an answer that came late)
    assert await store.stopped() == [] and (await store.queue("110", T12345)).stopped == ""
    assert [env.seq for env in await store.due(NOW + 1, 10, LEASE_S)] == [2]


async def test_queue_and_messages_live_as_long_as_tickets(store, private_redis):
    [one] = await queue(store)
    for key in (outbox_queue_key("110", T12345), outbox_message_key(one.message_id)):
        assert 0 < await private_redis.ttl(key) <= TICKET_TTL_S


@pytest.mark.parametrize("raw, named", [
    ("not json", "the whole value"),
    ('{"next_seq": 1, "pending": [[1, "x"]], "stopped": ""}', "pending.0.0"),
    ('{"next_seq": 1}', "pending"),
])
async def test_unreadable_queue_state_is_an_error_naming_its_key(store, private_redis, raw, named):
    key = outbox_queue_key("110", T12345)
    await private_redis.set(key, raw)
    with pytest.raises(CorruptState) as caught:
        await queue(store)
    assert caught.value.key == key and named in str(caught.value) and key in str(caught.value)
    assert await private_redis.get(key) == raw


async def test_an_unreadable_message_does_not_hold_up_the_other_heads(store, private_redis):
    [bad] = await queue(store, ours(1))
    [good] = await queue(store, ours(2))
    await private_redis.hset(outbox_message_key(bad.message_id), "envelope", '{"v": 2}')
    assert [env.message_id for env in await store.due(NOW + 1, 10, LEASE_S)] == [good.message_id]
    await private_redis.delete(outbox_message_key(good.message_id))  # expired: forgotten
    assert await store.due(NOW + 100, 10, LEASE_S) == []
    assert await private_redis.zscore(OUTBOX_DUE, good.message_id) is None


async def test_retries_leave_the_reports_log_and_the_tickets_index_alone(store):
    await queue(store)
    before, about = await store.audit.log(), await store.audit.messages_about(T12345)
    now = NOW
    for attempts in range(1, 51):
        [sent] = await store.due(now, 10, LEASE_S)
        when = await store.retry_later(sent, now, attempts, reason="ClientConnectorError")
        assert when is not None
        now = when
    assert await store.audit.log() == before
    assert await store.audit.messages_about(T12345) == about
    retries = await store.audit.retries()
    assert len(retries) == 50 and {e["outcome"] for e in retries} == {"retry"}
    assert retries[-1]["reason"] == "attempt 50: ClientConnectorError"


async def test_an_operator_voids_a_head_the_peer_can_never_take_and_the_rest_go_on(store):
    one, two, three = await queue(store, n=3)
    [sent] = await store.due(NOW + 1, 10, LEASE_S)
    await store.rejected(sent, "bad_message: field 'body.note': too long", now=NOW + 2)
    assert await store.skip("110", T12345, now=NOW + 10) == one.message_id
    assert await store.stopped() == [] and await store.backlog() == 2
    [head] = await store.due(NOW + 10, 10, LEASE_S)
    # the peer still waits for seq 1: the next message takes it, the one after moves up too
    assert (head.message_id, head.seq) == (two.message_id, 1)
    await store.acked(head, now=NOW + 11)
    [last] = await store.due(NOW + 11, 10, LEASE_S)
    assert (last.message_id, last.seq) == (three.message_id, 2)
    assert (await queue(store))[0].seq == 3  # no gap after
    about_one = [e["outcome"] for e in await store.audit.messages_about(T12345) if e["message_id"] == one.message_id]
    assert about_one == ["queued", "rejected", "voided"]
    assert await store.skip("110", T12345, now=NOW + 12) is None  # not stopped: nothing to void


async def test_after_a_conflict_the_voided_seq_stays_taken(store):
    one, two = await queue(store, n=2)
    [sent] = await store.due(NOW + 1, 10, LEASE_S)
    await store.rejected(sent, "conflict: seq 1 was applied as message x", now=NOW + 2)
    assert await store.skip("110", T12345, now=NOW + 3) == one.message_id
    [head] = await store.due(NOW + 3, 10, LEASE_S)
    assert (head.message_id, head.seq) == (two.message_id, 2)
