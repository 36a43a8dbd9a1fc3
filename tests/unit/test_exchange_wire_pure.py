"""The exchange channel on the wire, without a network: the signed request (one clock: the
signature's time is the message's sent_at) and the answers both ways (answer_of and
delivery_of are inverses for every receipt)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange import boundary, inbox, wire
from exchange.errors import BadMessage, NotSendable, UnknownKey, WrongKey
from exchange.keys import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, KeyRing, key_name
from exchange.messages import envelope_bytes, restamped
from exchange.receipts import Outcome, Receipt
from exchange.wire import Acked, Rejected, RetryLater, answer_of, delivery_of, read_request, signed_request
from tests.unit.exchange_samples import NOW, envelope
from tickets import signing
from tickets.signing import BadSignature

UP = "u" * 40  # 12345 -> 110
DOWN = "d" * 40  # 110 -> 12345
MID = "9f1c0e5a2b6d4c1e8a7f3b2d1c0e9a8b"


def ring() -> KeyRing:
    return KeyRing.from_secrets({key_name("12345", "110", "k1"): UP, key_name("110", "12345", "k2"): DOWN})


def test_a_signed_request_is_the_envelope_signed_at_its_sent_at():
    sent = envelope("handover", sent_at=NOW + 0.25)
    body, headers = signed_request(ring(), sent)
    assert body == envelope_bytes(sent)
    assert headers[TIMESTAMP_HEADER] == "1795530000.25" == json.dumps(json.loads(body)["sent_at"])
    assert headers[SIGNATURE_HEADER] == signing.sign(UP, headers[TIMESTAMP_HEADER], body)
    assert headers[KEY_HEADER] == "k1" and headers["Content-Type"] == "application/json"
    got, key = read_request(ring(), headers, body, NOW + 3, "110")
    assert got == sent and key.key_id == "k1"


def test_a_retry_is_signed_at_its_new_time():
    first = envelope("status", sent_at=NOW)
    _, headers = signed_request(ring(), restamped(first, NOW + 600))
    assert headers[TIMESTAMP_HEADER] == repr(NOW + 600)


def test_a_sent_at_the_signature_cannot_carry_is_not_sendable():
    with pytest.raises(NotSendable, match="cannot be written as X-HL-Timestamp"):
        signed_request(ring(), envelope("handover", sent_at=1e-05))


@pytest.mark.parametrize("missing", [KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_a_missing_signing_header_is_a_401_naming_it(missing):
    body, headers = signed_request(ring(), envelope("handover"))
    del headers[missing]
    with pytest.raises(BadSignature, match=f"header {missing} is missing") as refused:
        read_request(ring(), headers, body, NOW, "110")
    assert (refused.value.status, refused.value.code) == (401, "bad_signature")


def test_headers_are_read_whatever_their_case_but_only_once():
    body, headers = signed_request(ring(), envelope("handover"))
    lowered = {name.lower(): value for name, value in headers.items()}
    assert read_request(ring(), lowered, body, NOW, "110")[1].key_id == "k1"
    twice = [*headers.items(), (KEY_HEADER.upper(), "k1")]

    class Multi(dict):  # what a multidict's items() gives: a header as often as it came
        def items(self):
            return twice

    with pytest.raises(BadSignature, match="header X-HL-Key is given 2 times"):
        read_request(ring(), Multi(), body, NOW, "110")


def test_timestamp_and_sent_at_must_agree():
    sent = envelope("handover", sent_at=NOW)
    body = envelope_bytes(sent)
    headers = ring().sign("12345", "110", repr(NOW + 1), body)  # validly signed, at another time
    with pytest.raises(BadMessage, match=r"field 'sent_at' \(1795530000.0\) must equal X-HL-Timestamp "
                                         r"\(1795530001.0\)") as refused:
        read_request(ring(), headers, body, NOW, "110")
    assert (refused.value.status, refused.value.code, refused.value.field) == (400, "bad_message", "sent_at")


def test_the_key_must_sign_the_messages_direction():
    # 110's key over a message that claims to come from 12345, sent to 12345's server
    sent = envelope("handover")  # 12345 -> 110
    body = envelope_bytes(sent)
    headers = ring().sign("110", "12345", repr(NOW), body)
    with pytest.raises(WrongKey, match="key k2 signs 110 to 12345, the message goes 12345 to 110"):
        read_request(ring(), headers, body, NOW, "12345")


def test_signature_before_parsing():
    with pytest.raises(UnknownKey, match="unknown exchange key id k9"):
        read_request(ring(), {KEY_HEADER: "k9", TIMESTAMP_HEADER: repr(NOW), SIGNATURE_HEADER: "0" * 64},
                     b"not json", NOW, "110")
    headers = ring().sign("12345", "110", repr(NOW), b"not json")
    with pytest.raises(BadMessage, match="the message is not JSON"):
        read_request(ring(), headers, b"not json", NOW, "110")


# --- answers ------------------------------------------------------------------------------


def test_acknowledged_outcomes_are_200_with_the_receipt():
    receipt = Receipt(MID, Outcome.REFUSED_AT_BOUNDARY, 4, "restricted_content", "field 'body.summary' names ...")
    assert answer_of(receipt) == (200, {"message_id": MID, "outcome": "refused_at_boundary", "expected_seq": 4,
                                        "reason": "restricted_content", "detail": "field 'body.summary' names ..."})


@pytest.mark.parametrize("reason, status, after", [("hold_full", 429, 10.0), ("too_far_ahead", 429, 10.0),
                                                   ("outside_window", 429, 30.0), ("conflict", 409, None)])
def test_inbox_refusals_carry_the_error_and_the_receipt(reason, status, after):
    receipt = Receipt(MID, Outcome.REFUSED, 3, reason, "the detail")
    got_status, body = answer_of(receipt)
    assert got_status == status
    assert body["error"] == {"code": reason, "message": "the detail"}
    assert (body["outcome"], body["expected_seq"], body.get("retry_after_s")) == ("refused", 3, after)


def test_a_refused_receipt_without_an_inbox_reason_is_a_bug():
    with pytest.raises(ValueError, match="needs an inbox refusal"):
        answer_of(Receipt(MID, Outcome.REFUSED, 1, "restricted_content"))


def test_not_addressed_and_errors_answers():
    refused = boundary.Refused(boundary.Refusal.NOT_ADDRESSED, "the message is addressed to 110, this is 12345",
                               "to_platform")
    assert wire.not_addressed_answer(refused) == (421, {"error": {
        "code": "not_addressed", "message": "the message is addressed to 110, this is 12345", "field": "to_platform"}})
    assert wire.error_answer(BadMessage("field 'seq' is required", "seq")) == (400, {"error": {
        "code": "bad_message", "message": "field 'seq' is required", "field": "seq"}})
    assert wire.error_answer(UnknownKey("unknown exchange key id k9")) == (401, {"error": {
        "code": "unknown_key", "message": "unknown exchange key id k9"}})


_ACK_REASONS = {Outcome.APPLIED: st.just(""), Outcome.DUPLICATE: st.just(""), Outcome.HELD: st.just(""),
                Outcome.REFUSED_AT_BOUNDARY: st.just("restricted_content"),
                Outcome.REFUSED: st.sampled_from([r.value for r in inbox.Refusal])}
receipts = st.sampled_from(list(Outcome)).flatmap(lambda outcome: st.builds(
    Receipt, message_id=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32), outcome=st.just(outcome),
    expected_seq=st.integers(1, 10**9), reason=_ACK_REASONS[outcome], detail=st.text(max_size=60)))


@given(receipts)
def test_delivery_of_reads_back_every_answer_of(receipt):
    status, body = answer_of(receipt)
    delivery = delivery_of(status, json.loads(json.dumps(body)), message_id=receipt.message_id)
    assert delivery.receipt == receipt
    if receipt.acknowledged:
        assert isinstance(delivery, Acked)
    elif receipt.retry:
        assert isinstance(delivery, RetryLater) and delivery.reason == receipt.reason and delivery.status == 429
        assert delivery.after_s == wire.RETRY_AFTER_S[receipt.reason] and not delivery.alert
    else:
        assert isinstance(delivery, Rejected) and (delivery.reason, delivery.status) == ("conflict", 409)


def test_a_receipt_of_another_message_is_no_receipt():
    status, body = answer_of(Receipt(MID, Outcome.APPLIED, 2))
    delivery = delivery_of(status, body, message_id="0" * 32)
    assert isinstance(delivery, RetryLater) and delivery.reason == "unreadable_answer" and delivery.alert


@pytest.mark.parametrize("status, body, expected", [
    (200, None, RetryLater("unreadable_answer", 300.0, 200, "HTTP 200 without a receipt for the message: "
                                                             "is the peer URL the exchange endpoint?", alert=True)),
    (204, None, RetryLater("unreadable_answer", 300.0, 204, "HTTP 204 without a receipt for the message: "
                                                             "is the peer URL the exchange endpoint?", alert=True)),
    (401, {"error": {"code": "unknown_key", "message": "unknown exchange key id k3"}},
     RetryLater("unknown_key", 300.0, 401, "unknown exchange key id k3", alert=True)),
    (401, None, RetryLater("unauthorized", 300.0, 401, "HTTP 401", alert=True)),
    (503, {"error": {"code": "redis_unavailable", "message": "try again"}},
     RetryLater("redis_unavailable", 5.0, 503, "try again")),
    (502, None, RetryLater("http_502", 5.0, 502, "HTTP 502")),
    (429, {"retry_after_s": 7}, RetryLater("http_429", 7.0, 429, "HTTP 429")),  # no receipt: by status
    (0, None, RetryLater("no_answer", 5.0, 0, "no answer")),
    (302, None, Rejected("redirect", 302, "HTTP 302: a signed message goes only where it was addressed")),
    (400, {"error": {"code": "bad_message", "message": "field 'seq' is required", "field": "seq"}},
     Rejected("bad_message", 400, "HTTP 400: field 'seq' is required")),
    (421, {"error": {"code": "not_addressed", "message": "addressed to 110"}},
     Rejected("not_addressed", 421, "HTTP 421: addressed to 110")),
    (409, None, Rejected("http_409", 409, "HTTP 409")),  # a conflict read by its status only
    (413, {"error": {"code": "too_large", "message": "at most 16384 bytes"}},
     Rejected("too_large", 413, "HTTP 413: at most 16384 bytes")),
    (404, None, Rejected("http_404", 404, "HTTP 404")),
])
def test_answers_without_a_receipt_are_read_by_their_status(status, body, expected):
    assert delivery_of(status, body) == expected


def test_a_receipt_that_contradicts_its_status_is_read_by_the_status():
    _, applied = answer_of(Receipt(MID, Outcome.APPLIED, 2))
    assert delivery_of(409, applied) == Rejected("http_409", 409, "HTTP 409")
    _, conflict = answer_of(Receipt(MID, Outcome.REFUSED, 2, "conflict", "seq 1 was applied as message x"))
    assert isinstance(delivery_of(200, conflict), RetryLater)  # a 200 that is no acknowledgement
    assert delivery_of(429, {**conflict, "retry_after_s": -5}).after_s == 0.0


def test_a_retry_after_is_bounded():
    _, body = answer_of(Receipt(MID, Outcome.REFUSED, 2, "hold_full"))
    assert delivery_of(429, {**body, "retry_after_s": 10**9}).after_s == wire.MAX_AFTER_S
    assert delivery_of(429, {**body, "retry_after_s": True}).after_s == 10.0
