"""The sender's sequencing: per-ticket seq numbers, one message in flight per ticket, tickets
independent; and, with the receiver's inbox over a network that loses, doubles and reorders,
every message applied exactly once and in order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange import inbox
from exchange.messages import Envelope, SuperviseBody, make_envelope, restamped
from exchange.sequencing import (
    Acked,
    Assign,
    Done,
    Enqueue,
    Pending,
    Queue,
    Rejected,
    Renumber,
    Resume,
    Send,
    Skip,
    Stop,
    Voided,
    backlog,
    in_flight,
    step,
)
from tests.unit.exchange_samples import NOW

BOUNDED = settings(max_examples=300, deadline=None)


def run(queue: Queue, *events):
    out = []
    for event in events:
        queue, actions = step(queue, event)
        out.append(actions)
    return queue, out


def test_the_first_message_gets_seq_1_and_goes_at_once():
    queue, actions = step(Queue(), Enqueue("m1"))
    assert actions == (Assign("m1", 1), Send("m1", 1))
    assert queue == Queue(2, (Pending("m1", 1),))
    assert queue.in_flight == Pending("m1", 1)


def test_later_messages_wait_for_the_head_to_be_taken():
    queue, actions = run(Queue(), Enqueue("m1"), Enqueue("m2"), Enqueue("m3"))
    assert actions[1:] == [(Assign("m2", 2),), (Assign("m3", 3),)]
    assert queue.in_flight == Pending("m1", 1)
    queue, actions = step(queue, Acked("m1"))
    assert actions == (Done("m1"), Send("m2", 2))
    queue, actions = step(queue, Acked("m2"))
    assert actions == (Done("m2"), Send("m3", 3))
    queue, actions = step(queue, Acked("m3"))
    assert actions == (Done("m3"),)
    assert queue == Queue(4, ())
    assert queue.in_flight is None


def test_seq_numbers_are_never_reused():
    queue, _ = run(Queue(), Enqueue("m1"), Acked("m1"), Enqueue("m2"))
    assert queue.pending == (Pending("m2", 2),)


def test_enqueueing_the_same_message_again_gives_its_seq_and_nothing_else():
    queue, _ = run(Queue(), Enqueue("m1"), Enqueue("m2"))
    again, actions = step(queue, Enqueue("m2"))
    assert actions == (Assign("m2", 2),) and again == queue


def test_a_late_acknowledgement_changes_nothing():
    queue, _ = run(Queue(), Enqueue("m1"), Acked("m1"), Enqueue("m2"))
    again, actions = step(queue, Acked("m1"))
    assert actions == () and again == queue


def test_a_message_taken_before_its_turn_is_not_sent_again():
    # the receiver held m2 (a copy from an earlier run of the sender) and acknowledged it
    queue, _ = run(Queue(), Enqueue("m1"), Enqueue("m2"), Enqueue("m3"))
    queue, actions = step(queue, Acked("m2"))
    assert actions == (Done("m2"),)
    queue, actions = step(queue, Acked("m1"))
    assert actions == (Done("m1"), Send("m3", 3))


def test_a_final_refusal_stops_the_ticket_until_resumed():
    queue, _ = run(Queue(), Enqueue("m1"), Enqueue("m2"))
    queue, actions = step(queue, Rejected("m1", "bad_message: field 'v'"))
    assert actions == (Stop("m1", "bad_message: field 'v'"),)
    assert queue.in_flight is None and queue.stopped
    queue, actions = step(queue, Enqueue("m3"))
    assert actions == (Assign("m3", 3),)  # numbered, not sent
    queue, actions = step(queue, Resume())
    assert actions == (Send("m1", 1),)
    assert step(queue, Resume()) == (queue, ())  # not stopped: nothing to resume


def test_a_voided_head_moves_the_rest_up_one_seq_the_peer_still_waits_for():
    queue, _ = run(Queue(), Enqueue("m1"), Enqueue("m2"), Enqueue("m3"))
    queue, _ = step(queue, Rejected("m1", "bad_message: field 'body'"))
    queue, actions = step(queue, Skip())
    assert actions == (Voided("m1"), Renumber("m2", 1), Renumber("m3", 2), Send("m2", 1))
    assert queue == Queue(3, (Pending("m2", 1), Pending("m3", 2)), "")
    queue, actions = step(queue, Enqueue("m4"))
    assert actions == (Assign("m4", 3),)  # numbering goes on with no gap
    assert step(queue, Skip()) == (queue, ())  # not stopped: nothing to void


def test_after_a_conflict_the_peer_holds_the_seq_and_the_rest_keep_theirs():
    queue, _ = run(Queue(), Enqueue("m1"), Enqueue("m2"))
    queue, _ = step(queue, Rejected("m1", "conflict: seq 1 was applied as message x"))
    queue, actions = step(queue, Skip())
    assert actions == (Voided("m1"), Send("m2", 2))
    assert queue == Queue(3, (Pending("m2", 2),), "")


def test_voiding_the_only_message_leaves_an_idle_queue_that_reuses_its_seq():
    queue, _ = run(Queue(), Enqueue("m1"))
    queue, _ = step(queue, Rejected("m1", "restricted_content: summary"))
    queue, actions = step(queue, Skip())
    assert actions == (Voided("m1"),) and queue == Queue(1, (), "")
    assert step(queue, Enqueue("m2"))[1] == (Assign("m2", 1), Send("m2", 1))


def test_a_refusal_of_a_message_not_in_flight_is_ignored():
    queue, _ = run(Queue(), Enqueue("m1"), Enqueue("m2"))
    assert step(queue, Rejected("m2", "x")) == (queue, ())
    assert step(queue, Rejected("m9", "x")) == (queue, ())


def test_tickets_are_independent():
    queues = {("110", "12345-20261124-000001"): Queue(), ("110", "12345-20261124-000002"): Queue()}
    a, b = queues
    queues[a], _ = run(queues[a], Enqueue("a1"), Enqueue("a2"))
    queues[b], _ = run(queues[b], Enqueue("b1"))
    assert dict(in_flight(queues)) == {a: Pending("a1", 1), b: Pending("b1", 1)}
    queues[a], _ = step(queues[a], Rejected("a1", "wrong_key"))
    assert dict(in_flight(queues)) == {b: Pending("b1", 1)}  # one stopped ticket holds up no other
    assert backlog(queues) == 3


@BOUNDED
@given(st.lists(st.sampled_from(["enqueue", "ack_head", "ack_any", "reject", "resume", "skip"]), max_size=40),
       st.randoms(use_true_random=False))
def test_at_most_one_message_in_flight_and_seqs_consecutive(ops, rnd):
    queue, taken, voided, count, freed = Queue(), [], [], 0, 0
    for op in ops:
        if op == "enqueue":
            count += 1
            event: object = Enqueue(f"m{count}")
        elif op == "ack_head" and queue.pending:
            event = Acked(queue.pending[0].message_id)
        elif op == "ack_any" and queue.pending:
            event = Acked(rnd.choice(queue.pending).message_id)
        elif op == "reject" and queue.pending:
            event = Rejected(queue.pending[0].message_id, rnd.choice(["x", "conflict: y"]))
        elif op == "skip":
            event = Skip()
        else:
            event = Resume()
        before = queue
        queue, actions = step(queue, event)  # type: ignore[arg-type]
        sends = [a for a in actions if isinstance(a, Send)]
        assert len(sends) <= 1
        if sends:
            assert sends[0] == Send(queue.in_flight.message_id, queue.in_flight.seq)  # type: ignore[union-attr]
        taken += [a.message_id for a in actions if isinstance(a, Done)]
        voided += [a.message_id for a in actions if isinstance(a, Voided)]
        if any(isinstance(a, Voided) for a in actions) and not before.stopped.startswith("conflict"):
            freed += 1  # the peer never took the voided seq: the next message takes it
        assert [p.seq for p in queue.pending] == sorted(p.seq for p in queue.pending)
        assert queue.next_seq == count + 1 - freed
        assert all(p.seq < queue.next_seq for p in queue.pending)
    assert len(taken) == len(set(taken)) and not set(taken) & set(voided)
    assert sorted(taken + voided + [p.message_id for p in queue.pending], key=lambda m: int(m[1:])) \
        == [f"m{i}" for i in range(1, count + 1)]


# --- sender and receiver over a bad network ----------------------------------------------

TICKETS = ("110-20261124-000031", "110-20261124-000032", "110-20261124-000033")


@dataclass
class World:
    """The 110 deployment feeding back to 12345: its sequencer and stored messages, the
    network (copies in transit, acknowledgements in transit) and 12345's inbox."""

    now: float = NOW
    queues: dict = field(default_factory=dict)
    stored: dict = field(default_factory=dict)  # message_id -> envelope (seq assigned)
    order: dict = field(default_factory=dict)  # ticket -> message ids as enqueued
    wire: list = field(default_factory=list)  # envelopes in transit
    acks: list = field(default_factory=list)  # message ids acknowledged, in transit back
    streams: dict = field(default_factory=dict)
    applied: dict = field(default_factory=dict)  # ticket -> (seq, message_id) as applied

    def sender(self, ticket: str, event) -> None:
        key = ("12345", ticket)
        self.queues[key], actions = step(self.queues.get(key, Queue()), event)
        for action in actions:
            if isinstance(action, Assign) and action.message_id not in self.stored:
                self.stored[action.message_id] = make_envelope(
                    SuperviseBody(note=f"第{action.seq}次"), from_platform="110", to_platform="12345",
                    ticket=ticket, peer_ticket="12345-20261124-000017", seq=action.seq, sent_at=self.now,
                    message_id=action.message_id)
            elif isinstance(action, Send):
                self.send(action.message_id)
            elif isinstance(action, Done):
                del self.stored[action.message_id]

    def send(self, message_id: str) -> None:
        self.wire.append(restamped(self.stored[message_id], self.now))  # each attempt stamped anew

    def enqueue(self, ticket: str) -> None:
        message_id = uuid.uuid4().hex
        self.order.setdefault(ticket, []).append(message_id)
        self.sender(ticket, Enqueue(message_id))

    def retry(self, ticket: str) -> None:
        head = self.queues.get(("12345", ticket), Queue()).in_flight
        if head is not None:
            self.send(head.message_id)

    def deliver(self, index: int) -> None:
        env: Envelope = self.wire.pop(index % len(self.wire))
        self.streams, actions = inbox.receive(self.streams, env, self.now)
        for action in actions:
            if isinstance(action, inbox.Apply):
                self.applied.setdefault(action.envelope.ticket, []).append(
                    (action.envelope.seq, action.envelope.message_id))
        if inbox.acknowledged(actions, env.message_id):
            self.acks.append((env.ticket, env.message_id))

    def take_ack(self, index: int) -> None:
        ticket, message_id = self.acks.pop(index % len(self.acks))
        self.sender(ticket, Acked(message_id))


OPS = st.lists(st.tuples(st.sampled_from(["enqueue", "retry", "deliver", "drop", "double", "ack", "lose_ack",
                                          "wait"]),
                         st.integers(0, 50)), max_size=80)


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_over_a_bad_network_every_message_is_applied_once_in_order(ops):
    world = World()
    for op, n in ops:
        ticket = TICKETS[n % len(TICKETS)]
        if op == "enqueue":
            world.enqueue(ticket)
        elif op == "retry":
            world.retry(ticket)
        elif op == "deliver" and world.wire:
            world.deliver(n)
        elif op == "drop" and world.wire:
            world.wire.pop(n % len(world.wire))
        elif op == "double" and world.wire:
            world.wire.append(world.wire[n % len(world.wire)])
        elif op == "ack" and world.acks:
            world.take_ack(n)
        elif op == "lose_ack" and world.acks:
            world.acks.pop(n % len(world.acks))
        elif op == "wait":
            world.now += 100.0 * (n % 8)  # old copies in transit fall out of the replay window
        # safety at every moment: per ticket, seqs applied 1, 2, 3... each once, in enqueue order
        for ticket_id, applied in world.applied.items():
            assert applied == [(i + 1, m) for i, m in enumerate(world.order[ticket_id][:len(applied)])]
    # the link comes back for good: the outbox retries each head until it is taken
    for _ in range(10 * (len(ops) + 1)):
        world.acks.clear()
        world.wire.clear()  # whatever was still in transit is lost
        heads = list(in_flight(world.queues))
        if not heads:
            break
        for (_, ticket), _head in heads:
            world.retry(ticket)
            world.deliver(len(world.wire) - 1)
            while world.acks:
                world.take_ack(0)
    assert backlog(world.queues) == 0 and world.stored == {}
    for ticket_id, ids in world.order.items():
        assert world.applied.get(ticket_id) == [(i + 1, m) for i, m in enumerate(ids)]
