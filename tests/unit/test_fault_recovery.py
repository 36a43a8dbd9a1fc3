"""Regressions of what the fault tests found: state rebuilt from Asterisk after the server
was away (pure parts; the sandbox side is tests/sandbox/test_faults.py)."""

from __future__ import annotations

from call_control.calls import CallBook


def test_resync_takes_the_caller_from_the_callers_leg_and_sees_the_answer():
    # CoreShowChannels may list the agent's leg first: the call's caller was then the agent
    book = CallBook()
    live = [{"Uniqueid": "a.2", "Linkedid": "a.1", "Channel": "PJSIP/1005-00000081", "CallerIDNum": "1005",
             "Exten": "", "ChannelStateDesc": "Up"},
            {"Uniqueid": "a.1", "Linkedid": "a.1", "Channel": "PJSIP/anonymous-00000080",
             "CallerIDNum": "13900003001", "Exten": "12345", "ChannelStateDesc": "Up"}]
    events = book.resync("12345", live, 100.0)
    assert [name for name, _ in events] == ["call.started", "call.answered"]
    assert events[0][1]["caller"] == "13900003001" and events[0][1]["dialled"] == "12345"
    assert events[1][1]["answered_by"] == "PJSIP/1005"
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
    assert [name for name, _ in book.resync("12345", live, 5.0)] == ["call.started"]
    assert book.find("b.1").answered_by is None  # type: ignore[union-attr]  # resync just added it
