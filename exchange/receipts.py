"""What the receiver answers for one message: the contract between its inbox (Redis), its
HTTP endpoint and the sender's outbox. Pure: no I/O.

``Receipt.of`` folds the boundary's verdict (``boundary.admit``) and the stream's actions
(``inbox.step``) into one answer about the message that came in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from exchange import boundary, inbox


class Outcome(StrEnum):
    APPLIED = "applied"  # taken now (with any held messages that now follow)
    DUPLICATE = "duplicate"  # taken before: nothing applied again
    HELD = "held"  # kept until the messages before it come
    REFUSED_AT_BOUNDARY = "refused_at_boundary"  # recorded, seq taken, content never applied
    REFUSED = "refused"  # not taken: see ``retry``


@dataclass(frozen=True)
class Receipt:
    message_id: str
    outcome: Outcome
    expected_seq: int  # the next seq the receiver expects on this stream (for a resync)
    reason: str = ""  # inbox.Refusal or boundary.Refusal value, for a refusal
    detail: str = ""

    @property
    def acknowledged(self) -> bool:
        """The receiver has the message for good: the sender may forget it."""
        return self.outcome is not Outcome.REFUSED

    @property
    def retry(self) -> bool:
        """Not taken, but the same message may be sent again later (not a final answer)."""
        return self.outcome is Outcome.REFUSED and self.reason in _RETRYABLE

    @classmethod
    def of(cls, message_id: str, verdict: boundary.Admitted | boundary.Refused,
           actions: tuple[inbox.Action, ...], expected_seq: int) -> Receipt:
        for action in actions:
            if isinstance(action, inbox.Refused) and action.message_id == message_id:
                return cls(message_id, Outcome.REFUSED, expected_seq, action.reason.value, action.detail)
            if isinstance(action, inbox.Duplicate) and action.message_id == message_id:
                return cls(message_id, Outcome.DUPLICATE, expected_seq)
            if isinstance(action, inbox.Held) and action.message_id == message_id:
                return cls(message_id, Outcome.HELD, expected_seq)
            if isinstance(action, inbox.Apply) and action.envelope.message_id == message_id:
                if isinstance(verdict, boundary.Refused):
                    return cls(message_id, Outcome.REFUSED_AT_BOUNDARY, expected_seq, verdict.reason.value,
                               verdict.message)
                return cls(message_id, Outcome.APPLIED, expected_seq)
        raise ValueError(f"the actions say nothing about message {message_id}")


_RETRYABLE = frozenset(r.value for r in inbox.Refusal if inbox.Refused("", r, "").retry)
