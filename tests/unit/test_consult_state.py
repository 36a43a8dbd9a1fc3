"""The warm transfer's state machine: every way a consult can end, and which of them leave
the caller with the agent."""

from __future__ import annotations

import pytest

from call_control.consult.state import ConsultEvent, ConsultState, InvalidTransition, advance
from call_control.directory import target_of_number


def run(*kinds: str, start: ConsultState = ConsultState.REQUESTED) -> ConsultState:
    state = start
    for kind in kinds:
        state = advance(state, ConsultEvent(kind))
    return state


def test_the_desks_consult_completed():
    assert run("leg_started", "answered", "completed") is ConsultState.COMPLETED


def test_the_phones_attended_transfer_can_complete_before_the_answer_is_heard():
    assert run("leg_started", "completed") is ConsultState.COMPLETED


@pytest.mark.parametrize(("kinds", "end"), [
    (("refused",), ConsultState.FAILED),
    (("leg_started", "not_answered"), ConsultState.FAILED),
    (("leg_started", "target_left"), ConsultState.FAILED),
    (("leg_started", "answered", "target_left"), ConsultState.CANCELLED),
    (("leg_started", "answered", "cancel"), ConsultState.CANCELLED),
    (("leg_started", "cancel"), ConsultState.CANCELLED),
    (("cancel",), ConsultState.CANCELLED),
    (("leg_started", "answered", "caller_hangup"), ConsultState.CALLER_GONE),
])
def test_every_other_end_is_final_and_not_a_completion(kinds, end):
    state = run(*kinds)
    assert state is end and state.final


def test_events_after_the_end_change_nothing():
    assert run("completed", "cancel", "caller_hangup",
               start=run("leg_started", "answered")) is ConsultState.COMPLETED
    assert run("answered", start=ConsultState.CANCELLED) is ConsultState.CANCELLED


@pytest.mark.parametrize(("state", "kind"), [
    (ConsultState.REQUESTED, "answered"), (ConsultState.REQUESTED, "completed"),
    (ConsultState.TALKING, "not_answered"), (ConsultState.TALKING, "leg_started")])
def test_impossible_events_are_refused(state, kind):
    with pytest.raises(InvalidTransition):
        advance(state, ConsultEvent(kind))


def test_a_number_the_phone_dialled_is_named_as_the_directory_names_it():
    directory = {"110": "110", "火警": "119", "12345": "12345"}
    assert target_of_number(directory, "119").name == "火警"
    assert target_of_number(directory, "110").name == "110"
    assert target_of_number(directory, "77001") == target_of_number({}, "77001")
    assert target_of_number(directory, "77001").name == "77001"
