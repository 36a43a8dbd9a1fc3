"""A blind transfer as an explicit state machine. Pure: no I/O.

``advance(state, event)`` returns the next state. Events that cannot happen in a state
raise ``InvalidTransition``; events after the end (late AMI events) change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class TransferState(str, Enum):
    REQUESTED = "requested"  # the agent clicked; nothing sent yet
    DIALLING = "dialling"  # Asterisk accepted the transfer; the caller is in transfer-out
    RINGING = "ringing"  # the target's leg exists and is ringing
    ANSWERED = "answered"  # the target answered: the case is with the other platform
    FAILED = "failed"  # the target did not take it; the caller went back (see reason)
    CALLER_GONE = "caller_gone"  # the caller hung up before the target answered

    @property
    def final(self) -> bool:
        return self in (TransferState.ANSWERED, TransferState.FAILED, TransferState.CALLER_GONE)


@dataclass(frozen=True)
class TransferEvent:
    kind: str  # accepted | refused | dial_begin | dial_end | failed | caller_hangup
    status: str = ""  # DIALSTATUS for dial_end / failed; Asterisk's message for refused


class InvalidTransition(Exception):
    pass


# Asterisk DIALSTATUS -> why a transfer failed
FAILURE_REASONS = {
    "BUSY": "target_busy",
    "NOANSWER": "no_answer",
    "CHANUNAVAIL": "target_unreachable",
    "CONGESTION": "target_unreachable",
    "CANCEL": "caller_gone",
    "DONTCALL": "target_busy",
    "TORTURE": "target_busy",
    "INVALIDARGS": "target_unreachable",
}


def failure_reason(dial_status: str) -> str:
    return FAILURE_REASONS.get(dial_status.strip().upper(), "target_unreachable")


_TABLE: dict[tuple[TransferState, str], TransferState] = {
    (TransferState.REQUESTED, "accepted"): TransferState.DIALLING,
    (TransferState.REQUESTED, "refused"): TransferState.FAILED,
    (TransferState.REQUESTED, "caller_hangup"): TransferState.CALLER_GONE,
    (TransferState.DIALLING, "refused"): TransferState.FAILED,
    (TransferState.DIALLING, "dial_begin"): TransferState.RINGING,
    (TransferState.DIALLING, "failed"): TransferState.FAILED,
    (TransferState.DIALLING, "caller_hangup"): TransferState.CALLER_GONE,
    (TransferState.RINGING, "dial_begin"): TransferState.RINGING,
    (TransferState.RINGING, "failed"): TransferState.FAILED,
    (TransferState.RINGING, "caller_hangup"): TransferState.CALLER_GONE,
}


def advance(state: TransferState, event: TransferEvent) -> TransferState:
    if state.final:
        return state
    if event.kind == "dial_end":
        if event.status.upper() == "ANSWER" and state in (TransferState.DIALLING, TransferState.RINGING):
            return TransferState.ANSWERED
        if state in (TransferState.DIALLING, TransferState.RINGING):
            return state  # the dialplan's "failed" UserEvent follows and decides
    nxt = _TABLE.get((state, event.kind))
    if nxt is None:
        raise InvalidTransition(f"{event.kind} in state {state.value}")
    return nxt
