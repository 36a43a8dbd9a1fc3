"""The dispatch lifecycle as a pure state machine: every event in every state, legal or
refused, with the errors (and so the HTTP answers) the API has always given."""

from __future__ import annotations

from typing import Any

import pytest

from linkage.errors import AlreadyDispatched, LinkageError, NoCallback, NotDispatched, NotYourTicket, WrongStep
from linkage.lifecycle import (
    FEEDBACK,
    Action,
    DispatchState,
    Kind,
    Loop,
    LoopEvent,
    Transition,
    check_reporter,
    state_of,
    step,
)

S, A, K = DispatchState, Action, Kind
ND, Q, D, ACC, ARR, RES, CB, SUP = (S.NOT_DISPATCHED, S.QUEUED, S.DISPATCHED, S.ACCEPTED, S.ARRIVED, S.RESOLVED,
                                     S.CALLED_BACK, S.SUPERVISOR)
HELD = (Q, D, ACC, ARR)
TICKET, UNIT, OTHER = "12345-20261124-000007", "QD-WATER", "QD-GAS"

NOT_DISPATCHED = (NotDispatched, f"ticket {TICKET} is not dispatched to a unit")
NOT_YOURS = (NotYourTicket, f"ticket {TICKET} is dispatched to another unit")
NO_RESULT = (NoCallback, f"ticket {TICKET} has no result yet")
RESTRICTED = (NoCallback, "no callback for a restricted ticket or an anonymous caller")


def accept_first(state: DispatchState) -> tuple[type[LinkageError], str]:
    return WrongStep, f"ticket {TICKET} is {state.value}: accept it first"


def with_(state: DispatchState) -> tuple[type[LinkageError], str]:
    return AlreadyDispatched, f"ticket {TICKET} is with {UNIT} ({state.value})"


def loop(state: DispatchState, resolved: bool = True) -> Loop:
    """The ticket in ``state``, dispatched to UNIT (the supervisor's hold names the unit too);
    a result, when there is one, recorded as ``resolved``."""
    if state is ND:
        return Loop(TICKET)
    return Loop(TICKET, state, UNIT, resolved and state.has_result, "满意" if state is CB else "")


def outcome(state: DispatchState, event: LoopEvent, resolved: bool = True) -> Any:
    """The transition, or (error class, message) when the step is refused."""
    try:
        return step(loop(state, resolved), event)
    except LinkageError as exc:
        return type(exc), str(exc)


def moved(state: DispatchState, *actions: Action) -> Transition:
    return Transition(state, actions)


# --- dispatch ---------------------------------------------------------------------------

DISPATCH_TARGETS = [(K.DISPATCH, D, A.SEND), (K.QUEUE, Q, A.SEND), (K.TO_SUPERVISOR, SUP, A.ALERT_OFF_DUTY)]


@pytest.mark.parametrize("kind, target, action", DISPATCH_TARGETS)
@pytest.mark.parametrize("state, expected", [
    (ND, "new"), (Q, "same"), (D, "same"), (ACC, "same"), (ARR, "same"),
    (RES, "round"), (CB, "round"), (SUP, "round"),
])
def test_dispatching_the_unit_that_holds_the_case_again_changes_nothing(state, expected, kind, target, action):
    result = outcome(state, LoopEvent(kind, unit=UNIT))
    if expected == "same":
        assert result == Transition(state)  # no actions: not new, nothing sent again
    elif expected == "new":
        assert result == moved(target, action)
    else:  # a new round: the earlier one's record goes first
        assert result == moved(target, A.FORGET_ROUND, action)


@pytest.mark.parametrize("kind, target, action", DISPATCH_TARGETS)
@pytest.mark.parametrize("state, expected", [
    (ND, "new"), (Q, with_(Q)), (D, with_(D)), (ACC, with_(ACC)), (ARR, with_(ARR)),
    (RES, "round"), (CB, "round"), (SUP, "round"),
])
def test_another_unit_is_refused_while_one_holds_the_case(state, expected, kind, target, action):
    result = outcome(state, LoopEvent(kind, unit=OTHER))
    if expected == "new":
        assert result == moved(target, action)
    elif expected == "round":
        assert result == moved(target, A.FORGET_ROUND, action)
    else:
        assert result == expected


def test_a_called_back_case_reads_as_resolved_when_refusing():
    assert outcome(CB, LoopEvent(K.ACCEPT, unit=OTHER)) == NOT_YOURS
    assert loop(CB).state.stored == "resolved"


# --- feedback -----------------------------------------------------------------------------

@pytest.mark.parametrize("state, expected", [
    (ND, NOT_DISPATCHED),
    (Q, moved(ACC, A.RECORD_ACCEPT, A.STOP_ASKING)),
    (D, moved(ACC, A.RECORD_ACCEPT, A.STOP_ASKING)),
    (ACC, moved(ACC, A.STOP_ASKING)),  # at-least-once: accepting twice records nothing
    (ARR, moved(ARR, A.STOP_ASKING)),
    (RES, moved(RES, A.STOP_ASKING)),
    (CB, moved(CB, A.STOP_ASKING)),
    (SUP, NOT_DISPATCHED),
])
def test_accept(state, expected):
    assert outcome(state, LoopEvent(K.ACCEPT, unit=UNIT)) == expected


@pytest.mark.parametrize("state, expected", [
    (ND, NOT_DISPATCHED),
    (Q, accept_first(Q)),
    (D, accept_first(D)),
    (ACC, moved(ARR, A.RECORD_ARRIVAL, A.STOP_ASKING)),
    (ARR, moved(ARR, A.STOP_ASKING)),
    (RES, moved(RES, A.STOP_ASKING)),  # arriving after the result: nothing to record
    (CB, moved(CB, A.STOP_ASKING)),
    (SUP, NOT_DISPATCHED),
])
def test_arrival(state, expected):
    assert outcome(state, LoopEvent(K.ARRIVAL, unit=UNIT, resolved=None)) == expected


RESOLVE = (A.RECORD_RESULT, A.ASK_SATISFACTION, A.STOP_ASKING)  # 回访 asked before the calls are stopped


@pytest.mark.parametrize("reported", [True, False, "yes", None])
@pytest.mark.parametrize("state, expected", [
    (ND, NOT_DISPATCHED),
    (Q, accept_first(Q)),
    (D, accept_first(D)),
    (ACC, moved(RES, *RESOLVE)),  # whether the body is well formed is the service's to check
    (ARR, moved(RES, *RESOLVE)),  # a result without an arrival is a result
    (SUP, NOT_DISPATCHED),
])
def test_result_before_one_is_recorded(state, expected, reported):
    assert outcome(state, LoopEvent(K.RESULT, unit=UNIT, resolved=reported)) == expected


@pytest.mark.parametrize("state", [RES, CB])
@pytest.mark.parametrize("recorded, reported", [(True, True), (False, False), (True, "yes"), (False, None)])
def test_the_same_result_again_is_a_retry(state, recorded, reported):
    assert outcome(state, LoopEvent(K.RESULT, unit=UNIT, resolved=reported), recorded) == moved(state, A.STOP_ASKING)


@pytest.mark.parametrize("state", [RES, CB])
@pytest.mark.parametrize("recorded, reported, said", [(True, False, "resolved"), (False, True, "not resolved")])
def test_the_opposite_result_is_flagged_then_refused(state, recorded, reported, said):
    transition = step(loop(state, recorded), LoopEvent(K.RESULT, unit=UNIT, resolved=reported))
    assert (transition.state, transition.actions) == (state, (A.FLAG_CONFLICT,))  # the recorded result stands
    assert isinstance(transition.refusal, WrongStep)
    assert str(transition.refusal) == (f"ticket {TICKET} is already reported {said}; "
                                       "the supervisor may dispatch it anew")


@pytest.mark.parametrize("kind", FEEDBACK)
@pytest.mark.parametrize("state, expected", [
    (ND, NOT_DISPATCHED), (Q, NOT_YOURS), (D, NOT_YOURS), (ACC, NOT_YOURS), (ARR, NOT_YOURS),
    (RES, NOT_YOURS), (CB, NOT_YOURS), (SUP, NOT_DISPATCHED),
])
def test_a_unit_reports_only_on_its_own_tickets(state, expected, kind):
    assert outcome(state, LoopEvent(kind, unit=OTHER, resolved=False)) == expected
    with pytest.raises(expected[0], match=r"^ticket "):
        check_reporter(loop(state), OTHER)


@pytest.mark.parametrize("state", [ND, SUP])
def test_not_dispatched_comes_before_not_yours(state):
    with pytest.raises(NotDispatched):
        check_reporter(loop(state), UNIT)


@pytest.mark.parametrize("state", [Q, D, ACC, ARR, RES, CB])
def test_the_holder_may_report(state):
    check_reporter(loop(state), UNIT)  # no error


# --- 回访 --------------------------------------------------------------------------------

@pytest.mark.parametrize("state, eligible, expected", [
    *[(s, e, NO_RESULT) for s in (ND, Q, D, ACC, ARR, SUP) for e in (True, False)],
    (RES, True, moved(CB, A.RECORD_CALLBACK)),
    (RES, False, RESTRICTED),
    (CB, True, (NoCallback, f"ticket {TICKET} already has its callback (满意)")),
    (CB, False, RESTRICTED),  # as before: a restricted ticket is refused as such first
])
def test_callback(state, eligible, expected):
    assert outcome(state, LoopEvent(K.CALLBACK, eligible=eligible)) == expected


# --- what deadlines and phone asks lead to -------------------------------------------------

@pytest.mark.parametrize("state", list(S))
def test_overdue_calls_only_while_a_unit_holds_the_case(state):
    expected = moved(state, A.CALL_OVERDUE) if state in HELD else Transition(state)
    assert outcome(state, LoopEvent(K.OVERDUE)) == expected


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("unit", [UNIT, OTHER])
def test_an_unanswered_dispatch_call_alerts_only_while_the_unit_has_not_accepted(state, unit):
    alert = state in (Q, D) and unit == UNIT  # accepted meanwhile, or dispatched elsewhere: nothing
    expected = moved(state, A.ALERT_UNANSWERED) if alert else Transition(state)
    assert outcome(state, LoopEvent(K.UNANSWERED, unit=unit)) == expected


# --- every event in every state -------------------------------------------------------------

@pytest.mark.parametrize("kind", list(K))
@pytest.mark.parametrize("state", list(S))
def test_every_event_in_every_state_is_a_transition_or_an_api_error(state, kind):
    for unit in (UNIT, OTHER):
        for resolved in (True, False, None):
            result = outcome(state, LoopEvent(kind, unit=unit, resolved=resolved))
            if isinstance(result, Transition):
                assert all(isinstance(a, Action) for a in result.actions)
                assert result.state is state or result.actions  # a new state always comes with its actions
            else:
                error, _ = result
                assert error.status in (403, 404, 409)


def test_a_walk_through_the_whole_loop():
    state = ND
    for event in (LoopEvent(K.DISPATCH, unit=UNIT), LoopEvent(K.ACCEPT, unit=UNIT),
                  LoopEvent(K.ARRIVAL, unit=UNIT), LoopEvent(K.RESULT, unit=UNIT, resolved=True),
                  LoopEvent(K.CALLBACK)):
        state = step(Loop(TICKET, state, "" if state is ND else UNIT, state.has_result), event).state
    assert state is CB
    assert step(Loop(TICKET, CB, UNIT, True, "满意"), LoopEvent(K.DISPATCH, unit=OTHER)).state is D  # anew


# --- the record and the states -----------------------------------------------------------------

@pytest.mark.parametrize("record, state", [
    (None, ND), ({}, ND), ({"unit": UNIT}, ND),
    ({"state": "queued"}, Q), ({"state": "dispatched"}, D), ({"state": "accepted"}, ACC),
    ({"state": "arrived"}, ARR), ({"state": "resolved"}, RES), ({"state": "resolved", "callback": ""}, RES),
    ({"state": "resolved", "callback": "未回访"}, CB), ({"state": "supervisor"}, SUP),
])
def test_the_state_of_a_record(record, state):
    assert state_of(record) is state


def test_a_loop_reads_the_record():
    record = {"state": "resolved", "unit": UNIT, "resolved": "False", "callback": "不满意", "level": "1"}
    assert Loop.of(TICKET, record) == Loop(TICKET, CB, UNIT, False, "不满意")
    assert Loop.of(TICKET, {"state": "accepted", "unit": UNIT}) == Loop(TICKET, ACC, UNIT)
    assert Loop.of(TICKET, None) == Loop(TICKET)


def test_what_each_state_means():
    assert {s for s in S if s.held} == {Q, D, ACC, ARR}
    assert {s for s in S if not s.open} == {RES, CB}  # a repeat call links to the others
    assert {s for s in S if s.awaiting_accept} == {Q, D}
    assert {s for s in S if not s.with_unit} == {ND, SUP, S.REFUSED}
    assert {s for s in S if s.has_result} == {RES, CB}
    assert {s.stored for s in S if s is not ND} == {"queued", "dispatched", "accepted", "arrived", "resolved",
                                                     "supervisor", "refused"}  # what the records hold


def test_the_feedback_steps_are_the_apis_names():
    assert [k.value for k in FEEDBACK] == ["accept", "arrival", "result"]
