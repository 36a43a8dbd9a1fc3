import json

from hotline_link.core.bus import BusEvent
from tickets.timeline import entry_of, first_answered


def test_entry_is_flat_with_the_caller_masked():
    entry = entry_of(BusEvent("call.started", {"call_id": "c1", "caller": "13812341234", "x": None}), 12.5)
    assert entry["event"] == "call.started" and float(entry["at"]) == 12.5
    data = json.loads(entry["data"])
    assert data == {"call_id": "c1", "caller": "138****1234"}


def test_first_answered_is_the_earliest_answer():
    events = [
        {"event": "call.started", "at": 1.0, "data": {"site": "12345"}},
        {"event": "call.answered", "at": 5.0, "data": {"site": "110", "answered_by": "PJSIP/2001", "call_id": "b"}},
        {"event": "call.answered", "at": 2.0, "data": {"site": "12345", "answered_by": "PJSIP/1001", "call_id": "a"}},
    ]
    assert first_answered(events) == {"site": "12345", "agent": "PJSIP/1001", "at": 2.0, "call_id": "a"}
    assert first_answered(events[:1]) is None
