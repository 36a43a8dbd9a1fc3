"""The calls the deadlines lead to, on a real ``LinkageService`` over a private Redis with a
clock the test moves: a level-3 unit's phone dispatch waits for its next working period;
a 督办 calls the unit again (for an unaccepted dispatch key 1 accepts); a 提级 calls the
command centre. ``originate`` keeps the AMI actions it is given: what these calls sound like
on a real Asterisk is the sandbox's test_linkage_phone.py."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from hotline_link.core.bus import EventBus
from linkage.phone import Outcome, PhoneTimings, slot_of
from linkage.policy import load_config
from linkage.service import LinkageService
from linkage.units import load_jurisdiction_units
from tests.helpers import is_event
from tickets.outbox import Outbox
from tickets.store import TicketStore

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now


class Originated:
    """The Originate actions, by number dialled."""

    def __init__(self) -> None:
        self.actions: list[Mapping[str, Any]] = []

    async def __call__(self, site: str, action: Mapping[str, Any]) -> dict[str, str]:
        self.actions.append(action)
        return {"Response": "Success"}

    def numbers(self) -> list[str]:
        return [a["Channel"].split("/", 1)[1].split("@", 1)[0] for a in self.actions]

    def prompt(self, index: int) -> str:
        return next(v.split("=", 1)[1] for v in self.actions[index]["Variable"] if v.startswith("ASK_PROMPT="))


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI))  # a Tuesday, working hours


@pytest.fixture
def originated() -> Originated:
    return Originated()


@pytest.fixture
def linkage(private_redis: Redis, clock: Clock, originated: Originated) -> LinkageService:
    bus = EventBus()
    service = LinkageService(private_redis, bus, TicketStore(private_redis), Outbox(private_redis, bus, "push-secret"),
                             units=load_jurisdiction_units("qidong"), config=load_config(None),
                             centers=frozenset({"12345", "110"}), clock=clock)
    service.attach_phone(originated, PhoneTimings(ring_s=20, retry_delay_s=120, answer_window_s=60))
    return service


async def new_ticket(linkage: LinkageService, category: str = "公共设施类"):
    ticket = await linkage.tickets.open_for_call("12345", f"call-{uuid.uuid4().hex}", caller="13800006666")
    return await linkage.tickets.update(ticket, category=category, summary="路口水管爆裂")


async def test_a_level_3_phone_dispatch_off_duty_is_called_when_the_working_period_starts(linkage, clock, originated):
    clock.now = dt.datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI).timestamp()  # a Saturday
    ticket = await new_ticket(linkage)
    record, _ = await linkage.dispatch(ticket, "QD-POST", "1001")
    monday = dt.datetime(2026, 11, 30, 8, 30, tzinfo=SHANGHAI).timestamp()
    assert record["state"] == "queued" and float(record["start"]) == monday
    assert await linkage.phone.due_once() == 0 and originated.actions == []
    clock.now = monday - 1
    assert await linkage.phone.due_once() == 0 and originated.actions == []
    clock.now = monday + 0.5
    assert await linkage.phone.due_once() == 1
    assert originated.numbers() == ["77022"]  # QD-POST's duty line, at 08:30 on Monday


async def test_the_dispatch_call_says_the_category_when_it_has_a_prompt(linkage, originated):
    await linkage.dispatch(await new_ticket(linkage, "公共设施类"), "QD-WATER", "1001")
    await linkage.dispatch(await new_ticket(linkage, "一个目录里没有的类别"), "QD-WATER", "1001")
    said, unsaid = originated.prompt(0).split("&"), originated.prompt(1).split("&")
    assert len(said) == len(unsaid) + 1
    category = [p for p in said if p.startswith("hl/ask/cat_")]
    assert len(category) == 1 and said[-2] == category[0] and said[-1] == "hl/ask/dispatch_press"


async def test_overdue_accept_while_the_dispatch_call_still_tries_places_no_second_call(linkage, clock, originated):
    ticket = await new_ticket(linkage)
    record, _ = await linkage.dispatch(ticket, "QD-WATER", "1001")
    clock.now = float(record["accept_due"]) + 1
    assert [step for _, step in await linkage.scanner.scan_once()] == ["supervised"]
    assert originated.numbers() == ["77010"]  # replacing the tries would drop a key 1 on the way
    ask = await linkage.phone.get(ticket.id)
    await linkage.phone._outcome(ask["ask_id"], Outcome("key", "1"))  # the first call's key still counts
    assert (await linkage.record(ticket.id))["state"] == "accepted"


async def test_overdue_accept_after_every_try_calls_the_unit_again_and_key_1_accepts(linkage, clock, originated):
    ticket = await new_ticket(linkage)
    record, _ = await linkage.dispatch(ticket, "QD-WATER", "1001")
    for _ in range(3):  # duty, duty again, backup: none answers
        ask = await linkage.phone.get(ticket.id)
        await linkage.phone._outcome(ask["ask_id"], Outcome("unanswered", status="NOANSWER"))
        clock.now += 121  # the retry delay
        await linkage.phone.due_once()
    assert originated.numbers() == ["77010", "77010", "78010"]
    assert (await linkage.deadlines.flags())[ticket.id]["flag"] == "phone_unanswered"
    clock.now = float(record["accept_due"]) + 1
    done = await linkage.scanner.scan_once()
    assert [(d.stage, step) for d, step in done] == [("accept", "supervised")]
    assert originated.numbers()[3:] == ["77010"]
    reminder = originated.prompt(3).split("&")
    assert reminder[0] == "hl/ask/supervise_intro" and reminder[-2:] == ["hl/ask/stage_accept", "hl/ask/dispatch_press"]
    ask = await linkage.phone.get(ticket.id)
    assert ask["kind"] == "dispatch" and ask["numbers"] == ["77010", "78010"]  # duty once, then backup
    await linkage.phone._outcome(ask["ask_id"], Outcome("key", "1"))
    assert (await linkage.record(ticket.id))["state"] == "accepted"


async def test_a_unit_reporting_another_way_stops_its_dispatch_calls(linkage, clock, originated):
    ticket = await new_ticket(linkage)
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    ask = await linkage.phone.get(ticket.id)
    await linkage.phone._outcome(ask["ask_id"], Outcome("unanswered", status="NOANSWER"))  # a retry is due
    await linkage.feedback(ticket.id, "QD-WATER", "accept", {})  # by the API or the feedback line
    clock.now += 121
    assert await linkage.phone.due_once() == 0 and originated.numbers() == ["77010"]  # no more tries
    assert (await linkage.phone.get(ticket.id))["state"] == "cancelled"
    assert ticket.id not in await linkage.deadlines.flags()  # and no supervisor alert


async def test_overdue_arrival_reminds_the_unit_then_escalates_to_the_command_centre(linkage, clock, originated):
    ticket = await new_ticket(linkage)
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    record = await linkage.feedback(ticket.id, "QD-WATER", "accept", {})
    with linkage.bus.subscribe() as events:
        clock.now = float(record["arrive_due"]) + 1
        assert [step for _, step in await linkage.scanner.scan_once()] == ["supervised"]
        reminder = await linkage.phone.get(ticket.id, "reminder")
        assert reminder["slot"] == slot_of(ticket.id, "reminder") and reminder["stage"] == "arrive"
        assert originated.prompt(-1).split("&")[-2:] == ["hl/ask/stage_arrive", "hl/ask/supervise_press"]
        await linkage.phone._outcome(reminder["ask_id"], Outcome("key", "1"))
        acknowledged = await events.wait_for(is_event("linkage.reminder_acknowledged", ticket_id=ticket.id), 1)
        assert acknowledged.data["stage"] == "arrive"
        deadline = await linkage.deadlines.get(ticket.id, "arrive")
        clock.now = deadline.due + 1
        assert [step for _, step in await linkage.scanner.scan_once()] == ["escalated"]
    escalation = await linkage.phone.get(ticket.id, "escalation")
    assert escalation["numbers"] == ["77999", "77999"]  # linkage.toml [escalation] phone, tried twice
    assert originated.numbers()[-1] == "77999"
    assert originated.prompt(-1).split("&")[0] == "hl/ask/escalate_intro"
    assert (await linkage.record(ticket.id))["state"] == "accepted"  # a reminder's key does not report arrival


async def test_no_call_once_the_unit_has_reported(linkage, clock, originated):
    ticket = await new_ticket(linkage)
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    record = await linkage.feedback(ticket.id, "QD-WATER", "accept", {})
    await linkage.feedback(ticket.id, "QD-WATER", "result", {"resolved": True})
    assert originated.numbers() == ["77010", "13800006666"]  # the dispatch, then the 回访 call
    calls = len(originated.actions)
    clock.now = float(record["result_due"]) + 1
    assert await linkage.scanner.scan_once() == []  # the result cleared the deadlines
    assert len(originated.actions) == calls


async def test_the_dispatch_call_reads_the_tickets_summary_synthesised_at_dispatch(linkage, originated, tmp_path,
                                                                                   speech_tools):
    linkage.dispatcher.sounds_dir = tmp_path
    ticket = await new_ticket(linkage)  # summary 路口水管爆裂
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    prompt = originated.prompt(0).split("&")
    assert prompt[-2] == f"hl/ask/tickets/{ticket.id}" and prompt[-1] == "hl/ask/dispatch_press"
    spoken = tmp_path / "hl/ask/tickets" / f"{ticket.id}.wav"
    assert spoken.read_bytes()[:4] == b"RIFF" and spoken.stat().st_size > 8000  # some speech
    ask = await linkage.phone.get(ticket.id)
    await linkage.phone._outcome(ask["ask_id"], Outcome("key", "1"))
    assert not spoken.exists()  # the dispatch call is over: its sound goes


async def test_a_summary_that_cannot_be_synthesised_leaves_it_out_of_the_call(linkage, originated, tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the sounds directory should be")
    linkage.dispatcher.sounds_dir = blocked
    ticket = await new_ticket(linkage)
    record, _ = await linkage.dispatch(ticket, "QD-WATER", "1001")
    assert record["state"] == "dispatched" and originated.numbers() == ["77010"]  # the call still goes out
    assert not any(p.startswith("hl/ask/tickets/") for p in originated.prompt(0).split("&"))


async def test_the_arrival_reported_ends_the_reminder_about_it(linkage, clock, originated):
    ticket = await new_ticket(linkage)
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    record = await linkage.feedback(ticket.id, "QD-WATER", "accept", {})
    clock.now = float(record["arrive_due"]) + 1
    await linkage.scanner.scan_once()
    assert (await linkage.phone.active(ticket.id, "reminder"))["stage"] == "arrive"
    await linkage.feedback(ticket.id, "QD-WATER", "arrival", {"situation": "已到场"})
    assert await linkage.phone.active(ticket.id, "reminder") is None


async def test_the_result_reported_leaves_the_satisfaction_call_alone(linkage, originated):
    ticket = await new_ticket(linkage)
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    await linkage.feedback(ticket.id, "QD-WATER", "accept", {})
    await linkage.feedback(ticket.id, "QD-WATER", "result", {"resolved": True})  # ends dispatch asks
    callback = await linkage.phone.get(ticket.id, "callback")  # the same slot as the dispatch's
    assert callback["kind"] == "callback" and callback["state"] == "calling"
    assert originated.numbers() == ["77010", "13800006666"]
