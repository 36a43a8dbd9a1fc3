"""A ticket's story across both platforms (首接) shows the other platform's side only if
that side is ``shareable``: a 12345 agent reading a 12345 ticket handed over to 110 does
not see the 110 ticket's calls and closed loop once 110 marks it restricted. On a
redis-server of the test's own."""

from __future__ import annotations

import json

from hotline_link.core.bus import EventBus
from hotline_link.core.events import CallStarted
from tickets.redis_keys import ticket_calls_key
from tickets.store import Ticket, TicketStore
from tickets.timeline import TicketTimeline, call_key


async def _call(redis, ticket_id: str, call_id: str, at: float, site: str) -> None:
    await redis.xadd(call_key(call_id), {"event": "call.started", "at": str(at),
                                         "data": json.dumps({"call_id": call_id, "site": site})})
    await redis.sadd(ticket_calls_key(ticket_id), call_id)


async def test_the_other_platforms_restricted_side_stays_out_of_the_story(private_redis):
    tickets = TicketStore(private_redis)
    timeline = TicketTimeline(private_redis, tickets, EventBus(), frozenset({"12345", "110"}))
    source = Ticket(id="12345-20261206-000001", site="12345", call_id="c1", summary="邻里纠纷")
    received = Ticket(id="110-20261206-000001", site="110", call_id="c2", source_platform="12345",
                      source_ticket=source.id, summary="现场处置")
    await tickets.save(source)
    await tickets.save(received)
    await _call(private_redis, source.id, "c1", 1.0, "12345")
    await _call(private_redis, received.id, "c2", 2.0, "110")
    story = await timeline.for_ticket(source.id)
    assert story is not None
    assert [e["data"]["call_id"] for e in story["events"]] == ["c1", "c2"]
    assert story["related_tickets"] == [received.id]

    await tickets.save(Ticket(**{**received.__dict__, "summary": "涉案线索，现场处置"}))
    story = await timeline.for_ticket(source.id)
    assert [e["data"]["call_id"] for e in story["events"]] == ["c1"]
    assert story["related_tickets"] == []
    # 110's own story of its own ticket is whole
    own = await timeline.for_ticket(received.id)
    assert [e["data"]["call_id"] for e in own["events"]] == ["c1", "c2"]


async def test_the_backlog_is_bounded_while_redis_is_away(private_redis, monkeypatch):
    from tickets import timeline as timeline_module

    monkeypatch.setattr(timeline_module, "MAX_BACKLOG", 3)
    bus = EventBus()
    timeline = TicketTimeline(private_redis, TicketStore(private_redis), bus, frozenset({"12345"}))
    for n in range(5):  # the writer is not started: nothing drains the queue
        bus.emit(CallStarted(f"c{n}", "12345", "13800007777", "12345", "PJSIP/trunk-1", resynced=False))
    assert timeline._queue.qsize() == 3 and timeline.dropped == 2
