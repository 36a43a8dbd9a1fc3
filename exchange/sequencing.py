"""The sender's half of ordering: numbering each ticket's messages and deciding what may
be sent. Pure: no I/O; one small state machine per ticket, ``step(queue, event) -> (queue,
actions)``.

Each ticket's messages to the other platform form a queue. ``Enqueue`` gives a message the
ticket's next ``seq`` (from 1, never reused). Only the head of a queue is in flight: the
messages behind it wait until the receiver has taken it (``Acked``: applied, held, already
had, or refused at its boundary, which still takes the seq). Different tickets never wait
for each other. A transient failure (the peer down, a timeout, a refusal to retry) changes
nothing here: the outbox sends the same head again later, stamped anew. A final refusal
that did not take the seq (``Rejected``: the message unreadable to the peer, a wrong key, a
conflicting seq) stops the ticket's queue: sending what follows would leave a gap the
receiver waits on forever. An operator sets it going again (``Resume``) once the cause is
mended (a peer upgraded, a key fixed).

Actions: ``Assign`` (write the seq into the stored message), ``Send`` (put the message in
flight), ``Done`` (the receiver has it: forget it), ``Stop`` (alert: the queue waits).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

# --- state -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    message_id: str
    seq: int


@dataclass(frozen=True)
class Queue:
    """One ticket's messages to the other platform."""

    next_seq: int = 1
    pending: tuple[Pending, ...] = ()  # in seq order; the head is in flight unless stopped
    stopped: str = ""  # why the head may not be sent ("" when it may)

    @property
    def in_flight(self) -> Pending | None:
        return self.pending[0] if self.pending and not self.stopped else None


# --- events and actions ------------------------------------------------------------------


@dataclass(frozen=True)
class Enqueue:
    message_id: str


@dataclass(frozen=True)
class Acked:
    message_id: str


@dataclass(frozen=True)
class Rejected:
    message_id: str
    reason: str


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class Skip:
    """An operator voids the stopped head: a message the peer can never take (it cannot
    read it, its content is refused for good). The rest go on without it."""


Event = Enqueue | Acked | Rejected | Resume | Skip


@dataclass(frozen=True)
class Assign:
    message_id: str
    seq: int


@dataclass(frozen=True)
class Send:
    message_id: str
    seq: int


@dataclass(frozen=True)
class Done:
    message_id: str


@dataclass(frozen=True)
class Stop:
    message_id: str
    reason: str


@dataclass(frozen=True)
class Voided:
    message_id: str


@dataclass(frozen=True)
class Renumber:
    """A pending message moves to ``seq`` (its envelope must say so before it is sent)."""

    message_id: str
    seq: int


Action = Assign | Send | Done | Stop | Voided | Renumber

SEQ_TAKEN_REASONS = ("conflict",)  # the peer holds the refused seq already (with another message)


def _send_head(queue: Queue) -> tuple[Action, ...]:
    head = queue.in_flight
    return (Send(head.message_id, head.seq),) if head else ()


def step(queue: Queue, event: Event) -> tuple[Queue, tuple[Action, ...]]:
    if isinstance(event, Enqueue):
        known = next((p for p in queue.pending if p.message_id == event.message_id), None)
        if known is not None:  # the same message enqueued again: its seq, nothing more
            return queue, (Assign(known.message_id, known.seq),)
        added = Pending(event.message_id, queue.next_seq)
        after = Queue(queue.next_seq + 1, queue.pending + (added,), queue.stopped)
        assign: tuple[Action, ...] = (Assign(added.message_id, added.seq),)
        return after, assign + (_send_head(after) if not queue.pending else ())
    if isinstance(event, Acked):
        if not any(p.message_id == event.message_id for p in queue.pending):
            return queue, ()  # a late acknowledgement of a message already done
        was_head = queue.pending[0].message_id == event.message_id
        rest = tuple(p for p in queue.pending if p.message_id != event.message_id)
        # the head taken: whatever stopped it is over
        after = Queue(queue.next_seq, rest, "" if was_head else queue.stopped)
        return after, (Done(event.message_id),) + (_send_head(after) if was_head else ())
    if isinstance(event, Rejected):
        head = queue.in_flight
        if head is None or head.message_id != event.message_id:
            return queue, ()  # only the message in flight can be refused
        return Queue(queue.next_seq, queue.pending, event.reason or "rejected"), \
            (Stop(event.message_id, event.reason or "rejected"),)
    if not queue.stopped:  # Resume or Skip: only a stopped queue
        return queue, ()
    if isinstance(event, Skip):
        return _skip(queue)
    after = Queue(queue.next_seq, queue.pending, "")
    return after, _send_head(after)


def _skip(queue: Queue) -> tuple[Queue, tuple[Action, ...]]:
    """The stopped head voided. The peer still waits for its seq, so the messages after it
    move up one, unless the refusal says the peer holds that seq already (a conflict)."""
    head, rest = queue.pending[0], queue.pending[1:]
    if queue.stopped.partition(":")[0].strip() in SEQ_TAKEN_REASONS:
        after = Queue(queue.next_seq, rest, "")
        return after, (Voided(head.message_id),) + _send_head(after)
    moved = tuple(Pending(p.message_id, p.seq - 1) for p in rest)
    after = Queue(queue.next_seq - 1, moved, "")
    return after, (Voided(head.message_id),) + tuple(Renumber(p.message_id, p.seq) for p in moved) \
        + _send_head(after)


QueueKey = tuple[str, str]  # (peer platform, our ticket)


def in_flight(queues: Mapping[QueueKey, Queue]) -> Iterator[tuple[QueueKey, Pending]]:
    """The message in flight of each ticket: what the outbox may be sending now."""
    for key, queue in queues.items():
        head = queue.in_flight
        if head is not None:
            yield key, head


def backlog(queues: Mapping[QueueKey, Queue]) -> int:
    """Messages not yet taken by the peer (for the supervisor page)."""
    return sum(len(queue.pending) for queue in queues.values())
