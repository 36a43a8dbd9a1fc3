"""A consult (咨询转接, warm transfer) as an explicit state machine. Pure: no I/O.

The agent puts the caller on hold and rings the target with the ticket (the desk's
``consult``, or the phone dialling another site while on a call); once the target answered,
the agent completes (the caller and the target talk, the agent is free) or cancels (the
caller is back with the agent). Every way it can end that is not a completion returns the
caller to the agent: Asterisk does that, this machine records it.

``advance(state, event)`` returns the next state; an event that cannot happen in a state
raises ``InvalidTransition``; events after the end change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ConsultState(str, Enum):
    REQUESTED = "requested"  # the desk asked; Asterisk has not taken it yet
    DIALLING = "dialling"  # the consult leg rings the target; the caller hears music
    TALKING = "talking"  # the target answered: agent and target talk, the caller on hold
    COMPLETED = "completed"  # the caller and the target talk; the agent left
    CANCELLED = "cancelled"  # the agent went back to the caller (or the target hung up)
    FAILED = "failed"  # the target did not answer or was busy; the caller is with the agent
    CALLER_GONE = "caller_gone"  # the caller hung up while on hold

    @property
    def final(self) -> bool:
        return self in (ConsultState.COMPLETED, ConsultState.CANCELLED, ConsultState.FAILED,
                        ConsultState.CALLER_GONE)


@dataclass(frozen=True)
class ConsultEvent:
    # leg_started | refused | answered | not_answered | completed | cancel | target_left |
    # caller_hangup
    kind: str
    status: str = ""  # DIALSTATUS for not_answered; Asterisk's message for refused


class InvalidTransition(Exception):
    pass


_ONGOING = (ConsultState.REQUESTED, ConsultState.DIALLING, ConsultState.TALKING)

_TABLE: dict[tuple[ConsultState, str], ConsultState] = {
    (ConsultState.REQUESTED, "leg_started"): ConsultState.DIALLING,
    (ConsultState.REQUESTED, "refused"): ConsultState.FAILED,
    (ConsultState.DIALLING, "leg_started"): ConsultState.DIALLING,
    (ConsultState.DIALLING, "answered"): ConsultState.TALKING,
    (ConsultState.DIALLING, "not_answered"): ConsultState.FAILED,
    (ConsultState.DIALLING, "target_left"): ConsultState.FAILED,
    (ConsultState.TALKING, "answered"): ConsultState.TALKING,
    (ConsultState.TALKING, "completed"): ConsultState.COMPLETED,
    (ConsultState.TALKING, "target_left"): ConsultState.CANCELLED,
    # the phone's own REFER with Replaces may come before we heard the answer
    (ConsultState.DIALLING, "completed"): ConsultState.COMPLETED,
    **{(state, "cancel"): ConsultState.CANCELLED for state in _ONGOING},
    **{(state, "caller_hangup"): ConsultState.CALLER_GONE for state in _ONGOING},
}


def advance(state: ConsultState, event: ConsultEvent) -> ConsultState:
    if state.final:
        return state
    nxt = _TABLE.get((state, event.kind))
    if nxt is None:
        raise InvalidTransition(f"{event.kind} in state {state.value}")
    return nxt

