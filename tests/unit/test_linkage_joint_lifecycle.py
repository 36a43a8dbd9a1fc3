"""Joint handling (联合调处) and a unit's own voice (progress, refuse, ask_police) in the pure
dispatch lifecycle: every transition and refusal, with the HTTP errors they answer."""

from __future__ import annotations

from typing import Any

import pytest

from linkage.errors import (
    LinkageError,
    NoLead,
    NotDispatched,
    NotYourTicket,
    PoliceNotHandedOver,
    PoliceOwnPlatform,
    WrongStep,
)
from linkage.lifecycle import UNIT_STEPS, Action, DispatchState, Kind, Loop, LoopEvent, Transition, assist, step

S, A, K = DispatchState, Action, Kind
TICKET, LEAD, HELPER, OTHER = "12345-20261124-000007", "QD-WATER", "QD-GAS", "QD-POWER"
HELD = (S.QUEUED, S.DISPATCHED, S.ACCEPTED, S.ARRIVED)


def outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except LinkageError as exc:
        return type(exc), exc.status, exc.code


def lead(state: DispatchState) -> Loop:
    return Loop(TICKET) if state is S.NOT_DISPATCHED else Loop(TICKET, state, LEAD, state.has_result)


def helper(state: DispatchState) -> Loop:
    if state is S.NOT_DISPATCHED:
        return Loop(TICKET, assisting=True)
    return Loop(TICKET, state, HELPER, state.has_result, assisting=True)


# --- adding an assisting unit ---------------------------------------------------------------

@pytest.mark.parametrize("lead_state", HELD)
def test_an_assisting_unit_joins_a_case_its_lead_holds(lead_state):
    event = LoopEvent(K.DISPATCH, unit=HELPER)
    assert assist(lead(lead_state), helper(S.NOT_DISPATCHED), event) == Transition(S.DISPATCHED, (A.SEND,))
    queued = assist(lead(lead_state), helper(S.NOT_DISPATCHED), LoopEvent(K.QUEUE, unit=HELPER))
    assert queued == Transition(S.QUEUED, (A.SEND,))


@pytest.mark.parametrize("lead_state", [S.NOT_DISPATCHED, S.RESOLVED, S.CALLED_BACK, S.SUPERVISOR, S.REFUSED])
def test_no_assisting_unit_without_a_lead_holding_the_case(lead_state):
    result = outcome(assist, lead(lead_state), helper(S.NOT_DISPATCHED), LoopEvent(K.DISPATCH, unit=HELPER))
    assert result == (NoLead, 409, "no_lead")


@pytest.mark.parametrize("mine", HELD)
def test_the_same_assisting_unit_twice_is_a_no_op(mine):
    assert assist(lead(S.ACCEPTED), helper(mine), LoopEvent(K.DISPATCH, unit=HELPER)) == Transition(mine)


def test_the_lead_as_assisting_is_a_no_op():
    assert assist(lead(S.ARRIVED), helper(S.NOT_DISPATCHED), LoopEvent(K.DISPATCH, unit=LEAD)) == \
        Transition(S.ARRIVED)


@pytest.mark.parametrize("mine", [S.RESOLVED, S.REFUSED])
def test_an_assisting_unit_whose_part_ended_begins_a_new_round(mine):
    result = assist(lead(S.ACCEPTED), helper(mine), LoopEvent(K.DISPATCH, unit=HELPER))
    assert result == Transition(S.DISPATCHED, (A.FORGET_ROUND, A.SEND))


# --- results: the lead's resolves the ticket ------------------------------------------------

@pytest.mark.parametrize("state", [S.ACCEPTED, S.ARRIVED])
def test_an_assisting_units_result_asks_no_callback_the_leads_does(state):
    assisting = step(helper(state), LoopEvent(K.RESULT, unit=HELPER, resolved=True))
    assert assisting == Transition(S.RESOLVED, (A.RECORD_RESULT, A.STOP_ASKING))
    leading = step(lead(state), LoopEvent(K.RESULT, unit=LEAD, resolved=True))
    assert leading == Transition(S.RESOLVED, (A.RECORD_RESULT, A.ASK_SATISFACTION, A.STOP_ASKING))


# --- progress -----------------------------------------------------------------------------------

@pytest.mark.parametrize("state, expected", [
    (S.QUEUED, (WrongStep, 409, "wrong_step")), (S.DISPATCHED, (WrongStep, 409, "wrong_step")),
    (S.ACCEPTED, Transition(S.ACCEPTED, (A.RECORD_PROGRESS,))),
    (S.ARRIVED, Transition(S.ARRIVED, (A.RECORD_PROGRESS,))),
    (S.RESOLVED, (WrongStep, 409, "wrong_step")), (S.CALLED_BACK, (WrongStep, 409, "wrong_step")),
    (S.REFUSED, (WrongStep, 409, "wrong_step")),
    (S.NOT_DISPATCHED, (NotDispatched, 404, "not_dispatched")),
    (S.SUPERVISOR, (NotDispatched, 404, "not_dispatched")),
])
def test_progress_is_recorded_each_time_between_accept_and_result(state, expected):
    assert outcome(step, lead(state), LoopEvent(K.PROGRESS, unit=LEAD)) == expected


# --- refuse ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", HELD)
def test_a_unit_holding_the_case_may_refuse_it(state):
    assert step(lead(state), LoopEvent(K.REFUSE, unit=LEAD)) == \
        Transition(S.REFUSED, (A.RECORD_REFUSAL, A.STOP_ASKING))


def test_refusing_twice_changes_nothing_and_no_other_step_follows_a_refusal():
    assert step(lead(S.REFUSED), LoopEvent(K.REFUSE, unit=LEAD)) == Transition(S.REFUSED)
    for kind in (K.ACCEPT, K.ARRIVAL, K.RESULT, K.PROGRESS, K.ASK_POLICE):
        assert outcome(step, lead(S.REFUSED), LoopEvent(kind, unit=LEAD, resolved=True)) == \
            (WrongStep, 409, "wrong_step")
    assert outcome(step, lead(S.REFUSED), LoopEvent(K.REFUSE, unit=OTHER)) == (NotDispatched, 404, "not_dispatched")


@pytest.mark.parametrize("state", [S.RESOLVED, S.CALLED_BACK])
def test_a_result_cannot_be_refused(state):
    assert outcome(step, lead(state), LoopEvent(K.REFUSE, unit=LEAD)) == (WrongStep, 409, "wrong_step")


def test_a_refused_lead_frees_the_ticket_for_a_new_dispatch():
    assert step(lead(S.REFUSED), LoopEvent(K.DISPATCH, unit=OTHER)) == \
        Transition(S.DISPATCHED, (A.FORGET_ROUND, A.SEND))
    assert step(lead(S.REFUSED), LoopEvent(K.OVERDUE)) == Transition(S.REFUSED)  # its deadlines are over


def test_another_unit_cannot_refuse():
    assert outcome(step, lead(S.DISPATCHED), LoopEvent(K.REFUSE, unit=OTHER)) == (NotYourTicket, 403,
                                                                                   "not_your_ticket")


# --- ask_police -------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", HELD)
def test_a_unit_asks_for_the_police_on_a_12345_ticket(state):
    assert step(lead(state), LoopEvent(K.ASK_POLICE, unit=LEAD, platform="12345")) == \
        Transition(state, (A.REQUEST_POLICE,))
    asked = Loop(TICKET, state, LEAD, police_asked=True)
    assert step(asked, LoopEvent(K.ASK_POLICE, unit=LEAD, platform="12345")) == Transition(state)


def test_ask_police_is_refused_on_110_restricted_or_finished_tickets():
    assert outcome(step, lead(S.ACCEPTED), LoopEvent(K.ASK_POLICE, unit=LEAD, platform="110")) == \
        (PoliceOwnPlatform, 409, "police_own_platform")
    assert outcome(step, lead(S.ACCEPTED), LoopEvent(K.ASK_POLICE, unit=LEAD, platform="12345",
                                                     restricted=True)) == \
        (PoliceNotHandedOver, 409, "restricted_ticket")
    assert outcome(step, lead(S.RESOLVED), LoopEvent(K.ASK_POLICE, unit=LEAD, platform="12345")) == \
        (WrongStep, 409, "wrong_step")


def test_the_units_steps_are_the_apis_names():
    assert [k.value for k in UNIT_STEPS] == ["accept", "arrival", "result", "progress", "refuse", "ask_police"]


def test_a_loop_reads_an_assisting_record():
    record = {"state": "accepted", "unit": HELPER, "police_asked_at": "1795530292.0", "role": "assisting"}
    assert Loop.of(TICKET, record, assisting=True) == Loop(TICKET, S.ACCEPTED, HELPER, assisting=True,
                                                            police_asked=True)
