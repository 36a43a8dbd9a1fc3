"""The feedback line's FastAGI route on a real ``LinkageService`` over a private Redis,
driven by a stand-in for the AGI session (the variables the dialplan sets and reads; the
dialplan itself runs on the sandbox's Asterisk in test_linkage_feedback_line.py)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from redis.asyncio import Redis

from hotline_link.asterisk.agi.protocol import AgiRequest
from hotline_link.core.bus import EventBus
from linkage.feedback_agi import FeedbackLine
from linkage.feedback_line import MAX_FAILURES
from linkage.phone import digits_of
from linkage.policy import load_config
from linkage.service import LinkageService
from linkage.units import load_jurisdiction_units
from tests.helpers import is_event
from tickets.outbox import Outbox
from tickets.store import TICKET_TTL_S, TicketStore

PIN = "482913"


@dataclass
class Session:
    """What the dialplan set before AGI(feedback,...) and what the route answers."""

    variables: dict[str, str]
    args: tuple[str, ...]
    answered: dict[str, str] = field(default_factory=dict)

    @property
    def request(self) -> AgiRequest:
        return AgiRequest({"agi_callerid": "0513777010"}, self.args)

    async def get_variable(self, name: str) -> str:
        return self.variables.get(name, "")

    async def set_variable(self, name: str, value: str) -> None:
        self.answered[name] = value


@pytest.fixture
def linkage(private_redis: Redis) -> LinkageService:
    bus = EventBus()
    return LinkageService(private_redis, bus, TicketStore(private_redis), Outbox(private_redis, bus, "s"),
                          units=load_jurisdiction_units("qidong"), config=load_config(None),
                          centers=frozenset({"12345", "110"}))


@pytest.fixture
def line(linkage: LinkageService, tmp_path: Path) -> FeedbackLine:
    return FeedbackLine(linkage, {"QD-WATER": PIN}, lambda site: tmp_path / site, backoff=lambda failures: 0.0)


async def dispatched(linkage: LinkageService) -> str:
    ticket = await linkage.tickets.open_for_call("12345", f"call-{uuid.uuid4().hex}", caller="13800008888")
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    return ticket.id


async def ask(line: FeedbackLine, ticket_id: str, pin: str, action: str = "check", **more: str) -> dict[str, str]:
    session = Session({"FB_TICKET": digits_of(ticket_id), "FB_PIN": pin, **more}, ("12345", action))
    await line(session)  # type: ignore[arg-type]  # a scripted stand-in AGI session
    return session.answered


async def test_concurrent_wrong_pins_test_no_more_than_the_lock_allows(line, linkage):
    ticket_id = await dispatched(linkage)
    with linkage.bus.subscribe() as events:
        answers = await asyncio.gather(*(ask(line, ticket_id, f"{n:06d}") for n in range(30)))
        # a locked line answers like a wrong PIN; the ticket's timeline tells them apart
        assert Counter(a["FB_RESULT"] for a in answers) == Counter({"refused": 30})
        reasons = Counter(e.data["reason"] for e in events.seen if e.name == "linkage.feedback_refused")
        assert reasons == Counter({"bad_pin": MAX_FAILURES, "locked": 30 - MAX_FAILURES})
        assert (await ask(line, ticket_id, PIN))["FB_RESULT"] == "refused"  # the right PIN too, for now
        alerts = [e for e in events.seen if is_event("linkage.supervisor_alert", ticket_id=ticket_id)(e)]
    assert len(alerts) == 1  # the supervisor is told once


async def test_a_right_pin_gives_its_try_back_and_no_pin_is_not_a_try(line, linkage):
    ticket_id = await dispatched(linkage)
    for _ in range(MAX_FAILURES + 3):
        answer = await ask(line, ticket_id, PIN)
        assert answer["FB_RESULT"] == "ok" and answer["FB_NOTE"].startswith(f"{ticket_id}-note-")
    for _ in range(MAX_FAILURES + 3):
        assert (await ask(line, ticket_id, ""))["FB_RESULT"] == "refused"  # a timeout, keyed nothing
    assert (await ask(line, ticket_id, PIN))["FB_RESULT"] == "ok"


async def test_an_unknown_ticket_and_a_wrong_pin_sound_the_same(line, linkage):
    ticket_id = await dispatched(linkage)
    unknown = ticket_id[:-1] + ("9" if ticket_id[-1] != "9" else "8")
    assert (await ask(line, unknown, PIN))["FB_RESULT"] == "refused"
    assert (await ask(line, ticket_id, "000000"))["FB_RESULT"] == "refused"


async def test_done_records_the_result_and_a_too_short_note_is_dropped(line, linkage, tmp_path):
    ticket_id = await dispatched(linkage)
    note = (await ask(line, ticket_id, PIN))["FB_NOTE"]
    (tmp_path / "12345").mkdir()
    (tmp_path / "12345" / f"{note}.wav").write_bytes(b"RIFF" + bytes(40))  # # pressed at once
    answer = await ask(line, ticket_id, PIN, "report", FB_STEP="2", FB_NOTE=note)
    assert answer["FB_RESULT"] == "ok"
    record = await linkage.record(ticket_id)
    assert record["state"] == "resolved" and record["summary"] == "单位电话反馈：已办结"
    assert not (tmp_path / "12345" / f"{note}.wav").exists()
    assert await linkage.redis.hgetall(line.notes_key(ticket_id)) == {}


async def test_key_3_records_a_result_that_did_not_resolve_the_case(line, linkage):
    ticket_id = await dispatched(linkage)
    with linkage.bus.subscribe() as events:
        assert (await ask(line, ticket_id, PIN, "report", FB_STEP="3"))["FB_RESULT"] == "ok"
        done = await events.wait_for(is_event("linkage.resolved", ticket_id=ticket_id), 2)
    assert done.data["resolved"] is False
    record = await linkage.record(ticket_id)
    assert record["state"] == "resolved" and record["resolved"] == "False"
    assert record["summary"] == "单位电话反馈：已办结，未能解决"


async def test_a_result_said_again_is_kept_and_its_opposite_refused_and_flagged(line, linkage):
    ticket_id = await dispatched(linkage)
    assert (await ask(line, ticket_id, PIN, "report", FB_STEP="2"))["FB_RESULT"] == "ok"
    assert (await ask(line, ticket_id, PIN, "report", FB_STEP="2"))["FB_RESULT"] == "ok"  # a retry
    with linkage.bus.subscribe() as events:
        # the unit meant 3: the line says it cannot record that, and the supervisor sees why
        assert (await ask(line, ticket_id, PIN, "report", FB_STEP="3"))["FB_RESULT"] == "wrong_step"
        conflict = await events.wait_for(is_event("linkage.result_conflict", ticket_id=ticket_id), 2)
    assert conflict.data["recorded"] is True and conflict.data["reported"] is False
    record = await linkage.record(ticket_id)
    assert record["resolved"] == "True"
    assert (await linkage.deadlines.flags())[ticket_id]["flag"] == "result_conflict"


async def test_a_bad_step_key_or_a_foreign_note_name_records_nothing_wrong(line, linkage, tmp_path):
    ticket_id = await dispatched(linkage)
    assert (await ask(line, ticket_id, PIN, "report", FB_STEP="7"))["FB_RESULT"] == "bad_step"
    (tmp_path / "12345").mkdir()
    other = "12345-20200101-000001-note-1-abcdef"  # another ticket's name: never attached here
    (tmp_path / "12345" / f"{other}.wav").write_bytes(b"RIFF" + bytes(20000))
    answer = await ask(line, ticket_id, PIN, "report", FB_STEP="1", FB_NOTE=other)
    assert answer["FB_RESULT"] == "ok"
    record = await linkage.record(ticket_id)
    assert record["state"] == "arrived" and record["situation"] == "单位电话反馈：已到达现场"
    assert await line.note_path(ticket_id, other) is None
    assert (tmp_path / "12345" / f"{other}.wav").exists()  # not ours to remove either


async def test_voice_notes_older_than_tickets_are_swept(line, tmp_path):
    notes = tmp_path / "12345"
    notes.mkdir()
    old, new = notes / "12345-20250101-000001-note-1-aaaaaa.wav", notes / "12345-20261124-000001-note-2-bbbbbb.wav"
    old.write_bytes(b"RIFF")
    new.write_bytes(b"RIFF")
    long_ago = time.time() - TICKET_TTL_S - 86400
    os.utime(old, (long_ago, long_ago))
    assert await line.sweep_notes() == 1
    assert not old.exists() and new.exists()


async def test_wrong_pins_from_one_number_back_off_and_a_right_one_resets(linkage, tmp_path, monkeypatch):
    from linkage import feedback_agi

    asked: list[int] = []
    line = FeedbackLine(linkage, {"QD-WATER": PIN}, lambda site: tmp_path / site,
                        backoff=lambda failures: asked.append(failures) or 0.0)
    ticket_id = await dispatched(linkage)
    for n in range(3):
        assert (await ask(line, ticket_id, f"{n:06d}"))["FB_RESULT"] == "refused"
    assert (await ask(line, ticket_id, PIN))["FB_RESULT"] == "ok"
    assert (await ask(line, ticket_id, PIN))["FB_RESULT"] == "ok"
    assert asked == [0, 1, 2, 3, 0]  # the failures of this number so far, at each call
    assert [feedback_agi.backoff_s(n) for n in (0, 1, 2, 3, 4, 6, 9)] == [0.0, 0.0, 0.0, 2.0, 4.0, 16.0, 16.0]
