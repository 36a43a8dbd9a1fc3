"""The receiver's ordering and idempotency, one small state machine per stream. Pure: no I/O.

A stream is one sender ticket in one direction: (the peer platform, its ticket), the
sequence ``seq`` counts in (``Message.stream``). The sender delivers at least once: it
retries a message, with the same ``message_id`` and ``seq``, until this side acknowledges
it, and the acknowledgement is per message id. This side applies each seq exactly once and
in order:

- the next expected seq: ``Apply`` it, then every held message that now follows in order;
- a seq already applied with the same id: ``Duplicate`` (acknowledge again, apply nothing);
  with another id: ``Refused(conflict)``, final (the seq is taken: the sender has two
  different messages under one number, which only a sender that lost its state makes). An
  applied seq older than the ids remembered (``Limits.remembered``) is acknowledged as a
  ``Duplicate`` that is not ``verified``;
- a seq ahead of the next expected: ``Held`` until the gap fills, at most ``Limits.held``
  of them and at most ``Limits.ahead`` past it; beyond that ``Refused`` to retry later;
- a message sent (``sent_at``) further than ``window_s`` from now: ``Refused(outside_window)``
  before anything else (a replay); the sender stamps each attempt anew, so a retry after a
  long partition is inside the window again.

``Apply``, ``Duplicate`` and ``Held`` acknowledge the message (``acknowledged``): the edge
keeps held messages as durably as applied ones, so the sender may forget them. A refusal
is no acknowledgement: one that may ``retry`` is sent again later; a final one (a conflict)
stops the sender's queue of that ticket until an operator looks (``sequencing.Rejected``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from exchange.messages import Envelope

REPLAY_WINDOW_S = 300.0  # as tickets.signing.MAX_SKEW_S


@dataclass(frozen=True)
class Limits:
    held: int = 16  # early messages kept per stream
    ahead: int = 64  # how far past the next expected seq a message may be held
    remembered: int = 64  # ids of the last applied messages, to tell a duplicate from a conflict

    def __post_init__(self) -> None:
        if min(self.held, self.ahead, self.remembered) < 1:
            raise ValueError("inbox limits must be at least 1")


LIMITS = Limits()


@dataclass(frozen=True)
class Stream:
    """What the receiver keeps of one stream."""

    next_seq: int = 1
    applied: tuple[tuple[int, str], ...] = ()  # (seq, message_id), the last ``remembered``, by seq
    held: tuple[Envelope, ...] = ()  # early messages, by seq


class Refusal(StrEnum):
    OUTSIDE_WINDOW = "outside_window"  # sent too long ago or in the future: a replay
    CONFLICT = "conflict"  # another message has this seq (or this id has another seq)
    TOO_FAR_AHEAD = "too_far_ahead"  # more than Limits.ahead past the next expected seq
    HOLD_FULL = "hold_full"  # Limits.held early messages are waiting already


_RETRY = {Refusal.OUTSIDE_WINDOW: True, Refusal.CONFLICT: False, Refusal.TOO_FAR_AHEAD: True,
          Refusal.HOLD_FULL: True}


@dataclass(frozen=True)
class Apply:
    envelope: Envelope


@dataclass(frozen=True)
class Duplicate:
    message_id: str
    seq: int
    verified: bool  # the id is the one remembered for its seq (False: older than the ids kept)


@dataclass(frozen=True)
class Held:
    message_id: str
    seq: int
    waiting_for: int  # the seq that must come first


@dataclass(frozen=True)
class Refused:
    message_id: str
    reason: Refusal
    detail: str

    @property
    def retry(self) -> bool:
        """The sender should send the same message again later (not a final answer)."""
        return _RETRY[self.reason]


Action = Apply | Duplicate | Held | Refused


def step(stream: Stream, envelope: Envelope, now: float, window_s: float = REPLAY_WINDOW_S,
         limits: Limits = LIMITS) -> tuple[Stream, tuple[Action, ...]]:
    """The stream after ``envelope`` arrived at ``now``, and what to do. The envelope is
    one of this stream's (the caller picks the stream by ``envelope.stream``)."""
    if not window_s > 0:
        raise ValueError("the replay window must be a positive number of seconds")
    mid, seq = envelope.message_id, envelope.seq
    skew = now - envelope.sent_at
    if not (math.isfinite(skew) and abs(skew) <= window_s):
        return stream, (Refused(mid, Refusal.OUTSIDE_WINDOW,
                                f"sent {skew:.0f} s from now; the window is {window_s:.0f} s"),)
    applied = dict(stream.applied)
    held = {e.seq: e for e in stream.held}
    seq_of_id = {m: s for s, m in stream.applied} | {e.message_id: e.seq for e in stream.held}
    if mid in seq_of_id and seq_of_id[mid] != seq:
        return stream, (Refused(mid, Refusal.CONFLICT, f"message {mid} came before as seq {seq_of_id[mid]}"),)
    if seq < stream.next_seq:
        seen = applied.get(seq)
        if seen is None or seen == mid:
            return stream, (Duplicate(mid, seq, verified=seen is not None),)
        return stream, (Refused(mid, Refusal.CONFLICT, f"seq {seq} was applied as message {seen}"),)
    if seq in held:
        if held[seq].message_id == mid:
            return stream, (Held(mid, seq, stream.next_seq),)
        return stream, (Refused(mid, Refusal.CONFLICT, f"seq {seq} is held as message {held[seq].message_id}"),)
    if seq > stream.next_seq:
        if seq - stream.next_seq > limits.ahead:
            return stream, (Refused(mid, Refusal.TOO_FAR_AHEAD,
                                    f"seq {seq} is more than {limits.ahead} past {stream.next_seq}"),)
        if len(held) >= limits.held:
            return stream, (Refused(mid, Refusal.HOLD_FULL, f"{len(held)} messages wait for seq {stream.next_seq}"),)
        held[seq] = envelope
        return (Stream(stream.next_seq, stream.applied, tuple(held[s] for s in sorted(held))),
                (Held(mid, seq, stream.next_seq),))
    # the next expected: apply it and whatever held now follows
    actions: list[Action] = []
    record = list(stream.applied)
    next_seq = seq
    current: Envelope | None = envelope
    while current is not None:
        actions.append(Apply(current))
        record.append((next_seq, current.message_id))
        next_seq += 1
        current = held.pop(next_seq, None)
    return (Stream(next_seq, tuple(record[-limits.remembered:]), tuple(held[s] for s in sorted(held))),
            tuple(actions))


def acknowledged(actions: tuple[Action, ...], message_id: str) -> bool:
    """Has this side taken ``message_id`` (applied, held, or had it already)? Then the sender
    may forget it. A refusal is never an acknowledgement: one that may ``retry`` is sent
    again later; a final one (a conflict) stops the sender's queue of that ticket."""
    return any((isinstance(a, Apply) and a.envelope.message_id == message_id)
               or (isinstance(a, (Duplicate, Held)) and a.message_id == message_id) for a in actions)


StreamKey = tuple[str, str]  # (peer platform, peer ticket)


def receive(streams: Mapping[StreamKey, Stream], envelope: Envelope, now: float,
            window_s: float = REPLAY_WINDOW_S,
            limits: Limits = LIMITS) -> tuple[dict[StreamKey, Stream], tuple[Action, ...]]:
    """``step`` on the envelope's own stream, among many (streams are independent)."""
    key = envelope.stream
    stream, actions = step(streams.get(key, Stream()), envelope, now, window_s, limits)
    return {**streams, key: stream}, actions
