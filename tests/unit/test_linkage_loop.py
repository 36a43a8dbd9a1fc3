"""The closed loop's services over a private Redis with a clock the test moves (no
Asterisk, no HTTP): dispatch, feedback, 回访, deadlines, repeat calls and the handovers,
each through ``LinkageService`` as the API and the feedback line use it. What the same
steps sound like on a real Asterisk is the sandbox's test_linkage_*.py."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import TicketPushedIn, TransferAnswered
from linkage.errors import (
    AlreadyDispatched,
    LinkageError,
    NoCallback,
    NotDispatched,
    NotYourTicket,
    UnknownUnit,
    WrongStep,
)
from linkage.phone import Outcome, PhoneTimings
from linkage.policy import load_config
from linkage.service import LinkageService
from linkage.units import load_jurisdiction_units, parse_units
from tests.helpers import is_event
from tickets.outbox import Outbox
from tickets.redis_keys import outbox_job_key, ticket_calls_key
from tickets.store import TicketStore
from tickets.timeline import TicketTimeline

SHANGHAI = ZoneInfo("Asia/Shanghai")
TUESDAY = dt.datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI).timestamp()  # working hours
SATURDAY_NIGHT = dt.datetime(2026, 11, 28, 22, 0, tzinfo=SHANGHAI).timestamp()
MONDAY_MORNING = dt.datetime(2026, 11, 30, 8, 30, tzinfo=SHANGHAI).timestamp()
HOOKED_UNITS = """schema,1
version,2026.11.24
jurisdiction,qidong
id,name,level,duty_phone,backup_phone,webhook_url,secret_ref,handles
QD-GAS,燃气公司,1,77009,78009,https://gas.example/hook,unit_secret_gas,QD-12345-068
QD-WATER,水务公司,1,77010,78010,,,QD-12345-066
"""


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Originated:
    def __init__(self) -> None:
        self.actions: list[Mapping[str, Any]] = []

    async def __call__(self, site: str, action: Mapping[str, Any]) -> dict[str, str]:
        self.actions.append(action)
        return {"Response": "Success"}


@pytest.fixture
def clock() -> Clock:
    return Clock(TUESDAY)


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


def make(redis: Redis, bus: EventBus, clock: Clock, units_text: str = "") -> LinkageService:
    units = parse_units(units_text, "test") if units_text else load_jurisdiction_units("qidong")
    return LinkageService(redis, bus, TicketStore(redis), Outbox(redis, bus, "push-secret"), units=units,
                          config=load_config(None), centers=frozenset({"12345", "110"}), clock=clock)


@pytest.fixture
def linkage(private_redis: Redis, bus: EventBus, clock: Clock) -> LinkageService:
    return make(private_redis, bus, clock)


async def new_ticket(linkage: LinkageService, caller: str = "13800007777", **fields: Any):  # type: ignore[no-untyped-def]
    ticket = await linkage.tickets.open_for_call("12345", f"call-{uuid.uuid4().hex}", caller=caller)
    return await linkage.tickets.update(ticket, **fields) if fields else ticket


async def story(linkage: LinkageService, ticket_id: str) -> list[str]:
    timeline = TicketTimeline(linkage.redis, linkage.tickets, EventBus(), linkage.centers)
    told = await timeline.for_ticket(ticket_id)
    return [e["event"] for e in (told or {"events": []})["events"] if e["event"].startswith("linkage.")]


# --- dispatch -----------------------------------------------------------------------------

async def test_a_dispatch_runs_the_whole_loop_onto_the_tickets_timeline(linkage, clock):
    ticket = await new_ticket(linkage, category="供水", summary="水管爆裂")
    record, new = await linkage.dispatch(ticket, "QD-WATER", "1001")
    assert new and record["state"] == "dispatched" and record["mode"] == "phone" and record["unit"] == "QD-WATER"
    assert (await linkage.tickets.get(ticket.id)).handling_unit == "水务公司"
    again, new = await linkage.dispatch(ticket, "QD-WATER", "1001")
    assert not new and again == record  # the same unit again: nothing new
    with pytest.raises(AlreadyDispatched, match=f"ticket {ticket.id} is with QD-WATER \\(dispatched\\)"):
        await linkage.dispatch(ticket, "QD-GAS", "1001")
    clock.now += 60
    assert (await linkage.feedback(ticket.id, "QD-WATER", "accept", {}))["state"] == "accepted"
    clock.now += 60
    record = await linkage.feedback(ticket.id, "QD-WATER", "arrival", {"situation": "已到场"})
    assert record["state"] == "arrived" and float(record["arrived_at"]) == clock.now
    record = await linkage.feedback(ticket.id, "QD-WATER", "result", {"resolved": True, "summary": "已修复"})
    assert record["state"] == "resolved" and record["resolved"] == "True"
    await linkage.callback(ticket, "满意", "1001")
    record = await linkage.record(ticket.id)
    assert record["state"] == "resolved" and record["callback"] == "满意"  # stored as it always was
    assert await story(linkage, ticket.id) == ["linkage.dispatched", "linkage.accepted", "linkage.arrived",
                                               "linkage.resolved", "linkage.callback"]
    # the loop is one more "call" of the ticket, listed through the tickets' own keys
    assert await linkage.redis.smembers(ticket_calls_key(ticket.id)) == {f"linkage-{ticket.id}"}


async def test_an_unknown_unit_is_refused(linkage):
    with pytest.raises(UnknownUnit):
        await linkage.dispatch(await new_ticket(linkage), "NOPE", "1001")


async def test_a_webhook_unit_gets_its_dispatch_and_its_supervise_message_through_the_outbox(
        private_redis, bus, clock):
    linkage = make(private_redis, bus, clock, HOOKED_UNITS)
    ticket = await new_ticket(linkage, category="燃气")
    record, _ = await linkage.dispatch(ticket, "QD-GAS", "1001")
    assert record["mode"] == "system"
    job = await private_redis.hgetall(outbox_job_key(f"dispatch-{ticket.id}-QD-GAS"))
    body = json.loads(job["body"])
    assert (job["url"], job["secret_ref"]) == ("https://gas.example/hook", "unit_secret_gas")
    assert (body["kind"], body["ticket_id"], body["dispatch_id"]) == ("dispatch", ticket.id, f"{ticket.id}/QD-GAS")
    clock.now = float(record["accept_due"]) + 1
    [(_, step)] = await linkage.scanner.scan_once()
    assert step == "supervised"
    supervise = json.loads((await private_redis.hgetall(outbox_job_key(f"supervise-{ticket.id}-accept")))["body"])
    assert (supervise["kind"], supervise["stage"]) == ("supervise", "accept")


async def test_overdue_accept_gives_supervision_then_escalation(linkage, clock, bus):
    ticket = await new_ticket(linkage)
    with bus.subscribe() as events:
        await linkage.dispatch(ticket, "QD-GAS", "1001")  # level 1: accept within 300 s
        clock.now += 299
        assert await linkage.scanner.scan_once() == []
        clock.now += 2
        [(deadline, step)] = await linkage.scanner.scan_once()
        assert (deadline.ticket_id, deadline.stage, step) == (ticket.id, "accept", "supervised")
        await events.wait_for(is_event("linkage.supervised", ticket_id=ticket.id), 1)
        assert (await linkage.deadlines.flags())[ticket.id]["flag"] == "supervised"
        clock.now += 900  # remind_s of level 1
        [(_, step)] = await linkage.scanner.scan_once()
        assert step == "escalated"
        clock.now += 10_000
        assert await linkage.scanner.scan_once() == []
    assert await story(linkage, ticket.id) == ["linkage.dispatched", "linkage.supervised", "linkage.escalated"]


async def test_met_deadlines_never_fire_and_feedback_arms_arrival_and_result(linkage, clock):
    ticket = await new_ticket(linkage)
    await linkage.dispatch(ticket, "QD-GAS", "1001")
    clock.now += 60
    await linkage.feedback(ticket.id, "QD-GAS", "accept", {})
    assert await linkage.deadlines.get(ticket.id, "accept") is None
    assert (await linkage.deadlines.get(ticket.id, "arrive")).due == pytest.approx(clock.now + 1800)
    clock.now += 600
    await linkage.feedback(ticket.id, "QD-GAS", "arrival", {"situation": "已关阀门"})
    clock.now += 100_000
    assert [(d.stage, s) for d, s in await linkage.scanner.scan_once()] == [("result", "supervised")]
    await linkage.feedback(ticket.id, "QD-GAS", "result", {"resolved": True, "summary": "已修复"})
    clock.now += 100_000
    assert await linkage.scanner.scan_once() == []
    assert ticket.id not in await linkage.deadlines.flags()  # resolved: the red flag goes


async def test_level_3_off_duty_is_queued_and_an_emergency_goes_to_the_supervisor(linkage, clock):
    clock.now = SATURDAY_NIGHT
    ticket = await new_ticket(linkage)
    record, _ = await linkage.dispatch(ticket, "QD-TOWN", "1001")  # level 3
    assert record["state"] == "queued" and float(record["start"]) == MONDAY_MORNING
    assert (await linkage.deadlines.get(ticket.id, "accept")).due == MONDAY_MORNING + 7200
    assert (await linkage.feedback(ticket.id, "QD-TOWN", "accept", {}))["state"] == "accepted"  # queued accepts
    urgent = await new_ticket(linkage, emergency=True)
    record, new = await linkage.dispatch(urgent, "QD-TOWN", "1001")
    assert new and record["state"] == "supervisor" and record["mode"] == "none"
    assert (await linkage.deadlines.flags())[urgent.id]["flag"] == "off_duty_emergency"
    with pytest.raises(NotDispatched):  # the supervisor holds it: no unit reports on it
        await linkage.feedback(urgent.id, "QD-TOWN", "accept", {})


async def test_a_resolved_or_supervisor_held_case_may_be_dispatched_anew(linkage, clock):
    clock.now = SATURDAY_NIGHT
    urgent = await new_ticket(linkage, emergency=True)
    record, _ = await linkage.dispatch(urgent, "QD-TOWN", "1001")
    assert record["state"] == "supervisor"
    record, new = await linkage.dispatch(urgent, "QD-POLICE", "supervisor")
    assert new and record["state"] == "dispatched" and record["unit"] == "QD-POLICE"
    await linkage.feedback(urgent.id, "QD-POLICE", "accept", {})
    await linkage.feedback(urgent.id, "QD-POLICE", "result", {"resolved": False, "summary": "需要燃气公司"})
    record, new = await linkage.dispatch(urgent, "QD-GAS", "1001")
    assert new and record["unit"] == "QD-GAS" and record["state"] == "dispatched"
    assert "resolved" not in record and "accepted_at" not in record  # the new round starts clean
    assert not (await linkage.dispatch(urgent, "QD-GAS", "1001"))[1]


# --- feedback -------------------------------------------------------------------------------

async def test_wrong_feedback_is_refused_with_the_apis_errors(linkage):
    ticket = await new_ticket(linkage)
    with pytest.raises(NotDispatched):
        await linkage.feedback(ticket.id, "QD-WATER", "accept", {})
    with pytest.raises(NotDispatched):  # not dispatched comes before a bad step
        await linkage.feedback(ticket.id, "QD-WATER", "done", {})
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    with pytest.raises(NotYourTicket):
        await linkage.feedback(ticket.id, "QD-GAS", "done", {})
    with pytest.raises(LinkageError, match=r"step must be one of accept, .*, ask_police, not 'done'") as bad:
        await linkage.feedback(ticket.id, "QD-WATER", "done", {})
    assert (bad.value.status, bad.value.code) == (400, "bad_request")
    with pytest.raises(WrongStep, match="is dispatched: accept it first") as wrong:
        await linkage.feedback(ticket.id, "QD-WATER", "arrival", {"situation": "到了"})
    assert (wrong.value.status, wrong.value.code) == (409, "wrong_step")
    with pytest.raises(WrongStep):
        await linkage.feedback(ticket.id, "QD-WATER", "result", {"resolved": True})
    await linkage.feedback(ticket.id, "QD-WATER", "accept", {})
    with pytest.raises(LinkageError, match="situation"):
        await linkage.feedback(ticket.id, "QD-WATER", "arrival", {})
    with pytest.raises(LinkageError, match="resolved"):
        await linkage.feedback(ticket.id, "QD-WATER", "result", {"resolved": "yes"})
    assert (await linkage.record(ticket.id))["state"] == "accepted"  # nothing of the bad bodies recorded


async def test_feedback_again_changes_nothing_and_the_opposite_result_is_flagged(linkage, bus):
    ticket = await new_ticket(linkage)
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    accepted = await linkage.feedback(ticket.id, "QD-WATER", "accept", {})
    assert await linkage.feedback(ticket.id, "QD-WATER", "accept", {}) == accepted
    resolved = await linkage.feedback(ticket.id, "QD-WATER", "result", {"resolved": True})
    assert await linkage.feedback(ticket.id, "QD-WATER", "result", {"resolved": True}) == resolved
    assert await linkage.feedback(ticket.id, "QD-WATER", "arrival", {"situation": "x"}) == resolved
    with bus.subscribe() as events:
        with pytest.raises(WrongStep, match="already reported resolved; the supervisor may dispatch it anew"):
            await linkage.feedback(ticket.id, "QD-WATER", "result", {"resolved": False})
        conflict = await events.wait_for(is_event("linkage.result_conflict", ticket_id=ticket.id), 1)
    assert (conflict.data["recorded"], conflict.data["reported"]) == (True, False)
    assert (await linkage.deadlines.flags())[ticket.id]["flag"] == "result_conflict"
    assert (await linkage.record(ticket.id))["resolved"] == "True"  # the recorded result stands


# --- 回访 ----------------------------------------------------------------------------------

async def test_the_callback_needs_a_result_and_is_recorded_once(linkage):
    ticket = await new_ticket(linkage)
    with pytest.raises(LinkageError, match="result must be one of"):
        await linkage.callback(ticket, "还行", "1001")
    with pytest.raises(NoCallback, match="has no result yet"):
        await linkage.callback(ticket, "满意", "1001")
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    await linkage.feedback(ticket.id, "QD-WATER", "accept", {})
    with pytest.raises(NoCallback, match="has no result yet") as refused:
        await linkage.callback(ticket, "满意", "1001")
    assert (refused.value.status, refused.value.code) == (409, "no_callback")
    await linkage.feedback(ticket.id, "QD-WATER", "result", {"resolved": False})
    await linkage.callback(ticket, "不满意", "1001")
    with pytest.raises(NoCallback, match=r"already has its callback \(不满意\)"):
        await linkage.callback(ticket, "满意", "1001")


async def test_no_callback_for_a_restricted_ticket(linkage):
    ticket = await new_ticket(linkage, restricted=True)
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    await linkage.feedback(ticket.id, "QD-WATER", "accept", {})
    await linkage.feedback(ticket.id, "QD-WATER", "result", {"resolved": True})
    with pytest.raises(NoCallback, match="restricted ticket or an anonymous caller"):
        await linkage.callback(ticket, "满意", "1001")


async def test_the_callers_key_on_the_callback_call_is_recorded(linkage):
    originated = Originated()
    linkage.attach_phone(originated, PhoneTimings(ring_s=20, retry_delay_s=120, answer_window_s=60))
    ticket = await new_ticket(linkage, caller="13900001111")
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    await linkage.feedback(ticket.id, "QD-WATER", "accept", {})  # by the API: the dispatch call ends
    await linkage.feedback(ticket.id, "QD-WATER", "result", {"resolved": True})
    ask = await linkage.phone.get(ticket.id, "callback")
    assert ask["kind"] == "callback" and ask["numbers"] == ["13900001111", "13900001111"]
    await linkage.phone._outcome(ask["ask_id"], Outcome("key", "2"))
    assert (await linkage.record(ticket.id))["callback"] == "基本满意"


async def test_a_dispatch_call_nobody_accepts_alerts_the_supervisor_unless_accepted_meanwhile(linkage, clock):
    originated = Originated()
    linkage.attach_phone(originated, PhoneTimings(ring_s=20, retry_delay_s=120, answer_window_s=60))
    first, second = await new_ticket(linkage), await new_ticket(linkage)
    for ticket in (first, second):
        await linkage.dispatch(ticket, "QD-WATER", "1001")
    await linkage.feedback(second.id, "QD-WATER", "accept", {})  # accepted another way; the call was cancelled
    for _ in range(3):
        ask = await linkage.phone.get(first.id)
        await linkage.phone._outcome(ask["ask_id"], Outcome("unanswered", status="NOANSWER"))
        clock.now += 121
        await linkage.phone.due_once()
    flags = await linkage.deadlines.flags()
    assert flags[first.id]["flag"] == "phone_unanswered" and second.id not in flags
    assert (await linkage.record(first.id))["state"] == "dispatched"


# --- repeat calls and handovers -----------------------------------------------------------

async def test_repeat_calls_link_to_the_open_ticket_until_it_has_its_result(linkage, bus):
    caller = "13900002222"
    with bus.subscribe() as events:
        await linkage.repeat_calls.on_call_answered("12345", "c1", caller)
        opened = await linkage.tickets.for_call("c1")
        await linkage.dispatch(opened, "QD-WATER", "1001")
        await linkage.repeat_calls.on_call_answered("12345", "c2", caller)
        await linkage.repeat_calls.on_call_answered("12345", "c3", caller)
        joint = await events.wait_for(is_event("linkage.joint", ticket_id=opened.id), 1)
    assert joint.data["calls"] == 3 and joint.data["unit"] == "QD-WATER"
    assert await linkage.repeats(opened.id) == 2
    assert (await linkage.deadlines.flags())[opened.id]["flag"] == "joint"
    assert {"c2", "c3"} <= await linkage.redis.smembers(ticket_calls_key(opened.id))  # on its timeline
    await linkage.feedback(opened.id, "QD-WATER", "accept", {})
    await linkage.feedback(opened.id, "QD-WATER", "result", {"resolved": True})
    await linkage.repeat_calls.on_call_answered("12345", "c4", caller)  # resolved: a new case
    assert await linkage.repeats(opened.id) == 2


async def test_a_dispatch_about_the_same_place_and_category_is_a_repeat(linkage):
    fields = {"division_code": "320681", "category": "供水"}
    first = await new_ticket(linkage, **fields)
    await linkage.dispatch(first, "QD-WATER", "1001")
    second = await new_ticket(linkage, caller="13900003333", **fields)
    await linkage.dispatch(second, "QD-WATER", "1001")
    assert (await linkage.repeats(first.id), await linkage.repeats(second.id)) == (1, 0)


async def test_the_handovers_between_the_platforms_go_to_the_event_log(linkage, clock):
    clock.now = time.time()  # the log is read by its stream ids, which are Redis's clock
    await linkage._handle(BusEvent.of(TransferAnswered("1001", "x1", "hl12345-abc", "110", "", "answered", None)))
    await linkage._handle(BusEvent.of(TicketPushedIn("110-20261124-000001", "110", "12345-20261124-000007",
                                                     "12345", bounced=True)))
    logged = await linkage.journal.events_between(clock.now - 1, clock.now + 1)
    assert [(e["event"], e["data"]["source"], e["data"]["target"], e["data"]["mode"], e["data"]["bounced"])
            for e in logged] == [("linkage.handover", "12345", "110", "一键转接", False),
                                 ("linkage.handover", "12345", "110", "系统推送", True)]
