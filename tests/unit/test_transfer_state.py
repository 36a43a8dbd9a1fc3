import pytest

from call_control.transfer.state import (
    InvalidTransition,
    TransferEvent,
    TransferState,
    advance,
    failure_reason,
)

S = TransferState


def run(*events: TransferEvent) -> TransferState:
    state = S.REQUESTED
    for event in events:
        state = advance(state, event)
    return state


def test_happy_path():
    assert run(TransferEvent("accepted"), TransferEvent("dial_begin"),
               TransferEvent("dial_end", "ANSWER")) is S.ANSWERED


@pytest.mark.parametrize("status, reason", [
    ("BUSY", "target_busy"), ("NOANSWER", "no_answer"), ("CHANUNAVAIL", "target_unreachable"),
    ("CONGESTION", "target_unreachable"), ("weird", "target_unreachable"),
])
def test_failures_are_decided_by_the_dialplan_event(status, reason):
    state = run(TransferEvent("accepted"), TransferEvent("dial_begin"), TransferEvent("dial_end", status))
    assert state is S.RINGING  # a non-answer DialEnd alone decides nothing
    assert advance(state, TransferEvent("failed", status)) is S.FAILED
    assert failure_reason(status) == reason


def test_unreachable_trunk_fails_without_ever_ringing():
    assert run(TransferEvent("accepted"), TransferEvent("failed", "CHANUNAVAIL")) is S.FAILED


def test_refused_and_caller_gone():
    assert run(TransferEvent("refused", "No such channel")) is S.FAILED
    assert run(TransferEvent("accepted"), TransferEvent("caller_hangup")) is S.CALLER_GONE
    assert run(TransferEvent("accepted"), TransferEvent("dial_begin"),
               TransferEvent("caller_hangup")) is S.CALLER_GONE


def test_late_events_after_the_end_change_nothing():
    done = run(TransferEvent("accepted"), TransferEvent("dial_end", "ANSWER"))
    for late in ("caller_hangup", "failed", "dial_begin", "nonsense"):
        assert advance(done, TransferEvent(late)) is S.ANSWERED


@pytest.mark.parametrize("state, event", [
    (S.REQUESTED, "dial_begin"), (S.REQUESTED, "failed"), (S.DIALLING, "accepted"), (S.RINGING, "refused"),
])
def test_impossible_events_raise(state, event):
    with pytest.raises(InvalidTransition):
        advance(state, TransferEvent(event))
