"""The per-day counters of the exchange audit in Redis: written by the real outbox and inbox in
the MULTI/EXEC of each step, they give the report the same figures as the log whenever the log
still holds everything, on both sides, whatever a lossy network did; a bad counter is left out
and logged; and the days before counting began still come from the log. Times come from each
test's own clock, starting at ``NOW`` (22:20 in Beijing: the runs cross midnight)."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.audit import DAYS_KEPT_S, Audit, entry
from exchange.boundary import admit
from exchange.inbox_store import InboxStore
from exchange.messages import AnyBody, ReceivedBody
from exchange.outbox_store import OutboxStore
from exchange.redis_keys import LOG, day_key
from hotline_link.core.zone import HOTLINE_ZONE
from linkage.exchange_days import day_of, fold, plan
from linkage.exchange_figures import FIGURES, exchange_ways
from linkage.exchange_reader import ways_between
from tests.unit.exchange_network import Network
from tests.unit.exchange_samples import BODIES, NOW, T110, envelope, handover_body

DAY = 24 * 3600.0
# whole Beijing days either side of everything the tests do
START = dt.datetime(2026, 11, 22, tzinfo=HOTLINE_ZONE).timestamp()
END = dt.datetime(2026, 12, 24, tzinfo=HOTLINE_ZONE).timestamp()


async def both_ways(audit: Audit) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """(the figures from the log, from the counters alone) over whole days around the tests.
    The whole log is read (its ids are the Redis server's clock, not the test's)."""
    from_log = exchange_ways(await audit.log(count=100_000), START, END)
    days = [day_of(START + n * DAY) for n in range(round((END - START) / DAY))]
    folded = fold(await audit.day_counts(days))
    assert folded.skipped == ()
    return from_log, folded.ways


# what 12345 sends: a handover by each mode, one naming 110's ticket (回流), and each other type
SENT: list[tuple[AnyBody, str | None]] = [
    (handover_body(mode="push"), None), (handover_body(mode="transfer"), None),
    (handover_body(mode="push"), T110), (BODIES["received"], T110), (BODIES["status"], T110),
    (BODIES["status"].model_copy(update={"stage": "result"}), T110), (BODIES["bounce"], T110),
    (BODIES["supervise"], T110)]


OPS = st.lists(st.tuples(st.sampled_from(["send", "send", "deliver", "deliver", "lose", "drop", "double", "wait",
                                          "night"]), st.integers(0, 100)), max_size=60)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.tuples(st.integers(1, 3), st.integers(0, len(SENT) - 1)), min_size=1, max_size=10),
       ops=OPS)
async def test_the_counters_give_the_logs_figures_on_both_sides_whatever_the_network_did(
        private_redis, receiver_redis, picks, ops):
    await private_redis.flushall()
    net = Network(OutboxStore(private_redis, "12345"), InboxStore(receiver_redis, "110"))
    await net.receiver.ensure_group()
    for ticket_no, pick in picks:
        body, peer_ticket = SENT[pick]
        ticket = f"12345-20261124-{ticket_no:06d}"
        if isinstance(body, ReceivedBody):
            body = body.model_copy(update={"receiver_ticket": ticket})  # 签收 names the signer's ticket
        await net.sender.enqueue("110", ticket, body, peer_ticket=peer_ticket, now=net.now)
    for op, pick in ops:
        net.now += 1
        if op == "send":
            await net.send()
        elif op == "wait":
            net.now += pick * 5  # past the replay window at times: refused, to be sent again
        elif op == "night":
            net.now += pick * 600  # hours: the messages' days differ
        elif net.wire:
            index = pick % len(net.wire)
            if op in ("deliver", "lose"):
                await net.deliver(net.wire.pop(index), answer_lost=op == "lose")  # lost: it comes again
            elif op == "drop":
                net.wire.pop(index)
            else:
                net.wire.insert(pick % (len(net.wire) + 1), net.wire[index])
    await net.heal()
    for side in (net.sender.audit, net.receiver.audit):
        from_log, from_counters = await both_ways(side)
        assert from_counters == from_log
        assert await ways_between(side, START, END) == from_log
    sender_log, _ = await both_ways(net.sender.audit)
    receiver_log, _ = await both_ways(net.receiver.audit)
    assert sender_log == receiver_log  # each message once, when the receiver took it, on each side
    assert sum(sender_log["12345->110"].values()) >= len(picks)


async def test_a_message_held_then_applied_or_sent_twice_counts_once_on_its_first_day(private_redis):
    inbox = InboxStore(private_redis, "12345")
    late_night = dt.datetime(2026, 11, 24, 23, 59, tzinfo=HOTLINE_ZONE).timestamp()
    second = envelope("status", seq=2, sent_at=late_night, stage="result")
    first = envelope("status", seq=1, sent_at=late_night + 120)
    assert (await inbox.receive(second, admit(second, "12345"), late_night)).outcome.value == "held"
    assert (await inbox.receive(second, admit(second, "12345"), late_night + 1)).outcome.value == "held"
    assert (await inbox.receive(first, admit(first, "12345"), late_night + 120)).outcome.value == "applied"
    assert (await inbox.receive(first, admit(first, "12345"), late_night + 121)).outcome.value == "duplicate"
    night, morning = day_of(late_night), day_of(late_night + 120)
    assert night != morning
    assert await private_redis.hgetall(day_key(night)) == {"in|110|12345|status|result|named|held": "1"}
    assert await private_redis.hgetall(day_key(morning)) == {"in|110|12345|status|arrived|named|applied": "1"}
    assert await private_redis.ttl(day_key(night)) > DAYS_KEPT_S - 60
    assert await inbox.audit.counted_since() == late_night
    from_log, from_counters = await both_ways(inbox.audit)
    assert from_counters == from_log
    assert from_log["110->12345"] == {**dict.fromkeys(FIGURES, 0), "反馈": 2, "办结": 1}


async def test_the_days_before_counting_began_come_from_the_log(private_redis):
    audit = Audit(private_redis)
    # an entry written before this version counted days: in the log only
    before = entry("in", envelope("bounce", sent_at=NOW - DAY), "applied", NOW - DAY)
    await private_redis.xadd(LOG, dict(before), id=f"{int((NOW - DAY) * 1000)}-0")  # as written then
    inbox = InboxStore(private_redis, "12345")
    now = envelope("bounce", ticket="110-20261124-000032", sent_at=NOW)
    await inbox.receive(now, admit(now, "12345"), NOW)
    assert await audit.counted_since() == NOW
    covered = plan(START, END, NOW)
    assert covered.spans == ((START, NOW),) and day_of(NOW) in covered.days
    assert (await ways_between(audit, START, END))["110->12345"]["回流"] == 2
    assert (await both_ways(audit))[0]["110->12345"]["回流"] == 2


async def test_a_counter_that_is_no_count_is_left_out_and_logged(private_redis, log_lines):
    audit = Audit(private_redis)
    inbox = InboxStore(private_redis, "12345")
    bounce = envelope("bounce", sent_at=NOW)
    await inbox.receive(bounce, admit(bounce, "12345"), NOW)
    await private_redis.hset(day_key(day_of(NOW)), mapping={"in|110|12345|supervise|||applied": "two",
                                                            "not a field": "1"})
    ways = await ways_between(audit, START, END)
    assert ways["110->12345"]["回流"] == 1 and ways["110->12345"]["督办"] == 0
    skipped = log_lines.events("linkage.exchange_counter_skipped")
    assert [(line["field"], line["value"], line["why"]) for line in skipped] == [
        ("in|110|12345|supervise|||applied", "two", "not a count"), ("not a field", "1", "unknown field")]
    assert all(line["day"] == day_of(NOW) and line["level"] == "error" for line in skipped)
