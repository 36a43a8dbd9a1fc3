"""Where the screen pop finds what a handed-over case's source said, in a real Redis: the
source ticket when this deployment holds it (one deployment serving both platforms), else
the handover message the exchange noted on our ticket (two deployments); a restricted
source shows its number only."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from call_control.calls import Call
from call_control.screen_pop import agent_screen
from call_control.screen_reads import ScreenReads
from exchange.effects import story_leg
from hotline_link.core.bus import BusEvent, EventBus
from tickets.peer_story import RECEIVED_HANDOVER
from tickets.recommend import RecommenderSource
from tickets.store import Ticket, TicketStore, ticket_day
from tickets.timeline import TicketTimeline, add_story_entry, entry_of

NOW = time.time()
DAY = ticket_day(NOW)
CALLER = "13812345678"
CENTERS = frozenset({"12345", "110"})


def _call() -> Call:
    return Call("hl12345-9.1", "12345", CALLER, "12345", NOW, channels={"u2": "PJSIP/1001-02"})


async def test_the_source_is_the_ticket_held_here_else_the_handover_message(private_redis: Redis):
    store = TicketStore(private_redis)
    reads = ScreenReads(store, TicketTimeline(private_redis, store, EventBus(), CENTERS), RecommenderSource())
    # one deployment serving both platforms: the 110 ticket is here
    police = Ticket(f"110-{DAY}-000001", "110", "hl110-1", "纠纷", "邻里纠纷")
    await store.save(police)
    here = Ticket(f"12345-{DAY}-000001", "12345", "hl12345-1", source_platform="110", source_ticket=police.id)
    assert await reads.source_of(here) == police
    # two deployments: what 110's handover message said, noted on our ticket's story
    away = Ticket(f"12345-{DAY}-000002", "12345", "hl12345-2", source_platform="110",
                  source_ticket=f"110-{DAY}-000009")
    assert await reads.source_of(away) is None  # no message yet
    for peer_ticket, restricted, summary in ((f"110-{DAY}-000008", False, "另一案"),
                                            (away.source_ticket, False, "有人打架，已无人受伤")):
        pipe = private_redis.pipeline(transaction=True)
        add_story_entry(pipe, away.id, story_leg(away.id), entry_of(BusEvent(RECEIVED_HANDOVER, {
            "site": "12345", "platform": "110", "peer_platform": "110", "peer_ticket": peer_ticket,
            "mode": "transfer", "restricted": restricted, "category": "治安", "summary": summary}), NOW))
        await pipe.execute()
    source = await reads.source_of(away)
    assert source is not None
    assert (source.id, source.site, source.category, source.summary, source.restricted) == \
        (away.source_ticket, "110", "治安", "有人打架，已无人受伤", False)
    screen = agent_screen(_call(), "1001", in_conference=False, ticket=away, source=source, recommendation=None,
                          history=await reads.history(_call(), 6), now=NOW)
    assert screen.ticket is not None and screen.ticket.source_summary == "有人打架，已无人受伤"


async def test_a_restricted_handover_message_shows_no_source_content(private_redis: Redis):
    store = TicketStore(private_redis)
    reads = ScreenReads(store, TicketTimeline(private_redis, store, EventBus(), CENTERS), RecommenderSource())
    away = Ticket(f"12345-{DAY}-000003", "12345", "hl12345-3", source_platform="110",
                  source_ticket=f"110-{DAY}-000007")
    pipe = private_redis.pipeline(transaction=True)
    add_story_entry(pipe, away.id, story_leg(away.id), entry_of(BusEvent(RECEIVED_HANDOVER, {
        "platform": "110", "peer_ticket": away.source_ticket, "restricted": True, "category": "",
        "summary": ""}), NOW))
    await pipe.execute()
    source = await reads.source_of(away)
    assert source is not None and source.restricted
    screen = agent_screen(_call(), "1001", in_conference=False, ticket=away, source=source, recommendation=None,
                          history=await reads.history(_call(), 6), now=NOW)
    assert screen.ticket is not None
    assert (screen.ticket.source_ticket, screen.ticket.source_category, screen.ticket.source_summary) == \
        (away.source_ticket, None, None)
