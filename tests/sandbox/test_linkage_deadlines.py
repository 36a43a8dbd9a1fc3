"""Deadlines in the sandbox Redis with a controllable clock (no sleeping): the first overdue
gives 督办, the second 提级; a restarted service misses none; met deadlines never fire.
Every test works under its own key prefix and removes it afterwards (never FLUSHDB)."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from redis.asyncio import Redis

from hotline_link.core.bus import EventBus
from hotline_link.core.redis_client import redis_client
from linkage.policy import load_config
from linkage.service import LinkageService
from linkage.units import load_jurisdiction_units
from tests.helpers import is_event
from tickets.outbox import Outbox
from tickets.store import TicketStore
from tickets.timeline import call_key

CST = dt.timezone(dt.timedelta(hours=8))


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis(sandbox_settings):
    client = redis_client(sandbox_settings, decode_responses=True)
    prefix = f"hltest:{uuid.uuid4().hex[:10]}:linkage:"
    yield client, prefix
    keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def service(redis: Redis, prefix: str, clock: Clock, bus: EventBus | None = None) -> LinkageService:
    bus = bus or EventBus()
    return LinkageService(redis, bus, TicketStore(redis), Outbox(redis, bus, "s"),
                          units=load_jurisdiction_units("qidong"), config=load_config(),
                          centers=frozenset({"12345", "110"}), prefix=prefix, clock=clock)


async def open_ticket(redis: Redis, **fields):
    return await TicketStore(redis).open_for_call("12345", f"linkage-test-{uuid.uuid4().hex}",
                                                  caller="13800002222", **fields)


async def test_overdue_accept_gives_supervision_then_escalation_with_a_moved_clock(redis):
    client, prefix = redis
    clock = Clock(time.time())
    bus = EventBus()
    svc = service(client, prefix, clock, bus)
    ticket = await open_ticket(client, category="燃气泄漏", summary="闻到煤气味")
    with bus.subscribe() as events:
        record, new = await svc.dispatch(ticket, "QD-GAS", "1001")  # level 1: accept within 300 s
        assert new and record["state"] == "dispatched" and record["mode"] == "phone"
        clock.now += 299
        assert await svc.scanner.scan_once() == []  # not due yet
        clock.now += 2
        [(deadline, step)] = await svc.scanner.scan_once()
        assert (deadline.ticket_id, deadline.stage, step) == (ticket.id, "accept", "supervised")
        supervised = await events.wait_for(is_event("linkage.supervised", ticket_id=ticket.id), 1)
        assert supervised.data["unit"] == "QD-GAS" and supervised.data["late_s"] == pytest.approx(1, abs=0.01)
        flags = await svc.deadlines.flags()
        assert flags[ticket.id]["flag"] == "supervised"  # the red flag the dashboard reads
        assert await svc.scanner.scan_once() == []  # handled once, not again on the next scan
        clock.now += 900  # remind_s of level 1: still not accepted
        [(_, step)] = await svc.scanner.scan_once()
        assert step == "escalated"
        escalated = await events.wait_for(is_event("linkage.escalated", ticket_id=ticket.id), 1)
        assert escalated.data["contact"] == "市域社会治理现代化指挥中心"
        assert (await svc.deadlines.flags())[ticket.id]["flag"] == "escalated"
        clock.now += 10_000
        assert await svc.scanner.scan_once() == []  # escalated: nothing more from this deadline
    story = [fields["event"] for _, fields in await client.xrange(call_key(f"linkage-{ticket.id}"))]
    assert story == ["linkage.dispatched", "linkage.supervised", "linkage.escalated"]


async def test_met_deadlines_never_fire_and_feedback_arms_arrival_and_result(redis):
    client, prefix = redis
    clock = Clock(time.time())
    svc = service(client, prefix, clock)
    ticket = await open_ticket(client)
    await svc.dispatch(ticket, "QD-GAS", "1001")
    clock.now += 60
    await svc.feedback(ticket.id, "QD-GAS", "accept", {})
    assert await svc.deadlines.get(ticket.id, "accept") is None
    arrive = await svc.deadlines.get(ticket.id, "arrive")
    assert arrive.due == pytest.approx(clock.now + 1800)  # level 1: on scene within 30 minutes
    clock.now += 600
    record = await svc.feedback(ticket.id, "QD-GAS", "arrival", {"situation": "已关阀门"})
    assert record["state"] == "arrived"
    clock.now += 100_000  # far past every deadline: the result deadline alone is overdue
    outcomes = await svc.scanner.scan_once()
    assert [(d.stage, s) for d, s in outcomes] == [("result", "supervised")]
    await svc.feedback(ticket.id, "QD-GAS", "result", {"resolved": True, "summary": "已修复"})
    clock.now += 100_000
    assert await svc.scanner.scan_once() == []
    assert ticket.id not in await svc.deadlines.flags()  # resolved: the red flag goes


async def test_a_restarted_service_misses_no_deadline(redis):
    client, prefix = redis
    clock = Clock(time.time())
    first = service(client, prefix, clock)
    tickets = [await open_ticket(client) for _ in range(5)]
    for ticket in tickets:
        await first.dispatch(ticket, "QD-POWER", "1001")
    del first  # the server stops; nothing of the deadlines lived in it
    clock.now += 301
    second = service(client, prefix, clock)  # a new process over the same Redis
    outcomes = await second.scanner.scan_once()
    assert sorted(d.ticket_id for d, s in outcomes if s == "supervised") == sorted(t.id for t in tickets)


async def test_a_lease_taken_by_a_crashed_scanner_comes_due_again(redis):
    client, prefix = redis
    clock = Clock(time.time())
    svc = service(client, prefix, clock)
    ticket = await open_ticket(client)
    await svc.dispatch(ticket, "QD-WATER", "1001")
    clock.now += 301
    leased = await svc.deadlines.take_due(clock.now)  # taken, then the process dies before handling
    assert [d.ticket_id for d in leased] == [ticket.id]
    assert await svc.scanner.scan_once() == []  # leased: another instance does not take it twice
    clock.now += 31
    [(deadline, step)] = await svc.scanner.scan_once()
    assert (deadline.ticket_id, step) == (ticket.id, "supervised")


async def test_level_3_dispatch_outside_working_hours_is_queued_and_an_emergency_goes_to_the_supervisor(redis):
    client, prefix = redis
    saturday_night = dt.datetime(2026, 11, 28, 22, 0, tzinfo=CST).timestamp()
    clock = Clock(saturday_night)
    svc = service(client, prefix, clock)
    ticket = await open_ticket(client)
    record, _ = await svc.dispatch(ticket, "QD-TOWN", "1001")  # level 3
    monday = dt.datetime(2026, 11, 30, 8, 30, tzinfo=CST).timestamp()
    assert record["state"] == "queued" and float(record["start"]) == monday
    assert (await svc.deadlines.get(ticket.id, "accept")).due == monday + 7200  # 2 working hours
    urgent = await TicketStore(client).update(await open_ticket(client), emergency=True)
    record, _ = await svc.dispatch(urgent, "QD-TOWN", "1001")
    assert record["state"] == "supervisor"
    assert (await svc.deadlines.flags())[urgent.id]["flag"] == "off_duty_emergency"


async def test_a_resolved_or_supervisor_held_case_may_be_dispatched_anew(redis):
    client, prefix = redis
    clock = Clock(dt.datetime(2026, 11, 28, 22, 0, tzinfo=CST).timestamp())  # Saturday night
    svc = service(client, prefix, clock)
    urgent = await TicketStore(client).update(await open_ticket(client), emergency=True)
    record, _ = await svc.dispatch(urgent, "QD-TOWN", "1001")  # level 3 off duty: the supervisor has it
    assert record["state"] == "supervisor"
    record, new = await svc.dispatch(urgent, "QD-POLICE", "supervisor")  # who sends a level-1 unit
    assert new and record["state"] == "dispatched" and record["unit"] == "QD-POLICE"
    await svc.feedback(urgent.id, "QD-POLICE", "accept", {})
    await svc.feedback(urgent.id, "QD-POLICE", "result", {"resolved": False, "summary": "需要燃气公司"})
    record, new = await svc.dispatch(urgent, "QD-GAS", "1001")
    assert new and record["unit"] == "QD-GAS" and record["state"] == "dispatched"
    assert "resolved" not in record and "accepted_at" not in record  # the new round starts clean
    _, again = await svc.dispatch(urgent, "QD-GAS", "1001")
    assert not again
