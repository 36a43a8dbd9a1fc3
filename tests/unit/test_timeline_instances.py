"""Two server instances on one Redis each hear the same AMI events: the once-per-call events
(started, answered, ended) land once on the call's and the ticket's story; events only one
instance publishes (a route decision per round) keep every occurrence."""

from __future__ import annotations

from redis.asyncio import Redis

from hotline_link.bus import EventBus
from tickets.store import TicketStore
from tickets.timeline import TicketTimeline

CALL = "hl12345-1795550000.1"


async def test_two_instances_write_each_once_per_call_event_once(private_redis: Redis):
    buses = [EventBus(), EventBus()]
    timelines = [TicketTimeline(private_redis, TicketStore(private_redis), bus, frozenset({"12345"}))
                 for bus in buses]
    for timeline in timelines:
        timeline.start()
    try:
        common = {"call_id": CALL, "site": "12345", "caller": "13800007777"}
        for bus in buses:  # what both instances' call books yield
            bus.publish("call.started", **common, dialled="12345")
        buses[0].publish("call.routed", **common, seat="1001", round=1)  # the AGI ran on instance 0
        buses[0].publish("call.routed", **common, seat="1002", round=2)
        for bus in buses:
            bus.publish("call.answered", **common, answered_by="1002")
            bus.publish("call.ended", **common, reason="hangup")
        for timeline in timelines:
            await timeline.flush()
    finally:
        for timeline in timelines:
            await timeline.stop()
    events = [e["event"] for e in await timelines[0].for_call(CALL)]
    assert events == ["call.started", "call.routed", "call.routed", "call.answered", "call.ended"]
    ticket = await TicketStore(private_redis).for_call(CALL)
    assert ticket is not None  # opened when the call was answered, once
    story = await timelines[1].for_ticket(ticket.id)
    assert [e["event"] for e in story["events"]] == ["call.started", "call.routed", "call.routed",
                                                     "call.answered", "call.ended"]
    assert story["first_answered"]["agent"] == "1002"
