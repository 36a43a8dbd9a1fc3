"""Two server instances on one Redis each hear the same AMI events: the once-per-call events
(started, answered, ended) land once on the call's and the ticket's story; events only one
instance publishes (a route decision per round) keep every occurrence."""

from __future__ import annotations

import time
from collections import Counter

from redis.asyncio import Redis

from hotline_link.core.bus import EventBus
from hotline_link.core.events import CallAnswered, CallEnded, CallRouted, CallStarted
from tickets.store import TicketStore
from tickets.timeline import TicketTimeline, open_calls_key

CALL = "hl12345-1795550000.1"


def _started(call_id: str) -> CallStarted:
    return CallStarted(call_id, "12345", "13800007777", "12345", "PJSIP/trunk-1", resynced=False)


async def test_two_instances_write_each_once_per_call_event_once(private_redis: Redis):
    buses = [EventBus(), EventBus()]
    timelines = [TicketTimeline(private_redis, TicketStore(private_redis), bus, frozenset({"12345"}))
                 for bus in buses]
    for timeline in timelines:
        timeline.start()
    try:
        common = {"call_id": CALL, "site": "12345", "caller": "13800007777"}
        for bus in buses:  # what both instances' call books yield
            bus.emit(CallStarted(**common, dialled="12345", channel="PJSIP/trunk-1", resynced=False))
        # the AGI ran on instance 0, a round per seat tried
        buses[0].emit(CallRouted(CALL, "12345", seat="1001", outcome="seat"))
        buses[0].emit(CallRouted(CALL, "12345", seat="1002", outcome="seat"))
        for bus in buses:
            bus.emit(CallAnswered(**common, answered_by="1002", wait_s=4.0))
            bus.emit(CallEnded(**common, answered_by="1002", cause="Normal Clearing", reason="hangup",
                               duration_s=30.0))
        for timeline in timelines:
            await timeline.flush()
    finally:
        for timeline in timelines:
            await timeline.stop()
    # the two writers race, so the stream's order is the order of arrival; count them
    events = Counter(e["event"] for e in await timelines[0].for_call(CALL))
    assert events == Counter({"call.started": 1, "call.routed": 2, "call.answered": 1, "call.ended": 1})
    ticket = await TicketStore(private_redis).for_call(CALL)
    assert ticket is not None  # opened when the call was answered, once
    story = await timelines[1].for_ticket(ticket.id)
    assert Counter(e["event"] for e in story["events"]) == events
    assert story["first_answered"]["agent"] == "1002"


async def test_a_call_that_ended_while_no_server_heard_gets_its_end_on_resync(private_redis: Redis):
    bus = EventBus()
    timeline = TicketTimeline(private_redis, TicketStore(private_redis), bus, frozenset({"12345"}))
    timeline.start()
    try:
        for call_id in (CALL, "hl12345-1795550000.9"):
            bus.emit(_started(call_id))
        bus.emit(_started("hl12345-1795550000.12"))  # just now: maybe another instance's, begun after the snapshot
        await timeline.flush()
        assert set(await private_redis.zrange(open_calls_key("12345"), 0, -1)) == {
            CALL, "hl12345-1795550000.9", "hl12345-1795550000.12"}
        for call_id in (CALL, "hl12345-1795550000.9"):  # these two started two minutes ago
            await private_redis.zadd(open_calls_key("12345"), {call_id: time.time() - 120})
        # the server was away; Asterisk now lists only the second call's channel
        await timeline.on_resync("12345", [{"Linkedid": "hl12345-1795550000.9", "Uniqueid": "hl12345-1795550000.9"}])
        await timeline.on_resync("12345", [{"Linkedid": "hl12345-1795550000.9", "Uniqueid": "hl12345-1795550000.9"}])
        await timeline.flush()
    finally:
        await timeline.stop()
    story = await timeline.for_call(CALL)
    assert [e["event"] for e in story] == ["call.started", "call.ended"]  # once, though resynced twice
    assert story[-1]["data"]["reason"] == "ended_unheard"
    assert [e["event"] for e in await timeline.for_call("hl12345-1795550000.9")] == ["call.started"]
    assert [e["event"] for e in await timeline.for_call("hl12345-1795550000.12")] == ["call.started"]
    assert set(await private_redis.zrange(open_calls_key("12345"), 0, -1)) == {
        "hl12345-1795550000.9", "hl12345-1795550000.12"}
