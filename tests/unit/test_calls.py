from call_control.calls import CallBook, hangup_reason
from hotline_link.core.events import CallAnswered, CallEnded, CallStarted


def _start(book, uniqueid="u1", linkedid="u1", name="PJSIP/anonymous-01", now=100.0):
    return book.channel_up("12345", uniqueid, linkedid, name, "13812341234", "12345", now)


def test_first_channel_starts_the_call_later_ones_join_it():
    book = CallBook()
    started, = _start(book)
    assert isinstance(started, CallStarted) and started.call_id == "u1" and started.resynced is False
    assert _start(book, uniqueid="u2", name="PJSIP/1001-02") == []
    call = book.get("12345", "u1")
    assert set(call.channels) == {"u1", "u2"}
    assert call.caller_channel == ("u1", "PJSIP/anonymous-01")
    assert call.agent_channel("1001") == ("u2", "PJSIP/1001-02")
    assert call.agent_channel("1002") is None


def test_agent_and_call_lookups():
    book = CallBook()
    _start(book)
    _start(book, uniqueid="u2", name="PJSIP/1001-00000002")
    _start(book, uniqueid="v1", linkedid="v1", now=90)
    assert book.of_agent("12345", "1001").call_id == "u1"
    assert book.of_agent("12345", "100") is None  # a prefix of another agent is not that agent
    assert book.of_agent("110", "1001") is None
    assert book.find("v1").call_id == "v1" and book.find("nope") is None
    assert book.get("12345", "u1").agent_channel("1001") == ("u2", "PJSIP/1001-00000002")


def test_answer_is_reported_once_with_the_seat_and_wait():
    book = CallBook()
    _start(book)
    answered, = book.dial_end("12345", "u1", "PJSIP/1001-00000002", "ANSWER", 104.5)
    assert answered == CallAnswered("u1", "12345", "13812341234", "PJSIP/1001", 4.5)
    assert book.dial_end("12345", "u1", "PJSIP/1002-00000003", "ANSWER", 105) == []
    assert book.dial_end("12345", "nope", "PJSIP/1002-3", "ANSWER", 105) == []


def test_unanswered_dial_changes_nothing():
    book = CallBook()
    _start(book)
    assert book.dial_end("12345", "u1", "PJSIP/1001-2", "NOANSWER", 130) == []
    assert book.get("12345", "u1").answered_by is None


def test_call_ends_when_its_last_channel_hangs_up():
    book = CallBook()
    _start(book)
    _start(book, uniqueid="u2", name="PJSIP/1001-02")
    assert book.channel_down("12345", "u2", "Normal Clearing", 110) == []
    ended, = book.channel_down("12345", "u1", "Normal Clearing", 112)
    assert isinstance(ended, CallEnded) and ended.duration_s == 12 and ended.reason == "hangup"
    assert book.active() == []


def test_unknown_or_malformed_events_are_ignored():
    book = CallBook()
    assert book.channel_down("12345", "ghost", "", 1) == []
    assert book.channel_up("12345", "", "", "", "", "", 1) == []
    assert _start(book) and _start(book) == []  # the same Newchannel twice


def test_resync_ends_vanished_calls_and_adopts_unknown_ones():
    book = CallBook()
    _start(book)
    _start(book, uniqueid="v1", linkedid="v1")
    live = [{"Uniqueid": "v1", "Linkedid": "v1"},
            {"Uniqueid": "w1", "Linkedid": "w1", "Channel": "PJSIP/anonymous-9",
             "CallerIDNum": "13900000000", "Exten": "12345"}]
    events = book.resync("12345", live, 200)
    assert [(e.NAME, e.call_id) for e in events] == [("call.ended", "u1"), ("call.started", "w1")]
    assert isinstance(events[0], CallEnded) and events[0].reason == "gone_while_disconnected"
    assert isinstance(events[1], CallStarted) and events[1].resynced is True
    assert {c.call_id for c in book.active()} == {"v1", "w1"}


def test_sites_do_not_mix():
    book = CallBook()
    _start(book)
    assert book.resync("110", [], 5) == []
    assert book.get("12345", "u1") is not None


def test_a_call_whose_media_stopped_ends_as_media_timeout_whichever_leg_goes_last():
    book = CallBook()
    _start(book)
    _start(book, uniqueid="u2", name="PJSIP/1001-02")
    assert book.channel_down("12345", "u2", "44", 140, reason=hangup_reason("44", "Up")) == []
    ended, = book.channel_down("12345", "u1", "16", 140.1, reason=hangup_reason("16", "Up"))
    assert isinstance(ended, CallEnded) and ended.reason == "media_timeout"


def test_hangup_reason_is_media_timeout_only_for_cause_44_on_an_answered_channel():
    assert hangup_reason("44", "Up") == "media_timeout"
    assert hangup_reason(" 44 ", "up") == "media_timeout"
    assert hangup_reason("44", "Ringing") == "hangup"  # a seat that could not be reached
    assert hangup_reason("16", "Up") == "hangup"
    assert hangup_reason("", "") == "hangup"


def test_a_ringing_agent_is_not_on_the_call_until_its_leg_answers():
    book = CallBook()
    _start(book)
    _start(book, uniqueid="u2", name="PJSIP/1001-02")  # ring-all: both seats ring
    _start(book, uniqueid="u3", name="PJSIP/1002-03")
    call = book.get("12345", "u1")
    assert call.agent_channel("1002") == ("u3", "PJSIP/1002-03")  # the screen pop's
    assert call.answered_agent_channel("1001") is None and call.answered_agent_channel("1002") is None
    book.dial_end("12345", "u1", "PJSIP/1001-02", "ANSWER", 101)
    assert call.answered_agent_channel("1001") == ("u2", "PJSIP/1001-02")
    assert call.answered_agent_channel("1002") is None
    # back at intake later (a three-way call every agent left): the next agent who answers is on it
    _start(book, uniqueid="u4", name="PJSIP/1003-04")
    book.dial_end("12345", "u1", "PJSIP/1003-04", "ANSWER", 130)
    assert call.answered_agent_channel("1003") == ("u4", "PJSIP/1003-04")
