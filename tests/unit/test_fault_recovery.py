"""Regressions of what the fault tests found: state rebuilt from Asterisk after the server
was away (pure parts; the sandbox side is tests/sandbox/test_faults.py)."""

from __future__ import annotations

from call_control.calls import CallBook
from hotline_link.core.events import CallAnswered, CallStarted


def test_resync_takes_the_caller_from_the_callers_leg_and_sees_the_answer():
    # CoreShowChannels may list the agent's leg first: the call's caller was then the agent
    book = CallBook()
    live = [{"Uniqueid": "a.2", "Linkedid": "a.1", "Channel": "PJSIP/1005-00000081", "CallerIDNum": "1005",
             "Exten": "", "ChannelStateDesc": "Up"},
            {"Uniqueid": "a.1", "Linkedid": "a.1", "Channel": "PJSIP/anonymous-00000080",
             "CallerIDNum": "13900003001", "Exten": "12345", "ChannelStateDesc": "Up"}]
    events = book.resync("12345", live, 100.0)
    started, answered = events
    assert isinstance(started, CallStarted) and isinstance(answered, CallAnswered)
    assert started.caller == "13900003001" and started.dialled == "12345"
    assert answered.answered_by == "PJSIP/1005"
    call = book.find("a.1")
    assert call is not None and call.caller == "13900003001" and call.answered_by == "PJSIP/1005"
    # a second resync (another reconnect) adds nothing
    assert book.resync("12345", live, 101.0) == []


def test_resync_of_a_ringing_leg_is_not_an_answer():
    book = CallBook()
    live = [{"Uniqueid": "b.1", "Linkedid": "b.1", "Channel": "PJSIP/anonymous-1", "CallerIDNum": "13900000000",
             "Exten": "12345", "ChannelStateDesc": "Ring"},
            {"Uniqueid": "b.2", "Linkedid": "b.1", "Channel": "PJSIP/1006-2", "CallerIDNum": "13900000000",
             "ChannelStateDesc": "Ringing"}]
    assert [e.NAME for e in book.resync("12345", live, 5.0)] == ["call.started"]
    assert book.find("b.1").answered_by is None  # type: ignore[union-attr]  # resync just added it
