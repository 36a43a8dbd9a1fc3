"""The units' feedback line against the real sandbox: a SIPp caller plays the unit, dials
the 12345 site's feedback number (123459), keys the ticket number and the PIN (RFC 2833),
then 1, 2 or 3, and may leave a voice note (speech from sip-tester's recording)."""

from __future__ import annotations

import time

import pytest

from devtools.sip.dtmf import VOICE, keyed
from hotline_link.app import App
from linkage.feedback_line import MAX_FAILURES
from linkage.keys import FEEDBACK_LINE, LINKAGE
from linkage.phone import digits_of
from tests.helpers import is_event
from tests.sandbox.callflows import Api
from tickets.keys import TICKETS

PIN = "482913"
UNIT_NUMBER = "0513777010"


@pytest.fixture
async def line_server(server_settings, log_lines):
    srv = App(server_settings)
    srv[LINKAGE].phone = None  # no duty-phone calls here: the unit calls in
    srv[FEEDBACK_LINE].pins = {"QD-WATER": PIN}  # in production: unit_pin_qd_water in the secrets file
    lock_alert = srv[LINKAGE].keys.feedback_lock_alert("QD-WATER")
    counters = (srv[FEEDBACK_LINE].attempts_key("QD-WATER"), lock_alert,
                srv[FEEDBACK_LINE].caller_failures_key(UNIT_NUMBER))
    await srv.redis.delete(*counters)  # none left by an earlier test
    await srv.start()
    await srv.ami.wait_connected(15)
    yield srv
    await srv.redis.delete(*counters)
    await srv.stop()


async def dispatched_ticket(server):
    ticket = await server[TICKETS].open_for_call("12345", f"feedback-line-{time.time_ns()}", caller="13800005555")
    ticket = await server[TICKETS].update(ticket, category="公共设施类", summary="路口水管爆裂")
    record, new = await server[LINKAGE].dispatch(ticket, "QD-WATER", "1001")
    assert new and record["state"] == "dispatched" and record["mode"] == "phone"
    return ticket


def login(ticket) -> list[tuple[int, str]]:
    """The ticket number and the PIN, as the unit keys them."""
    return keyed(digits_of(ticket.id), 1500) + keyed(PIN, 1000)


async def call_the_line(server, peers, keys, **ending):
    """The unit dials the 12345 site's feedback number and keys ``keys``."""
    return await peers.call_dtmf(server.settings.site("12345"), UNIT_NUMBER, "123459", keys, **ending)


def steps_on(story: dict) -> list[str]:
    return [e["event"] for e in story["events"] if e["event"].startswith("linkage.")]


async def test_a_wrong_pin_is_refused_and_the_right_one_records_the_result(line_server, peers):
    server = line_server
    ticket = await dispatched_ticket(server)
    number = digits_of(ticket.id)
    keys = (keyed(number, 1500) + keyed("000000", 1000)  # wrong PIN: asked again
            + keyed(number, 1000) + keyed(PIN, 1000)
            + [(1000, "2"), (1500, "#")])  # done (办结), and no voice note
    with server.bus.subscribe() as events:
        run = await call_the_line(server, peers, keys, hold_ms=None, wait_bye_s=40)
        refused = await events.wait_for(is_event("linkage.feedback_refused", ticket_id=ticket.id), 40)
        resolved = await events.wait_for(is_event("linkage.resolved", ticket_id=ticket.id), 30)
    assert refused.data["reason"] == "bad_pin" and refused.data["unit"] == "QD-WATER"
    assert resolved.data["unit"] == "QD-WATER" and resolved.data["resolved"] is True
    assert resolved.data["summary"] == "单位电话反馈：已办结"
    assert await run.finished(40) == 0, run.output()  # the line said goodbye and hung up
    record = await server[LINKAGE].record(ticket.id)
    assert record is not None and record["state"] == "resolved"
    status, story = await Api(server).request("GET", f"/api/tickets/{ticket.id}/timeline", "1001")
    assert status == 200
    # calling in on a dispatched case accepts it first
    assert steps_on(story) == ["linkage.dispatched", "linkage.feedback_refused", "linkage.accepted",
                               "linkage.resolved"]
    # the wrong PIN's try stays counted; the right one's were given back
    assert int(await server.redis.get(server[FEEDBACK_LINE].attempts_key("QD-WATER"))) == 1


async def test_arrival_with_a_voice_note_attached_to_the_ticket(line_server, peers):
    server = line_server
    ticket = await dispatched_ticket(server)
    # on scene (到场); then the note prompt, the tone, the recording
    keys = login(ticket) + [(1000, "1"), (9000, VOICE), (8000, "#")]
    with server.bus.subscribe() as events:
        run = await call_the_line(server, peers, keys, hold_ms=None, wait_bye_s=40)
        arrived = await events.wait_for(is_event("linkage.arrived", ticket_id=ticket.id), 60)
        note = await events.wait_for(is_event("linkage.voice_note", ticket_id=ticket.id), 10)
    assert arrived.data["situation"] == "单位电话反馈：已到达现场（见语音留言）"
    assert note.data["step"] == "arrival" and note.data["unit"] == "QD-WATER"
    assert 3.0 <= note.data["seconds"] <= 10.0, note.data  # 7 s of speech, cut by # or silence
    assert await run.finished(40) == 0, run.output()
    status, audio = await Api(server).request("GET", f"/api/tickets/{ticket.id}/voice-notes/{note.data['note']}",
                                              "1001")
    assert status == 200 and audio[:4] == b"RIFF" and audio[8:12] == b"WAVE", audio[:16]
    status, body = await Api(server).request("GET", f"/api/tickets/{ticket.id}/voice-notes/{ticket.id}-other",
                                             "1001")
    assert status == 404, body


async def test_a_locked_line_refuses_even_the_right_pin(line_server, peers):
    server = line_server
    ticket = await dispatched_ticket(server)
    await server.redis.set(server[FEEDBACK_LINE].attempts_key("QD-WATER"), MAX_FAILURES, ex=60)
    keys = login(ticket)
    with server.bus.subscribe() as events:
        # the line answers as for a wrong PIN and asks again; the unit hangs up
        run = await call_the_line(server, peers, keys, hold_ms=4000)
        refused = await events.wait_for(is_event("linkage.feedback_refused", ticket_id=ticket.id), 40)
        alert = await events.wait_for(is_event("linkage.supervisor_alert", ticket_id=ticket.id), 5)
    assert refused.data["reason"] == "locked"
    assert alert.data["unit"] == "QD-WATER"
    assert await run.finished(40) == 0, run.output()
    record = await server[LINKAGE].record(ticket.id)
    assert record is not None and record["state"] == "dispatched"  # nothing recorded


async def test_a_unit_hanging_up_during_its_voice_note_still_has_its_step_and_note(line_server, peers):
    """The unit hangs up instead of pressing # after speaking: the h extension reports the
    step it chose, and the note Asterisk kept (Record's k option) is attached."""
    server = line_server
    ticket = await dispatched_ticket(server)
    keys = login(ticket) + [(1000, "1"), (9000, VOICE)]
    with server.bus.subscribe() as events:
        run = await call_the_line(server, peers, keys, hold_ms=9000)
        arrived = await events.wait_for(is_event("linkage.arrived", ticket_id=ticket.id), 60)
        note = await events.wait_for(is_event("linkage.voice_note", ticket_id=ticket.id), 10)
    assert arrived.data["situation"] == "单位电话反馈：已到达现场（见语音留言）"
    assert note.data["step"] == "arrival" and note.data["seconds"] >= 3.0, note.data
    assert await run.finished(30) == 0, run.output()


async def test_a_hang_up_in_the_step_menu_records_nothing_and_key_3_records_an_unresolved_result(
        line_server, peers, log_lines):
    """First call: the unit hangs up while the step menu plays, having chosen nothing, and
    nothing is recorded. It calls back, keys 3 (办结，未能解决) and hangs up during the note's
    prompt: the h extension records the result as not resolved, with no note."""
    server = line_server
    ticket = await dispatched_ticket(server)
    keys = login(ticket)
    with server.bus.subscribe() as events:
        silent = await call_the_line(server, peers, keys, hold_ms=1500)
        assert await silent.finished(40) == 0, silent.output()
        checked = [line for line in log_lines.lines
                   if line.get("event") == "feedback.checked" and line.get("ticket_id") == ticket.id]
        assert len(checked) == 1, "the first call did not reach the step menu"
        again = await call_the_line(server, peers, keys + [(1000, "3")], hold_ms=800)
        resolved = await events.wait_for(is_event("linkage.resolved", ticket_id=ticket.id), 60)
        assert await again.finished(30) == 0, again.output()
    assert resolved.data["resolved"] is False and resolved.data["summary"] == "单位电话反馈：已办结，未能解决"
    status, story = await Api(server).request("GET", f"/api/tickets/{ticket.id}/timeline", "1001")
    assert status == 200
    # nothing from the first call: the accept and the result both come from the second
    assert steps_on(story) == ["linkage.dispatched", "linkage.accepted", "linkage.resolved"]
