"""The exchange link's state machine (``exchange.link``), every state against every event,
what an attempt's or a probe's answer says of the link, the signed probe on the wire
(``wire.signed_hello``, ``read_hello``, ``hello_of``) and the backlog's figures. Pure."""

from __future__ import annotations

import pytest

from exchange import link, wire
from exchange.errors import UnknownKey, WrongKey
from exchange.keys import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from exchange.link import (
    DOWN_AFTER,
    Alerted,
    Answered,
    Backlog,
    Changed,
    Link,
    LinkState,
    Refused,
    Stopped,
    Unanswered,
    step,
)
from exchange.receipts import Outcome, Receipt
from tests.unit.exchange_deployments import keyring
from tests.unit.exchange_samples import NOW
from tickets.signing import BadSignature

T0 = NOW  # when each sample state was reached
AT = NOW + 7.5  # when the event of a table row comes

OFF, UNKNOWN, UP, DOWN = LinkState.OFF, LinkState.UNKNOWN, LinkState.UP, LinkState.DOWN
REFUSED, KEY_ALERT = LinkState.REFUSED, LinkState.KEY_ALERT


def reached(*events: link.Event, start: Link | None = None) -> Link:
    """The link after ``events``, from a fresh one (or ``start``)."""
    current = Link() if start is None else start
    for event in events:
        current, _ = step(current, event)
    return current


# each state as the events that lead to it leave it: its facts are real, not made up
SAMPLES: dict[LinkState, Link] = {
    OFF: link.OFF,
    UNKNOWN: Link(),
    UP: reached(Answered(T0)),
    DOWN: reached(Answered(T0 - 9), *[Unanswered(T0 - n, "cannot connect to the peer (ClientConnectorError)")
                                      for n in reversed(range(DOWN_AFTER))]),
    REFUSED: reached(Answered(T0 - 9), Refused(T0, "conflict: seq 2 is another message's")),
    KEY_ALERT: reached(Answered(T0 - 9), Alerted(T0, "bad_signature: signature does not match")),
}

EVENTS: dict[str, link.Event] = {
    "answered": Answered(AT),
    "unanswered": Unanswered(AT, "no answer within 5.0 s"),
    "alerted": Alerted(AT, "unknown_key: unknown exchange key id k9"),
    "refused": Refused(AT, "http_404: HTTP 404"),
    "none_stopped": Stopped(AT, 0),
    "two_stopped": Stopped(AT, 2),
}

# the state after one event, for every state (rows) and event (columns). One unanswered
# attempt is not a partition (DOWN_AFTER in a row are); a key alert outlasts everything but
# an answer; stopped queues show whenever nothing worse does.
TABLE: dict[LinkState, dict[str, LinkState]] = {
    OFF: {"answered": OFF, "unanswered": OFF, "alerted": OFF, "refused": OFF, "none_stopped": OFF,
          "two_stopped": OFF},
    UNKNOWN: {"answered": UP, "unanswered": UNKNOWN, "alerted": KEY_ALERT, "refused": REFUSED,
              "none_stopped": UNKNOWN, "two_stopped": REFUSED},
    UP: {"answered": UP, "unanswered": UP, "alerted": KEY_ALERT, "refused": REFUSED, "none_stopped": UP,
         "two_stopped": REFUSED},
    DOWN: {"answered": UP, "unanswered": DOWN, "alerted": KEY_ALERT, "refused": REFUSED, "none_stopped": DOWN,
           "two_stopped": DOWN},
    REFUSED: {"answered": REFUSED, "unanswered": REFUSED, "alerted": KEY_ALERT, "refused": REFUSED,
              "none_stopped": UP, "two_stopped": REFUSED},
    KEY_ALERT: {"answered": UP, "unanswered": KEY_ALERT, "alerted": KEY_ALERT, "refused": KEY_ALERT,
                "none_stopped": KEY_ALERT, "two_stopped": KEY_ALERT},
}


def test_the_samples_are_the_states_they_name():
    assert {state: sample.state for state, sample in SAMPLES.items()} == {state: state for state in LinkState}
    assert set(TABLE) == set(LinkState) and all(set(row) == set(EVENTS) for row in TABLE.values())


@pytest.mark.parametrize("state, event_name", [(s, e) for s in LinkState for e in EVENTS])
def test_every_state_against_every_event(state: LinkState, event_name: str):
    before, event = SAMPLES[state], EVENTS[event_name]
    after, actions = step(before, event)
    expected = TABLE[state][event_name]
    assert after.state is expected
    if expected is state:  # no change: nothing to announce, the time in state goes on
        assert actions == () and after.since == before.since
    else:
        assert actions == (Changed(state, after),) and after.since == AT


def test_down_takes_that_many_unanswered_in_a_row_and_keeps_its_since():
    current = SAMPLES[UP]
    for n in range(1, DOWN_AFTER):
        current, actions = step(current, Unanswered(T0 + n, f"timeout {n}"))
        assert (current.state, current.failures, actions) == (UP, n, ())
    current, actions = step(current, Unanswered(T0 + DOWN_AFTER, "cannot connect to the peer"))
    assert (current.state, current.since, current.error) == (DOWN, T0 + DOWN_AFTER, "cannot connect to the peer")
    assert actions == (Changed(UP, current),)
    later, actions = step(current, Unanswered(T0 + 60, "no answer within 5.0 s"))
    assert (later.state, later.since, later.error, later.failures, actions) == \
        (DOWN, T0 + DOWN_AFTER, "no answer within 5.0 s", DOWN_AFTER, ())


def test_an_answer_between_failures_starts_the_count_again():
    current = reached(*[Unanswered(T0 + n, "x") for n in range(DOWN_AFTER - 1)], Answered(T0 + 5),
                      *[Unanswered(T0 + 6 + n, "y") for n in range(DOWN_AFTER - 1)], start=SAMPLES[UP])
    assert (current.state, current.failures) == (UP, DOWN_AFTER - 1)


def test_the_attempts_of_one_round_count_once():
    current = reached(*[Unanswered(T0, f"timeout of head {n}") for n in range(20)], start=SAMPLES[UP])
    assert (current.state, current.failures, current.last_error) == (UP, 1, "timeout of head 19")
    current = reached(Unanswered(T0 + 5, "a"), Unanswered(T0 + 10, "b"), start=current)
    assert (current.state, current.failures) == (DOWN, DOWN_AFTER)


def test_a_key_alert_and_stopped_queues_show_again_when_the_partition_ends():
    hidden = reached(Refused(T0, "conflict: seq 2"), Alerted(T0 + 1, "wrong_key: k1 signs to 12345"),
                     *[Unanswered(T0 + 2 + n, "timeout") for n in range(DOWN_AFTER)], start=SAMPLES[UP])
    assert hidden.state is DOWN and hidden.error == "timeout"
    # the peer is back; the probe is signed, so an answer proves the key is taken again
    back, actions = step(hidden, Answered(T0 + 30))
    assert back.state is REFUSED and actions == (Changed(DOWN, back),)
    assert back.error == "1 queue stopped: conflict: seq 2"
    resumed, _ = step(back, Stopped(T0 + 40, 0))
    assert (resumed.state, resumed.error, resumed.refusal) == (UP, "", "")


def test_stopped_queues_found_at_start_are_refused_in_words():
    current = reached(Stopped(T0, 3))
    assert (current.state, current.error) == (REFUSED, "3 queues stopped by a final refusal: resume once mended")


def test_the_errors_are_bounded():
    current = reached(*[Unanswered(T0 + n, "超" * 1000) for n in range(DOWN_AFTER)])
    assert len(current.error) == link.MAX_ERROR_CHARS


# --- what an answer says of the link ----------------------------------------------------------

RECEIPT = Receipt("a" * 32, Outcome.APPLIED, 2, "", "")
LATER = Receipt("a" * 32, Outcome.REFUSED, 1, "hold_full", "16 held")


@pytest.mark.parametrize("delivery, event", [
    (wire.Acked(RECEIPT), Answered(AT)),
    (wire.RetryLater("hold_full", 10.0, 429, "16 held", receipt=LATER), Answered(AT)),  # the inbox answered
    (wire.RetryLater("unreachable", 5.0, 0, "ClientConnectorError"),
     Unanswered(AT, "cannot connect to the peer (ClientConnectorError)")),
    (wire.RetryLater("timeout", 5.0, 0, "no answer within 5.0 s"), Unanswered(AT, "no answer within 5.0 s")),
    (wire.RetryLater("http_502", 5.0, 502, "HTTP 502"), Unanswered(AT, "http_502: HTTP 502")),
    (wire.RetryLater("bad_signature", 300.0, 401, "timestamp off by 900 s (more than 300)", alert=True),
     Alerted(AT, "bad_signature: timestamp off by 900 s (more than 300)")),
    (wire.Rejected("conflict", 409, "seq 2 holds another message"),
     Refused(AT, "conflict: seq 2 holds another message")),
])
def test_what_an_attempt_says_of_the_link(delivery: wire.Delivery, event: link.Event):
    assert link.of_delivery(delivery, AT) == event


@pytest.mark.parametrize("outcome, event", [
    (wire.Hello("110", 1), Answered(AT)),
    (wire.RetryLater("unreachable", 5.0, 0, "ClientConnectorError"),
     Unanswered(AT, "probe: cannot connect to the peer (ClientConnectorError)")),
    (wire.RetryLater("wrong_key", 300.0, 401, "key k1 signs messages to 110, this is 12345", alert=True),
     Alerted(AT, "probe: wrong_key: key k1 signs messages to 110, this is 12345")),
    # a probe stops no queue: a final answer to it is something to look at, not a refusal
    (wire.Rejected("http_404", 404, "HTTP 404"), Alerted(AT, "probe: http_404: HTTP 404")),
])
def test_what_a_probe_says_of_the_link(outcome: wire.Hello | wire.RetryLater | wire.Rejected, event: link.Event):
    assert link.of_probe(outcome, AT) == event


# --- the probe on the wire ------------------------------------------------------------------------


def test_a_signed_hello_is_read_back_by_the_receiver_only():
    headers = wire.signed_hello(keyring(), "12345", "110", NOW)
    assert set(headers) == {KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER}
    assert wire.read_hello(keyring(), headers, NOW + 1, "110").direction == ("12345", "110")
    with pytest.raises(WrongKey, match="signs messages to 110, this is 12345"):  # the peer URL points home
        wire.read_hello(keyring(), headers, NOW + 1, "12345")
    with pytest.raises(BadSignature, match="signature does not match"):  # another secret
        wire.read_hello(keyring(up="w" * 40), headers, NOW + 1, "110")
    with pytest.raises(BadSignature, match="timestamp off by 301 s"):  # a clock to fix
        wire.read_hello(keyring(), headers, NOW + 301, "110")
    with pytest.raises(UnknownKey, match="unknown exchange key id k9"):
        wire.read_hello(keyring(), {**headers, KEY_HEADER: "k9"}, NOW, "110")
    with pytest.raises(BadSignature, match="header X-HL-Key is missing"):  # an unsigned GET learns nothing
        wire.read_hello(keyring(), {}, NOW, "110")


def test_a_hello_signature_is_no_message_signature():
    hello = wire.hello_text("12345", "110")
    assert hello == b"exchange-hello 12345>110" and not hello.startswith(b"{")  # a message body is a JSON object


def test_the_hello_answer_says_the_platform_and_version_only():
    assert wire.hello_answer("110") == (200, {"platform": "110", "version": 1})


@pytest.mark.parametrize("status, body, outcome", [
    (200, {"platform": "110", "version": 1}, wire.Hello("110", 1)),
    (200, {"platform": "12345", "version": 1},
     wire.RetryLater(wire.UNREADABLE, wire.KEY_RETRY_S, 200, "the peer URL answers as 12345's exchange, not 110's",
                     alert=True)),
    (200, {"platform": "110", "version": 2},
     wire.RetryLater(wire.UNREADABLE, wire.KEY_RETRY_S, 200, "the peer speaks exchange version 2, this server 1",
                     alert=True)),
    (200, None, wire.RetryLater(wire.UNREADABLE, wire.KEY_RETRY_S, 200,
                                "HTTP 200 without a hello: is the peer URL the exchange endpoint?", alert=True)),
    (401, {"error": {"code": "bad_signature", "message": "signature does not match"}},
     wire.RetryLater("bad_signature", wire.KEY_RETRY_S, 401, "signature does not match", alert=True)),
    (503, {"error": {"code": "exchange_off", "message": "off here"}},
     wire.RetryLater("exchange_off", wire.RETRY_S, 503, "off here")),
    (404, None, wire.Rejected("http_404", 404, "HTTP 404")),
])
def test_what_the_sender_reads_in_a_probe_answer(status: int, body: dict | None, outcome: object):
    assert wire.hello_of(status, body, peer_platform="110") == outcome


# --- the backlog's figures --------------------------------------------------------------------------


def test_the_figures_count_each_way_and_age_the_oldest():
    backlog = Backlog(outgoing=3, incoming=1, oldest_at=NOW - 90.04, stopped=1, dead=2)
    assert link.figures("12345", "110", backlog, NOW) == {
        "waiting": 4, "waiting_by_direction": {"12345->110": 3, "110->12345": 1}, "oldest_waiting_s": 90.0,
        "stopped_count": 1, "dead_count": 2}
    assert link.figures(None, None, link.NO_BACKLOG, NOW) == {
        "waiting": 0, "waiting_by_direction": {}, "oldest_waiting_s": None, "stopped_count": 0, "dead_count": 0}
    assert link.oldest_waiting_s(NOW + 5, NOW) == 0.0  # a clock step back is no negative age
