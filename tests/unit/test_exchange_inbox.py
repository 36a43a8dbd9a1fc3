"""The receiver's inbox: each seq of a stream applied exactly once and in order, whatever
order and however many times the messages come; duplicates acknowledged again, conflicts
and replays refused, early messages held within bounds."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.inbox import (
    LIMITS,
    REPLAY_WINDOW_S,
    Apply,
    Duplicate,
    Held,
    Limits,
    Refusal,
    Refused,
    Stream,
    acknowledged,
    receive,
    step,
)
from exchange.messages import Envelope
from tests.unit.exchange_samples import NOW, envelope

BOUNDED = settings(max_examples=300, deadline=None)
OTHER_TICKET = "12345-20261124-000018"


def msgs(n: int, ticket: str = "") -> list[Envelope]:
    """Messages 1..n of one stream (12345 ticket to 110)."""
    return [envelope("supervise", seq=seq, ticket=ticket) for seq in range(1, n + 1)]


def run(stream: Stream, *sent: Envelope, now: float = NOW, limits: Limits = LIMITS):
    actions = []
    for env in sent:
        stream, got = step(stream, env, now, limits=limits)
        actions.append(got)
    return stream, actions


def applied_seqs(actions) -> list[int]:
    return [a.envelope.seq for got in actions for a in got if isinstance(a, Apply)]


def test_messages_in_order_are_applied_one_by_one():
    one, two, three = msgs(3)
    stream, actions = run(Stream(), one, two, three)
    assert actions == [(Apply(one),), (Apply(two),), (Apply(three),)]
    assert stream.next_seq == 4 and stream.held == ()
    assert stream.applied == ((1, one.message_id), (2, two.message_id), (3, three.message_id))


def test_a_retry_is_acknowledged_again_and_applied_once():
    one, two = msgs(2)
    stream, _ = run(Stream(), one, two)
    again, got = step(stream, one, NOW + 10)
    assert got == (Duplicate(one.message_id, 1, verified=True),)
    assert again == stream
    assert acknowledged(got, one.message_id)


def test_another_message_under_an_applied_seq_is_a_conflict():
    one, = msgs(1)
    stream, _ = run(Stream(), one)
    impostor = envelope("supervise", seq=1)
    after, got = step(stream, impostor, NOW)
    assert after == stream
    (refused,) = got
    assert isinstance(refused, Refused) and refused.reason is Refusal.CONFLICT
    assert not refused.retry and not acknowledged(got, impostor.message_id)
    assert one.message_id in refused.detail


def test_one_message_id_under_two_seqs_is_a_conflict():
    one, = msgs(1)
    stream, _ = run(Stream(), one)
    moved = envelope("supervise", seq=2, message_id=one.message_id)
    after, (refused,) = step(stream, moved, NOW)
    assert after == stream
    assert isinstance(refused, Refused) and refused.reason is Refusal.CONFLICT


def test_early_messages_wait_for_the_gap_then_apply_in_order():
    one, two, three, four = msgs(4)
    stream, actions = run(Stream(), three, two)
    assert actions == [(Held(three.message_id, 3, 1),), (Held(two.message_id, 2, 1),)]
    assert [e.seq for e in stream.held] == [2, 3] and stream.next_seq == 1
    assert acknowledged(actions[0], three.message_id)  # kept: the sender may forget it
    stream, got = step(stream, one, NOW)
    assert got == (Apply(one), Apply(two), Apply(three))
    assert stream.next_seq == 4 and stream.held == ()
    stream, got = step(stream, four, NOW)
    assert got == (Apply(four),)


def test_a_held_message_sent_again_is_still_held_and_a_rival_is_a_conflict():
    _, two = msgs(2)
    stream, _ = run(Stream(), two)
    again, got = step(stream, two, NOW)
    assert got == (Held(two.message_id, 2, 1),) and again == stream
    rival = envelope("supervise", seq=2)
    again, (refused,) = step(stream, rival, NOW)
    assert isinstance(refused, Refused) and refused.reason is Refusal.CONFLICT and again == stream


def test_a_seq_far_ahead_is_refused_to_retry_later():
    limits = Limits(held=4, ahead=3)
    far = envelope("supervise", seq=5)
    stream, (refused,) = step(Stream(), far, NOW, limits=limits)
    assert stream == Stream()
    assert isinstance(refused, Refused) and refused.reason is Refusal.TOO_FAR_AHEAD and refused.retry
    near = envelope("supervise", seq=4)
    _, got = step(Stream(), near, NOW, limits=limits)
    assert got == (Held(near.message_id, 4, 1),)


def test_the_hold_is_bounded():
    limits = Limits(held=2, ahead=10)
    stream, _ = run(Stream(), *msgs(4)[1:3], limits=limits)
    fourth = envelope("supervise", seq=4)
    after, (refused,) = step(stream, fourth, NOW, limits=limits)
    assert after == stream
    assert isinstance(refused, Refused) and refused.reason is Refusal.HOLD_FULL and refused.retry
    assert not acknowledged((refused,), fourth.message_id)


@pytest.mark.parametrize("offset", [-REPLAY_WINDOW_S - 1, REPLAY_WINDOW_S + 0.5, -1e9, 1e9])
def test_a_message_sent_outside_the_window_is_refused_as_a_replay(offset):
    old = envelope("supervise", sent_at=NOW + offset)
    stream, (refused,) = step(Stream(), old, NOW)
    assert stream == Stream()
    assert isinstance(refused, Refused) and refused.reason is Refusal.OUTSIDE_WINDOW and refused.retry


@pytest.mark.parametrize("offset", [-REPLAY_WINDOW_S, 0.0, REPLAY_WINDOW_S])
def test_the_window_includes_its_edges(offset):
    sent = envelope("supervise", sent_at=NOW + offset)
    _, got = step(Stream(), sent, NOW)
    assert got == (Apply(sent),)


def test_even_a_duplicate_outside_the_window_is_refused():
    one, = msgs(1)
    stream, _ = run(Stream(), one)
    _, (refused,) = step(stream, one, NOW + 2 * REPLAY_WINDOW_S)
    assert isinstance(refused, Refused) and refused.reason is Refusal.OUTSIDE_WINDOW


def test_a_seq_older_than_the_ids_remembered_is_acknowledged_unverified():
    limits = Limits(remembered=2)
    sent = msgs(5)
    stream, _ = run(Stream(), *sent, limits=limits)
    assert [seq for seq, _ in stream.applied] == [4, 5]
    _, got = step(stream, sent[0], NOW, limits=limits)
    assert got == (Duplicate(sent[0].message_id, 1, verified=False),)
    _, got = step(stream, sent[4], NOW, limits=limits)
    assert got == (Duplicate(sent[4].message_id, 5, verified=True),)


def test_streams_are_independent():
    streams: dict = {}
    a1 = envelope("supervise", seq=1)
    b2 = envelope("supervise", seq=2, ticket=OTHER_TICKET)
    b1 = envelope("supervise", seq=1, ticket=OTHER_TICKET)
    streams, got = receive(streams, b2, NOW)
    assert got == (Held(b2.message_id, 2, 1),)
    streams, got = receive(streams, a1, NOW)
    assert got == (Apply(a1),)  # not held behind the other ticket's gap
    streams, got = receive(streams, b1, NOW)
    assert got == (Apply(b1), Apply(b2))
    assert set(streams) == {("12345", a1.ticket), ("12345", OTHER_TICKET)}


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="at least 1"):
        Limits(held=0)
    with pytest.raises(ValueError, match="positive"):
        step(Stream(), msgs(1)[0], NOW, window_s=0)


# --- properties --------------------------------------------------------------------------


@st.composite
def deliveries(draw, max_messages: int = 12):
    """A stream's messages, each delivered one to three times, in any order."""
    n = draw(st.integers(1, max_messages))
    copies = [seq for seq in range(1, n + 1) for _ in range(draw(st.integers(1, 3)))]
    return n, draw(st.permutations(copies))


@BOUNDED
@given(deliveries())
def test_any_interleaving_and_duplication_applies_each_seq_once_in_order(case):
    n, order = case
    sent = msgs(n)
    stream, actions = run(Stream(), *(sent[seq - 1] for seq in order))
    assert applied_seqs(actions) == list(range(1, n + 1))
    assert stream.next_seq == n + 1 and stream.held == ()
    applied_ids = [a.envelope.message_id for got in actions for a in got if isinstance(a, Apply)]
    assert applied_ids == [m.message_id for m in sent]
    # every delivery was acknowledged: nothing for the sender to retry
    assert all(acknowledged(got, sent[seq - 1].message_id) for seq, got in zip(order, actions, strict=True))


@BOUNDED
@given(deliveries(20), st.integers(1, 4), st.integers(1, 6), st.integers(1, 4))
def test_with_tight_limits_what_is_applied_is_in_order_and_refusals_are_retryable(case, held, ahead, remembered):
    n, order = case
    sent = msgs(n)
    limits = Limits(held=held, ahead=ahead, remembered=remembered)
    stream, actions = run(Stream(), *(sent[seq - 1] for seq in order), limits=limits)
    seqs = applied_seqs(actions)
    assert seqs == list(range(1, len(seqs) + 1))  # a prefix, in order, none twice
    assert len(stream.held) <= held
    for got in actions:
        for action in got:
            assert not isinstance(action, Refused) or action.retry
    # the sender retries whatever was not acknowledged, in seq order: everything arrives
    for env in sent:
        stream, got = step(stream, env, NOW, limits=limits)
        seqs += applied_seqs([got])
    assert seqs == list(range(1, n + 1))


@BOUNDED
@given(deliveries(8), st.lists(st.tuples(st.integers(1, 8), st.integers(0, 40)), max_size=6))
def test_impostors_under_used_seqs_are_never_applied(case, impostors):
    n, order = case
    sent = msgs(n)
    rivals = {(seq, pos): envelope("supervise", seq=seq, message_id=uuid.uuid4().hex) for seq, pos in impostors}
    feed = [sent[seq - 1] for seq in order]
    for (_, pos), rival in rivals.items():
        feed.insert(min(pos, len(feed)), rival)
    _, actions = run(Stream(), *feed)
    applied = [a.envelope for got in actions for a in got if isinstance(a, Apply)]
    assert [e.seq for e in applied] == list(range(1, len(applied) + 1))  # in order, none twice
    # of the messages under one seq, the first to come is the one (the others: conflicts)
    first = {}
    for env in feed:
        first.setdefault(env.seq, env)
    assert applied == [first[e.seq] for e in applied]
    losers = {env.message_id for env in feed} - {env.message_id for env in applied}
    for env, got in zip(feed, actions, strict=True):
        if env.message_id in losers and env.seq in {e.seq for e in applied}:
            assert any(isinstance(x, Refused) and x.reason is Refusal.CONFLICT for x in got)
