"""The receiver's inbox in Redis (a redis-server of the test's own): each stream's
messages applied once and in order, held ones stored and released, duplicates answered
again, conflicts and replays refused, boundary refusals taking their seq without being
applied, the admitted form stored, one message from two instances applied once, a
crashed consumer's entries claimed again, unreadable state named by its key."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis

from exchange import boundary
from exchange.inbox import Limits
from exchange.inbox_store import InboxStore
from exchange.messages import Envelope
from exchange.receipts import Outcome, Receipt
from exchange.redis_keys import APPLIED, APPLIED_GROUP, LOG, inbox_stream_key
from exchange.redis_state import CorruptState
from tests.unit.exchange_samples import NOW, T110, T12345, envelope
from tickets.store import TICKET_TTL_S

STREAM_12345 = ("12345", T12345)  # what 12345's ticket sends to 110
ENTRY_FIELDS = {"direction", "message_id", "type", "kind", "from", "to", "ticket", "peer_ticket", "seq", "outcome",
                "reason", "at", "id"}


def supervise(seq: int, **changes) -> Envelope:
    return envelope("supervise", seq=seq, **changes)


async def take(store: InboxStore, env: Envelope, now: float = NOW) -> Receipt:
    return await store.receive(env, boundary.admit(env, store.platform), now)


async def applied(store: InboxStore, consumer: str = "c1") -> list[Envelope]:
    """What the consumer group hands out now (and marks done)."""
    await store.ensure_group()
    got = await store.claim(consumer, 100, 0)
    for entry_id, _ in got:
        await store.done(entry_id)
    return [env for _, env in got]


@pytest.fixture
def store(private_redis: Redis) -> InboxStore:
    return InboxStore(private_redis, "110")


async def test_messages_in_order_are_applied_and_expected_seq_moves_on(store):
    sent = [supervise(seq) for seq in (1, 2, 3)]
    receipts = [await take(store, env) for env in sent]
    assert [(r.outcome, r.expected_seq) for r in receipts] == [
        (Outcome.APPLIED, 2), (Outcome.APPLIED, 3), (Outcome.APPLIED, 4)]
    assert all(r.acknowledged for r in receipts)
    assert [env.message_id for env in await applied(store)] == [env.message_id for env in sent]
    assert await store.expected_seq(STREAM_12345) == 4
    assert await store.expected_seq(("12345", "12345-20261124-000099")) == 1


async def test_a_duplicate_is_acknowledged_again_and_applied_once(store, private_redis):
    one = supervise(1)
    first, again = await take(store, one), await take(store, one, now=NOW + 30)
    assert (first.outcome, again.outcome) == (Outcome.APPLIED, Outcome.DUPLICATE)
    assert again.acknowledged and again.expected_seq == 2
    assert await private_redis.xlen(APPLIED) == 1
    outcomes = [e["outcome"] for e in await store.audit.messages_about(T110)]
    assert outcomes == ["applied", "duplicate"]


async def test_early_messages_are_held_then_released_in_order(store, private_redis):
    one, two, three = (supervise(seq) for seq in (1, 2, 3))
    held3, held2 = await take(store, three), await take(store, two)
    assert (held3.outcome, held2.outcome) == (Outcome.HELD, Outcome.HELD)
    assert held3.acknowledged and held3.expected_seq == 1
    assert await private_redis.xlen(APPLIED) == 0
    stored = json.loads(await private_redis.get(inbox_stream_key(*STREAM_12345)))
    assert [h["envelope"]["seq"] for h in stored["held"]] == [2, 3]  # kept whole: the sender forgot them
    released = await take(store, one)
    assert (released.outcome, released.expected_seq) == (Outcome.APPLIED, 4)
    assert [env.seq for env in await applied(store)] == [1, 2, 3]
    assert json.loads(await private_redis.get(inbox_stream_key(*STREAM_12345)))["held"] == []


async def test_another_message_under_an_applied_seq_is_a_final_conflict(store, private_redis):
    await take(store, supervise(1))
    other = await take(store, supervise(1, note="另一条"))
    assert other.outcome is Outcome.REFUSED and other.reason == "conflict"
    assert not other.acknowledged and not other.retry
    assert await private_redis.xlen(APPLIED) == 1


async def test_a_replay_outside_the_window_is_refused_and_changes_nothing(store, private_redis):
    old = supervise(1, sent_at=NOW - 301)
    receipt = await take(store, old)
    assert receipt.outcome is Outcome.REFUSED and receipt.reason == "outside_window" and receipt.retry
    assert await private_redis.get(inbox_stream_key(*STREAM_12345)) is None
    assert await store.expected_seq(STREAM_12345) == 1
    assert await store.audit.log() == []  # a refusal to retry later is no outcome: not in the report's log
    [logged] = await store.audit.retries()
    assert (logged["outcome"], logged["message_id"]) == ("refused", old.message_id)
    assert logged["reason"].startswith("outside_window: ")
    # the same message stamped anew (a retry after a partition) is inside the window again
    assert (await take(store, supervise(1, sent_at=NOW, message_id=old.message_id))).outcome is Outcome.APPLIED


async def test_a_small_window_and_hold_are_the_stores_own(private_redis):
    store = InboxStore(private_redis, "110", window_s=10, limits=Limits(held=1, ahead=2))
    assert (await take(store, supervise(1, sent_at=NOW - 11))).reason == "outside_window"
    assert (await take(store, supervise(4))).reason == "too_far_ahead"
    assert (await take(store, supervise(2))).outcome is Outcome.HELD
    assert (await take(store, supervise(3))).reason == "hold_full"


async def test_restricted_content_takes_its_seq_but_is_never_applied(private_redis):
    store = InboxStore(private_redis, "12345")
    secret = envelope("status", seq=1, detail="涉案人员已控制")
    verdict = boundary.admit(secret, "12345")
    assert isinstance(verdict, boundary.Refused) and verdict.reason is boundary.Refusal.RESTRICTED_CONTENT
    receipt = await store.receive(secret, verdict, NOW)
    assert receipt.outcome is Outcome.REFUSED_AT_BOUNDARY and receipt.acknowledged
    assert receipt.expected_seq == 2 and receipt.reason == "restricted_content"
    later = envelope("status", seq=2, detail="已办结")
    assert (await take(store, later)).outcome is Outcome.APPLIED
    assert [env.message_id for env in await applied(store)] == [later.message_id]
    about = await store.audit.messages_about(T12345)
    assert [(e["seq"], e["outcome"]) for e in about] == [(1, "refused_at_boundary"), (2, "applied")]
    assert "涉案" not in json.dumps(about, ensure_ascii=False)  # the audit keeps what it was, not its text


async def test_restricted_content_held_early_is_stored_without_it_and_never_applied(private_redis):
    store = InboxStore(private_redis, "12345")
    secret, first = envelope("status", seq=2, detail="涉案人员已控制"), envelope("status", seq=1)
    assert (await take(store, secret)).outcome is Outcome.HELD
    raw = await private_redis.get(inbox_stream_key("110", T110))
    assert "涉案" not in raw and secret.message_id in raw
    assert (await take(store, first)).expected_seq == 3
    assert [env.seq for env in await applied(store)] == [1]
    assert [(e["seq"], e["outcome"]) for e in await store.audit.messages_about(T12345)] == [
        (2, "held"), (1, "applied"), (2, "refused_at_boundary")]
    assert (await take(store, secret)).outcome is Outcome.DUPLICATE  # a retry takes nothing again


async def test_a_forced_emergency_is_applied_in_its_admitted_form(private_redis):
    store = InboxStore(private_redis, "12345")
    urgent = envelope("handover", from_platform="110", ticket=T110, emergency=True)
    receipt = await take(store, urgent)
    assert receipt.outcome is Outcome.APPLIED
    [got] = await applied(store)
    assert got.message_id == urgent.message_id and got.body.emergency is False
    [logged] = await store.audit.log()
    assert logged["reason"] == "forced body.emergency"


async def test_a_forced_emergency_held_early_is_kept_in_its_admitted_form(private_redis):
    store = InboxStore(private_redis, "12345")
    later = envelope("handover", seq=2, from_platform="110", ticket=T110, emergency=True)
    assert (await take(store, later)).outcome is Outcome.HELD
    assert '"emergency":true' not in (await private_redis.get(inbox_stream_key("110", T110))).replace(" ", "")
    await take(store, envelope("status", seq=1))
    assert [(env.seq, getattr(env.body, "emergency", None)) for env in await applied(store)] == [
        (1, None), (2, False)]


async def test_a_message_not_addressed_here_never_reaches_the_inbox(store):
    to_12345 = envelope("status")
    with pytest.raises(ValueError, match="never reaches"):
        await store.receive(to_12345, boundary.admit(to_12345, "110"), NOW)
    with pytest.raises(ValueError, match="addressed to 12345"):
        await store.receive(to_12345, boundary.admit(to_12345, "12345"), NOW)


async def test_the_same_message_on_two_instances_at_once_is_applied_once(redis_url):
    clients = [Redis.from_url(redis_url, decode_responses=True) for _ in range(2)]
    try:
        stores = [InboxStore(client, "110") for client in clients]
        sent = [supervise(seq) for seq in range(1, 21)]
        for env in sent:
            receipts = await asyncio.gather(*(take(s, env) for s in stores))
            assert sorted(r.outcome for r in receipts) == sorted([Outcome.APPLIED, Outcome.DUPLICATE])
        assert [env.seq for env in await applied(stores[0])] == list(range(1, 21))
        assert await stores[1].expected_seq(STREAM_12345) == 21
    finally:
        for client in clients:
            await client.aclose()


async def test_messages_held_on_two_instances_at_once_are_all_released_in_order(redis_url):
    clients = [Redis.from_url(redis_url, decode_responses=True) for _ in range(4)]
    try:
        stores = [InboxStore(client, "110") for client in clients]
        sent = [supervise(seq) for seq in range(1, 9)]
        await asyncio.gather(*(take(stores[i % 4], env) for i, env in enumerate(reversed(sent))))
        assert [env.seq for env in await applied(stores[0])] == list(range(1, 9))
    finally:
        for client in clients:
            await client.aclose()


async def test_an_entry_a_consumer_claimed_and_died_on_is_claimed_again_after_idle(store, private_redis):
    await store.ensure_group()
    await store.ensure_group()  # a second instance starting: nothing happens
    sent = supervise(1)
    await take(store, sent)
    [(entry_id, got)] = await store.claim("instance-a", 10, 0)
    assert got == sent  # instance-a dies here, before done()
    assert await store.claim("instance-b", 10, 0) == []  # not idle long enough: a's, still
    again = await store.claim("instance-b", 10, 0, idle_ms=0)  # its idle time has passed
    assert again == [(entry_id, sent)]
    await store.done(entry_id)
    assert await private_redis.xpending(APPLIED, APPLIED_GROUP) == {
        "pending": 0, "min": None, "max": None, "consumers": []}
    assert await private_redis.xlen(APPLIED) == 0


async def test_a_consumer_whose_group_was_wiped_makes_it_again(store, private_redis):
    await store.ensure_group()
    await private_redis.flushall()
    assert await store.claim("c1", 10, 0) == []
    await take(store, supervise(1))
    assert [env.seq for _, env in await store.claim("c1", 10, 0)] == [1]


async def test_an_unreadable_applied_entry_goes_to_the_dead_list(store, private_redis):
    await store.ensure_group()
    await private_redis.xadd(APPLIED, {"envelope": "{not json"})
    await private_redis.xadd(APPLIED, {"other": "x"})
    await take(store, supervise(1))
    got = await store.claim("c1", 10, 0)
    assert [env.seq for _, env in got] == [1]
    dead = await store.dead()
    assert [d["reason"] for d in dead] == ["no envelope", "the message is not JSON: Expecting property name "
                                                          "enclosed in double quotes (line 1, column 2)"]
    assert (await private_redis.xpending(APPLIED, APPLIED_GROUP))["pending"] == 1  # only the good one


async def test_stream_state_lives_as_long_as_tickets(store, private_redis):
    await take(store, supervise(2))
    assert 0 < await private_redis.ttl(inbox_stream_key(*STREAM_12345)) <= TICKET_TTL_S


@pytest.mark.parametrize("raw, named", [
    ("{not json", "the whole value"),
    ('{"next_seq": "2", "applied": [], "held": []}', "next_seq"),
    ('{"next_seq": 0, "applied": [], "held": []}', "next_seq"),
    ('{"next_seq": 2, "applied": [[1, "x"]], "held": [{"envelope": {"v": 1}}]}', "held.0.envelope"),
    ('[1, 2]', "the whole value"),
])
async def test_unreadable_stream_state_is_an_error_naming_its_key(store, private_redis, raw, named):
    key = inbox_stream_key(*STREAM_12345)
    await private_redis.set(key, raw)
    with pytest.raises(CorruptState) as caught:
        await take(store, supervise(1))
    assert caught.value.key == key and key in str(caught.value) and named in str(caught.value)
    with pytest.raises(CorruptState):
        await store.expected_seq(STREAM_12345)
    assert await private_redis.get(key) == raw  # left for the operator, not overwritten


async def test_a_handover_is_listed_under_its_stream_until_linked_then_under_our_ticket(private_redis):
    store = InboxStore(private_redis, "12345")
    ours = "12345-20261124-000042"
    handover = envelope("handover", from_platform="110", ticket=T110)
    await take(store, handover)
    assert await store.audit.messages_about(ours) == []
    await store.audit.link("110", T110, ours)
    later = envelope("status", seq=2, from_platform="110", ticket=T110).model_copy(update={"peer_ticket": ours})
    await take(store, later)
    about = await store.audit.messages_about(ours)
    assert [(e["message_id"], e["outcome"], e["seq"]) for e in about] == [
        (handover.message_id, "applied", 1), (later.message_id, "applied", 2)]
    assert set(about[0]) == ENTRY_FIELDS and about[0]["direction"] == "in" and about[0]["at"] == NOW
    assert await private_redis.xlen(LOG) == 2


async def test_refusals_to_retry_later_leave_the_reports_log_alone(store, private_redis):
    await take(store, supervise(1))
    before = await store.audit.log()
    for _ in range(50):
        assert (await take(store, supervise(100))).reason == "too_far_ahead"
    assert await store.audit.log() == before
    assert len(await store.audit.retries()) == 50
    assert [e["outcome"] for e in await store.audit.messages_about(T110)] == ["applied"]
