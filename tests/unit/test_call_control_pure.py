import pytest

from call_control.agent_events import AgentEvents, agents_of
from call_control.channel_vars import decode, ticket_variables
from call_control.conference.service import Conference
from call_control.conference.state import party_of
from call_control.directory import resolve_target
from call_control.errors import SamePlatform, UnknownTarget
from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import (
    CallAnswered,
    CallEnded,
    CallRinging,
    ConferenceLeft,
    SeatChanged,
    TransferFailed,
)
from hotline_link.core.settings import DEFAULT_DIRECTORY


def test_directory():
    assert resolve_target(DEFAULT_DIRECTORY, "110", "12345").number == "110"
    assert resolve_target(DEFAULT_DIRECTORY, "120", "110").number == "120"
    with pytest.raises(SamePlatform):
        resolve_target(DEFAULT_DIRECTORY, "12345", "12345")
    with pytest.raises(UnknownTarget, match="119"):
        resolve_target(DEFAULT_DIRECTORY, "999", "12345")


def test_ticket_variables_are_header_safe_and_round_trip():
    variables = ticket_variables("12345-20261124-000001", "治安", 'a,b"c\r\nX-Evil: 1', "12345")
    for value in variables.values():
        assert all(ch.isalnum() or ch in "%-._~" for ch in value), value
    assert decode(variables["__TICKET_SUMMARY"]) == 'a,b"c\r\nX-Evil: 1'
    assert decode(variables["__TICKET_CATEGORY"]) == "治安"
    assert len(decode(ticket_variables("t", "c", "长" * 500, "x")["__TICKET_SUMMARY"])) == 120


@pytest.mark.parametrize("channel, party", [
    ("PJSIP/1001-0000001a", "1001"), ("Local/110@conference-out-00000001;1", "110"),
    ("PJSIP/anonymous-00000002", "anonymous"),
])
def test_party_of(channel, party):
    assert party_of(channel) == party


def test_caller_alone_rule():
    conf = Conference("hl1", "c", "12345", "t", "110", "u-caller", "u-third", "a")
    conf.members = {"u-caller": "PJSIP/anonymous-1", "u-agent": "PJSIP/1001-2"}
    assert conf.agents_left_after("u-agent") == 0
    conf.members["u-third"] = "Local/110@conference-out-3;1"
    assert conf.agents_left_after("u-agent") == 1
    assert sorted(conf.view().parties) == ["1001", "110", "caller"]


@pytest.mark.parametrize("event, agents", [
    (CallRinging("c1", "110", "2001", "13812341234"), {"2001"}),
    (CallAnswered("c1", "12345", "13812341234", "PJSIP/1001", 3.0), {"1001"}),
    (CallEnded("c1", "12345", "13812341234", None, "Normal Clearing", "hangup", 0.0), set()),
    (TransferFailed("1001", "x1", "c1", "110", "t1", "failed", "busy"), {"1001"}),
    (ConferenceLeft("1001", "12345", "c1", "r1", "t1", "110", "left", ["caller", "110", "1002"]), {"1001", "1002"}),
    (SeatChanged("12345", "1001", "idle", "talking"), {"1001"}),  # the desk shows its seat as the server does
    (SeatChanged("12345", "1003", "idle", "paused"), set()),  # a seat no agent here knows
])
def test_which_agents_hear_an_event(event, agents):
    assert agents_of(BusEvent.of(event), frozenset({"1001", "1002", "2001"})) == agents


async def test_a_seat_change_reaches_that_seats_desk_only_as_seat_changed():
    bus = EventBus()
    desks = AgentEvents(bus, None, frozenset({"1001", "1002"}))  # type: ignore[arg-type]  # no ringing: no tickets
    own, other = desks.open("1001"), desks.open("1002")
    bus.emit(SeatChanged("12345", "1001", "idle", "talking"))
    assert other.empty() and own.qsize() == 1
    assert await desks.message(own.get_nowait()) == {"type": "seat_changed", "site": "12345", "seat": "1001",
                                                     "old": "idle", "new": "talking"}
