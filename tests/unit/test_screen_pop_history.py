"""A caller number's history in a real Redis: written where tickets are saved and where the
timeline records a call's start, bounded, expiring, never for a number without one, no
caller number in a key name."""

from __future__ import annotations

import hashlib
import time

from redis.asyncio import Redis

from hotline_link.core.bus import EventBus
from hotline_link.core.events import CallAnswered, CallEnded, CallStarted
from tickets.number_history import CALLS_TTL_S, HISTORY_SIZE, TICKETS_TTL_S, PastCall
from tickets.redis_keys import number_calls_key, number_tickets_key
from tickets.store import Ticket, TicketStore, ticket_day
from tickets.timeline import TicketTimeline

NOW = time.time()
DAY = ticket_day(NOW)
CALLER = "13812345678"
CENTERS = frozenset({"12345", "110"})


def test_the_keys_name_the_platform_and_a_digest_never_the_number():
    digest = hashlib.sha256(CALLER.encode()).hexdigest()[:24]
    assert number_tickets_key("12345", CALLER) == f"hl:number-tickets:12345:{digest}"
    assert number_calls_key("110", CALLER) == f"hl:number-calls:110:{digest}"


async def test_saved_tickets_of_a_number_are_kept_newest_first_bounded_and_expiring(private_redis: Redis):
    store = TicketStore(private_redis)
    for n in range(HISTORY_SIZE + 5):
        await store.save(Ticket(f"12345-{DAY}-{n:06d}", "12345", f"c{n}", caller="+86 138-1234-5678",
                                created_at=NOW + n))
    await store.save(Ticket(f"110-{DAY}-000001", "110", "p1", caller=CALLER, created_at=NOW))
    ids = await store.history.ticket_ids("12345", CALLER)  # however the number was written
    assert ids == [f"12345-{DAY}-{n:06d}" for n in reversed(range(5, HISTORY_SIZE + 5))]
    assert await store.history.ticket_ids("110", CALLER) == [f"110-{DAY}-000001"]  # each platform its own
    assert 0 < await private_redis.ttl(number_tickets_key("12345", CALLER)) <= TICKETS_TTL_S
    # an update keeps one entry, at its opening time
    first = await store.get(ids[0])
    assert first is not None
    await store.update(first, summary="又来电")
    assert (await store.history.ticket_ids("12345", CALLER))[0] == ids[0]


async def test_a_number_without_a_history_writes_nothing(private_redis: Redis):
    store = TicketStore(private_redis)
    for n, caller in enumerate(["", "anonymous", "110", "1001", "12345", "abc"]):
        await store.save(Ticket(f"12345-{DAY}-{n:06d}", "12345", f"c{n}", caller=caller, created_at=NOW))
    assert [key async for key in private_redis.scan_iter("hl:number-*")] == []
    assert await store.history.ticket_ids("12345", "anonymous") == []
    assert await store.history.calls("12345", "anonymous") == []


async def test_the_timeline_keeps_the_calls_a_number_made_and_who_answered(private_redis: Redis):
    bus = EventBus()
    store = TicketStore(private_redis)
    timeline = TicketTimeline(private_redis, store, bus, CENTERS)
    # a case handed over by a call: its ticket opened before the answer, naming no caller
    handed = await store.open_for_call("12345", "hl12345-3", source_platform="110")
    timeline.start()
    try:
        for call_id, channel, site in (("hl12345-1", "PJSIP/trunk-01", "12345"),
                                       ("hl12345-2", "PJSIP/trunk-02", "12345"),
                                       ("hl12345-3", "PJSIP/trunk-03", "12345"),
                                       ("hl12345-4", "Local/110@conference-out-00000001;1", "12345"),
                                       ("hlremote-5", "PJSIP/trunk-05", "remote")):
            bus.emit(CallStarted(call_id, site, CALLER, site, channel, resynced=False))
        # a callback: the agent's phone rung first, dialling no number of ours
        bus.emit(CallStarted("cb-7", "12345", CALLER, "s", "PJSIP/1006-00000007", resynced=False))
        for call_id in ("hl12345-1", "hl12345-3"):
            bus.emit(CallAnswered(call_id, "12345", CALLER, "PJSIP/1002", wait_s=3.0))
        bus.emit(CallEnded("hl12345-1", "12345", CALLER, "PJSIP/1002", "Normal Clearing", "hangup", 60.0))
        bus.emit(CallStarted("hl12345-6", "12345", "anonymous", "12345", "PJSIP/trunk-06", resynced=False))
        await timeline.flush()
    finally:
        await timeline.stop()
    calls = await store.history.calls("12345", CALLER)
    # a call we originated (a three-way call's third party presents the caller's number, a
    # callback rings the agent first) and a remote seat site's leg are not calls the number
    # made to a platform
    assert [c.call_id for c in calls] == ["hl12345-3", "hl12345-2", "hl12345-1"]
    assert [c.answered_by for c in calls] == ["PJSIP/1002", None, "PJSIP/1002"]
    assert all(NOW - 5 < c.started_at < time.time() + 1 for c in calls)
    assert [c.call_id for c in await store.history.calls("12345", CALLER, limit=1)] == ["hl12345-3"]
    assert 0 < await private_redis.ttl(number_calls_key("12345", CALLER)) <= CALLS_TTL_S
    # the ticket the answered call opened, and the handed-over one the number's call joined
    opened = await store.for_call("hl12345-1")
    assert opened is not None
    assert set(await store.history.ticket_ids("12345", CALLER)) == {opened.id, handed.id}


async def test_the_calls_index_keeps_its_newest_entries_and_tolerates_a_lost_story(private_redis: Redis):
    store = TicketStore(private_redis)
    key = number_calls_key("12345", CALLER)
    await private_redis.zadd(key, {f"gone-{n}": NOW - n for n in range(3)})  # stories expired or never written
    assert await store.history.calls("12345", CALLER) == [
        PastCall("gone-0", NOW, None), PastCall("gone-1", NOW - 1, None), PastCall("gone-2", NOW - 2, None)]
