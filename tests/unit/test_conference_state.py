"""The three-way call's pure state machine: every state against every event, the actions
each step asks for, and the rule that the caller is never left alone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from call_control.conference.state import (
    ConferenceState,
    Dial,
    Dialled,
    Forget,
    HangUpTarget,
    InvalidTransition,
    Joined,
    Kick,
    LeaveRequested,
    Left,
    MovedIn,
    Publish,
    Resynced,
    ReturnCaller,
    RingTimeout,
    Room,
    RoomEnded,
    StartFailed,
    StopRecording,
    TargetFailed,
    step,
)
from call_control.errors import CallerWouldBeAlone, NotInConference, NotYourCall
from hotline_link.core.events import ConferenceDialling, ConferenceEnded, ConferenceJoined, ConferenceLeft

S = ConferenceState
CALLER = ("c", "PJSIP/anonymous-01")
AGENT = ("a", "PJSIP/1001-02")  # this platform's agent, seat 1001
THIRD = ("t", "Local/110@conference-out-03;1")  # the target: 110
OTHER = ("o", "PJSIP/1002-04")  # a second agent of this platform


def room(state: ConferenceState, *members: tuple[str, str]) -> Room:
    return Room("hl1", state, CALLER[0], THIRD[0], dict(members))


# each state with the members it typically has
TYPICAL = {
    S.STARTING: room(S.STARTING, CALLER, AGENT),
    S.DIALLING: room(S.DIALLING, CALLER, AGENT),
    S.JOINED: room(S.JOINED, CALLER, AGENT, THIRD),
    S.NO_ANSWER: room(S.NO_ANSWER, CALLER, AGENT),
    S.ENDED: room(S.ENDED),
}
EVENTS = {
    "moved_in": MovedIn(),
    "dialled": Dialled("1001"),
    "start_failed": StartFailed(),
    "target_joined": Joined(*THIRD),
    "agent_left": Left(*AGENT),
    "target_failed": TargetFailed("3"),
    "ring_timeout": RingTimeout(),
    "room_ended": RoomEnded(),
    "resynced": Resynced(frozenset({"c", "a", "t"})),
    "leave_requested": LeaveRequested("1001", "1001"),
}
# (state, event) -> the next state, or what step raises
INVALID = InvalidTransition
TABLE: dict[tuple[ConferenceState, str], ConferenceState | type[Exception]] = {
    (S.STARTING, "moved_in"): S.DIALLING,
    (S.STARTING, "dialled"): INVALID,
    (S.STARTING, "start_failed"): S.ENDED,
    (S.STARTING, "target_joined"): S.JOINED,
    (S.STARTING, "agent_left"): S.STARTING,
    (S.STARTING, "target_failed"): S.NO_ANSWER,
    (S.STARTING, "ring_timeout"): INVALID,
    (S.STARTING, "room_ended"): S.ENDED,
    (S.STARTING, "resynced"): S.STARTING,
    (S.STARTING, "leave_requested"): CallerWouldBeAlone,

    (S.DIALLING, "moved_in"): INVALID,
    (S.DIALLING, "dialled"): S.DIALLING,
    (S.DIALLING, "start_failed"): S.ENDED,
    (S.DIALLING, "target_joined"): S.JOINED,
    (S.DIALLING, "agent_left"): S.DIALLING,
    (S.DIALLING, "target_failed"): S.NO_ANSWER,
    (S.DIALLING, "ring_timeout"): S.NO_ANSWER,
    (S.DIALLING, "room_ended"): S.ENDED,
    (S.DIALLING, "resynced"): S.DIALLING,
    (S.DIALLING, "leave_requested"): CallerWouldBeAlone,

    (S.JOINED, "moved_in"): INVALID,
    (S.JOINED, "dialled"): S.JOINED,
    (S.JOINED, "start_failed"): S.ENDED,
    (S.JOINED, "target_joined"): S.JOINED,
    (S.JOINED, "agent_left"): S.JOINED,
    (S.JOINED, "target_failed"): S.JOINED,
    (S.JOINED, "ring_timeout"): INVALID,
    (S.JOINED, "room_ended"): S.ENDED,
    (S.JOINED, "resynced"): S.JOINED,
    (S.JOINED, "leave_requested"): S.JOINED,

    (S.NO_ANSWER, "moved_in"): INVALID,
    (S.NO_ANSWER, "dialled"): S.NO_ANSWER,
    (S.NO_ANSWER, "start_failed"): S.ENDED,
    (S.NO_ANSWER, "target_joined"): S.JOINED,
    (S.NO_ANSWER, "agent_left"): S.NO_ANSWER,
    (S.NO_ANSWER, "target_failed"): S.NO_ANSWER,
    (S.NO_ANSWER, "ring_timeout"): INVALID,
    (S.NO_ANSWER, "room_ended"): S.ENDED,
    (S.NO_ANSWER, "resynced"): S.NO_ANSWER,
    (S.NO_ANSWER, "leave_requested"): CallerWouldBeAlone,

    **{(S.ENDED, name): S.ENDED for name in EVENTS if name != "leave_requested"},
    (S.ENDED, "leave_requested"): NotInConference,
}


def test_the_table_covers_every_state_and_every_event():
    assert set(TABLE) == {(state, name) for state in S for name in EVENTS}
    assert set(TYPICAL) == set(S)


@pytest.mark.parametrize("state, name", sorted(TABLE, key=lambda k: (list(S).index(k[0]), k[1])))
def test_every_transition(state, name):
    before, event, expected = TYPICAL[state], EVENTS[name], TABLE[(state, name)]
    members = dict(before.members)
    if isinstance(expected, type):
        with pytest.raises(expected):
            step(before, event)
    else:
        after, actions = step(before, event)
        assert after.state is expected
        assert (Forget() in actions) == (expected is S.ENDED and state is not S.ENDED)
    assert dict(before.members) == members and before.state is state  # the input is never changed


def test_the_values_are_the_apis():
    assert [s.value for s in S] == ["starting", "dialling", "joined", "no_answer", "ended"]
    assert [s for s in S if s.final] == [S.ENDED]


def test_after_the_end_events_change_nothing_and_ask_for_nothing():
    ended = room(S.ENDED, CALLER, AGENT)
    for name, event in EVENTS.items():
        if name not in ("leave_requested", "dialled"):
            assert step(ended, event) == (ended, [])
    assert step(ended, Resynced(frozenset())) == (ended, [])


def test_a_target_dialled_is_said_even_if_the_room_ended_while_the_originate_went_out():
    # the caller hung up as the Originate was sent: the dial happened (and was recorded)
    ended = room(S.ENDED, AGENT)
    assert step(ended, Dialled("1001")) == (ended, [Publish(ConferenceDialling, "1001", S.ENDED, ("1001",))])


# the start: move in, dial, wait

def test_the_happy_start():
    r = room(S.STARTING)
    r, actions = step(r, Joined(*CALLER))
    assert (r.state, actions) == (S.STARTING, [Publish(ConferenceJoined, "anonymous", S.STARTING, ("caller",))])
    r, actions = step(r, Joined(*AGENT))
    assert actions == [Publish(ConferenceJoined, "1001", S.STARTING, ("1001", "caller"))]
    r, actions = step(r, MovedIn())
    assert (r.state, actions) == (S.DIALLING, [Dial()])  # DIALLING before the Originate is sent
    r, actions = step(r, Dialled("1001"))
    assert (r.state, actions) == (S.DIALLING, [Publish(ConferenceDialling, "1001", S.DIALLING,
                                                       ("1001", "caller"))])
    r, actions = step(r, Joined(*THIRD))  # the target answered
    assert r.state is S.JOINED
    assert actions == [Publish(ConferenceJoined, "110", S.JOINED, ("1001", "110", "caller"))]
    assert r.members == dict([CALLER, AGENT, THIRD])


def test_an_agent_joining_while_dialling_is_not_the_target():
    r, _ = step(room(S.DIALLING, CALLER, AGENT), Joined(*OTHER))
    assert r.state is S.DIALLING and set(r.members) == {"c", "a", "o"}


@pytest.mark.parametrize("state", [S.STARTING, S.DIALLING, S.JOINED, S.NO_ANSWER])
def test_a_failed_start_returns_a_lone_caller_and_frees_the_room_without_a_bus_event(state):
    assert step(room(state, CALLER), StartFailed()) == (room(S.ENDED, CALLER),
                                                       [ReturnCaller(CALLER[1]), Forget()])
    assert step(room(state, CALLER, AGENT), StartFailed())[1] == [Forget()]
    assert step(room(state), StartFailed())[1] == [Forget()]  # nobody reached the room
    assert step(room(state, AGENT), StartFailed())[1] == [Forget()]


def test_dialled_is_said_whatever_happened_meanwhile():
    for state in (S.JOINED, S.NO_ANSWER):
        r = room(state, CALLER, AGENT)
        assert step(r, Dialled("1001")) == (r, [Publish(ConferenceDialling, "1001", state, ("1001", "caller"))])


def test_moving_in_into_a_room_that_already_ended_dials_nobody():
    assert step(room(S.ENDED, CALLER, AGENT), MovedIn()) == (room(S.ENDED, CALLER, AGENT), [])


# the target does not come

@pytest.mark.parametrize("state", [S.STARTING, S.DIALLING])
def test_the_target_failing_keeps_caller_and_agent_together(state):
    assert step(room(state, CALLER, AGENT), TargetFailed("5")) == (room(S.NO_ANSWER, CALLER, AGENT), [])


@pytest.mark.parametrize("state", [S.STARTING, S.DIALLING])
def test_the_target_failing_returns_a_caller_waiting_alone_for_it(state):
    assert step(room(state, CALLER), TargetFailed("3")) == (room(S.NO_ANSWER, CALLER), [ReturnCaller(CALLER[1])])


@pytest.mark.parametrize("state", [S.JOINED, S.NO_ANSWER])
def test_a_late_target_failure_changes_nothing(state):
    assert step(room(state, CALLER), TargetFailed()) == (room(state, CALLER), [])


def test_the_ring_timeout_gives_up_on_the_target_and_asks_for_nothing():
    assert step(room(S.DIALLING, CALLER, AGENT), RingTimeout()) == (room(S.NO_ANSWER, CALLER, AGENT), [])
    assert step(room(S.DIALLING, CALLER), RingTimeout()) == (room(S.NO_ANSWER, CALLER), [])


def test_a_target_answering_after_all_joins():
    r, actions = step(room(S.NO_ANSWER, CALLER, AGENT), Joined(*THIRD))
    assert r.state is S.JOINED and actions[0].kind is ConferenceJoined


# parties leave

def test_the_target_coming_after_our_last_agent_left_ends_our_recording():
    r, actions = step(room(S.DIALLING, CALLER), Joined(*THIRD))
    assert r.state is S.JOINED and actions[1:] == [StopRecording(CALLER[1])]
    r, actions = step(room(S.DIALLING, CALLER, AGENT), Joined(*THIRD))
    assert [a for a in actions if isinstance(a, StopRecording)] == []  # our agent is there: we record


def test_one_agent_leaving_leaves_the_caller_with_the_other():
    r, actions = step(room(S.JOINED, CALLER, AGENT, THIRD), Left(*AGENT))
    assert r == room(S.JOINED, CALLER, THIRD)
    # the platform's last agent left: its recording of the caller stops (the other records)
    assert actions == [Publish(ConferenceLeft, "1001", S.JOINED, ("110", "caller")), StopRecording(CALLER[1])]
    r, actions = step(room(S.JOINED, CALLER, AGENT, THIRD), Left(*THIRD))
    assert actions == [Publish(ConferenceLeft, "110", S.JOINED, ("1001", "caller"))]  # our agent stays: we record
    second = ("1700000000.9", "PJSIP/1002-00000009")
    r, actions = step(room(S.JOINED, CALLER, AGENT, second, THIRD), Left(*AGENT))
    assert StopRecording(CALLER[1]) not in actions  # another of our agents is still there


@pytest.mark.parametrize("state", [S.STARTING, S.JOINED, S.NO_ANSWER])
def test_the_last_agent_hanging_up_sends_the_caller_back_to_intake(state):
    r, actions = step(room(state, CALLER, THIRD if state is S.JOINED else AGENT),
                      Left(*(THIRD if state is S.JOINED else AGENT)))
    assert r.state is state and r.members == dict([CALLER])
    assert actions[0].kind is ConferenceLeft and actions[0].parties == ("caller",)
    assert actions[1:] == [ReturnCaller(CALLER[1])]


def test_while_dialling_a_caller_left_alone_waits_for_the_target():
    r, actions = step(room(S.DIALLING, CALLER, AGENT), Left(*AGENT))
    assert r == room(S.DIALLING, CALLER)
    assert actions == [Publish(ConferenceLeft, "1001", S.DIALLING, ("caller",))]


def test_the_caller_leaving_is_published_and_nobody_is_returned():
    r, actions = step(room(S.JOINED, CALLER, AGENT, THIRD), Left(*CALLER))
    assert r == room(S.JOINED, AGENT, THIRD)
    assert actions == [Publish(ConferenceLeft, "anonymous", S.JOINED, ("1001", "110"))]


def test_a_leave_of_someone_never_seen_is_still_published():
    r, actions = step(room(S.JOINED, CALLER, AGENT, THIRD), Left(*OTHER))
    assert r == room(S.JOINED, CALLER, AGENT, THIRD)
    assert actions == [Publish(ConferenceLeft, "1002", S.JOINED, ("1001", "110", "caller"))]


# the room ends (the caller, its marked user, hung up)

def test_the_room_ending_while_the_target_rings_hangs_the_target_up():
    r, actions = step(room(S.DIALLING), RoomEnded())
    assert r == room(S.ENDED)
    assert actions == [HangUpTarget("t"), Publish(ConferenceEnded, "", S.ENDED, ()), Forget()]


@pytest.mark.parametrize("state", [S.STARTING, S.JOINED, S.NO_ANSWER])
def test_the_room_ending_otherwise_is_published_and_forgotten(state):
    r, actions = step(room(state, AGENT), RoomEnded())
    assert r == room(S.ENDED, AGENT)
    assert actions == [Publish(ConferenceEnded, "", S.ENDED, ("1001",)), Forget()]


# resync after an AMI outage

def test_resync_parties_gone_leave_one_by_one_and_a_lone_caller_goes_back():
    r, actions = step(room(S.JOINED, CALLER, AGENT, THIRD), Resynced(frozenset({"c"})))
    assert r == room(S.JOINED, CALLER)
    assert actions == [Publish(ConferenceLeft, "1001", S.JOINED, ("110", "caller")),
                       Publish(ConferenceLeft, "110", S.JOINED, ("caller",)),
                       ReturnCaller(CALLER[1])]


def test_resync_the_caller_gone_ends_the_room_without_returning_or_hanging_up_anyone():
    r, actions = step(room(S.DIALLING, CALLER, AGENT), Resynced(frozenset({"a"})))
    assert r == room(S.ENDED, AGENT)
    assert actions == [Publish(ConferenceLeft, "anonymous", S.DIALLING, ("1001",)),
                       Publish(ConferenceEnded, "", S.ENDED, ("1001",)), Forget()]
    r, actions = step(room(S.STARTING), Resynced(frozenset()))  # a caller never in the room
    assert (r.state, actions) == (S.ENDED, [Publish(ConferenceEnded, "", S.ENDED, ()), Forget()])


def test_resync_with_nobody_gone_asks_for_nothing_even_for_a_lone_caller():
    for state in (S.STARTING, S.DIALLING, S.JOINED, S.NO_ANSWER):
        assert step(room(state, CALLER), Resynced(frozenset({"c", "x"}))) == (room(state, CALLER), [])


def test_resync_while_dialling_keeps_a_lone_caller_waiting():
    r, actions = step(room(S.DIALLING, CALLER, AGENT), Resynced(frozenset({"c"})))
    assert r == room(S.DIALLING, CALLER) and [type(a) for a in actions] == [Publish]


# an agent asks to leave: the caller is never left alone

def test_an_agent_may_leave_when_another_stays_with_the_caller():
    r = room(S.JOINED, CALLER, AGENT, THIRD)
    assert step(r, LeaveRequested("1001", "1001")) == (r, [Kick(AGENT[1], "1001")])
    r = room(S.DIALLING, CALLER, AGENT, OTHER)  # two agents of this platform while dialling
    assert step(r, LeaveRequested("1002", "1002")) == (r, [Kick(OTHER[1], "1002")])


@pytest.mark.parametrize("state", [S.STARTING, S.DIALLING, S.JOINED, S.NO_ANSWER])
def test_the_last_agent_may_not_leave_the_caller_alone(state):
    with pytest.raises(CallerWouldBeAlone, match=r"^1001 is the caller's last party in room hl1$"):
        step(room(state, CALLER, AGENT), LeaveRequested("1001", "1001"))


def test_the_target_as_the_last_party_may_not_leave_either():
    # only an agent can ask, and only for itself: the target here is asked for by itself
    with pytest.raises(CallerWouldBeAlone, match=r"^110 is the caller's last party"):
        step(room(S.JOINED, CALLER, THIRD), LeaveRequested("110", "110"))


def test_an_agent_may_take_only_itself_out():
    with pytest.raises(NotYourCall, match=r"^agent 1001 may take only itself out of the conference$"):
        step(room(S.JOINED, CALLER, AGENT, THIRD), LeaveRequested("1001", "110"))


def test_the_caller_is_not_a_party_one_can_take_out():
    with pytest.raises(NotInConference, match=r"^anonymous is not in room hl1$"):
        step(room(S.JOINED, CALLER, AGENT, THIRD), LeaveRequested("anonymous", "anonymous"))


def test_a_party_not_in_the_room_cannot_leave_it():
    with pytest.raises(NotInConference, match=r"^1002 is not in room hl1$"):
        step(room(S.JOINED, CALLER, AGENT, THIRD), LeaveRequested("1002", "1002"))
    with pytest.raises(NotInConference, match=r"^1001 is not in room hl1$"):
        step(room(S.ENDED, CALLER, AGENT, THIRD), LeaveRequested("1001", "1001"))


def test_before_the_caller_arrives_the_agent_may_leave():
    r = room(S.STARTING, AGENT)
    assert step(r, LeaveRequested("1001", "1001")) == (r, [Kick(AGENT[1], "1001")])


# properties over any sequence of events

_UIDS = [CALLER, AGENT, THIRD, OTHER]
_PARTIES = ["1001", "1002", "110", "anonymous"]
_EVENT = st.one_of(
    st.just(MovedIn()), st.builds(Dialled, st.sampled_from(_PARTIES)), st.just(StartFailed()),
    st.sampled_from(_UIDS).map(lambda m: Joined(*m)), st.sampled_from(_UIDS).map(lambda m: Left(*m)),
    st.builds(TargetFailed), st.just(RingTimeout()), st.just(RoomEnded()),
    st.frozensets(st.sampled_from([u for u, _ in _UIDS])).map(Resynced),
    st.sampled_from(_PARTIES).flatmap(lambda p: st.sampled_from([LeaveRequested(p, p), LeaveRequested("1001", p)])),
)
REFUSALS = (InvalidTransition, CallerWouldBeAlone, NotInConference, NotYourCall)


@settings(max_examples=400, deadline=None)
@given(st.lists(_EVENT, max_size=25))
def test_any_sequence_keeps_the_rules(events):
    r = room(S.STARTING)
    for event in events:
        try:
            after, actions = step(r, event)
        except REFUSALS:
            continue
        if r.state.final:  # ENDED absorbs everything; a dial already sent is still said
            assert after == r and all(isinstance(a, Publish) and a.kind is ConferenceDialling for a in actions)
        assert (Forget() in actions) == (after.state.final and not r.state.final)
        assert (Dial() in actions) == (isinstance(event, MovedIn) and not r.state.final)
        for action in actions:
            if isinstance(action, Kick):  # never the caller, never its last companion
                kicked = next(uid for uid, ch in r.members.items() if ch == action.channel)
                assert kicked != r.caller
                assert r.caller not in r.members or r.agents_left_after(kicked) >= 1
        became_alone = after.caller_alone and not r.caller_alone
        if became_alone and isinstance(event, (Left, Resynced)) and after.state is not S.DIALLING:
            assert ReturnCaller(r.members[r.caller]) in actions
        if ReturnCaller in map(type, actions):
            assert (after.caller_alone and after.state is not S.DIALLING) or isinstance(event, StartFailed)
        r = after
