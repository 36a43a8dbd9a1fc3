"""The exchange channel on the wire: the signed request and the receiver's answer, both
ways. Pure: no I/O (the HTTP client and the endpoint are ``client`` and ``resources``).

One clock check: ``X-HL-Timestamp`` is the envelope's ``sent_at``, written the same way
(the shortest decimal that reads back as that number, as JSON writes it). The sender stamps
each attempt anew (``messages.restamped``), so the signature's time and ``sent_at`` are one
number and the receiver checks they agree (a mismatch is a ``bad_message``): the signature's
skew bound and the inbox's replay window then read the same clock, and a message cannot be
signed "now" while claiming to have been sent at another time.

The answers (docs/exchange.md, "Answers on the wire"): an acknowledged message is a 200
with the receipt (``message_id``, ``outcome``, ``expected_seq``, ``reason``, ``detail``); an
inbox refusal that may be retried is a 429 with ``Retry-After`` (and ``retry_after_s``); a
conflict a 409; every refusal carries ``{"error": {"code", "message"}}`` as the rest of the
API does, and the inbox's refusals the receipt fields too. ``delivery_of`` reads an answer
back as what the sender does next: ``Acked``, ``RetryLater`` or ``Rejected``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exchange import boundary, inbox
from exchange.errors import BadMessage, NotSendable
from exchange.keys import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, Key, KeyRing, check_direction
from exchange.messages import VERSION, Envelope, envelope_bytes, parse_envelope
from exchange.receipts import Outcome, Receipt
from hotline_link.core.errors import HttpError
from tickets.signing import BadSignature

MESSAGES_PATH = "/api/exchange/v1/messages"
HELLO_PATH = "/api/exchange/v1/hello"  # the probe: a signed GET, answered with the platform and version
CONTENT_TYPE = "application/json"
SIGNED_HEADERS = (KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)

ACKED = 200
CONFLICT = 409
NOT_ADDRESSED = 421  # Misdirected Request: this server is not the platform it is meant for
RETRY = 429
RETRY_AFTER_S = {inbox.Refusal.HOLD_FULL.value: 10.0, inbox.Refusal.TOO_FAR_AHEAD.value: 10.0,
                 inbox.Refusal.OUTSIDE_WINDOW.value: 30.0}  # a clock that disagrees does not agree at once
SERVICE_UNAVAILABLE = 503
RETRY_S = 5.0  # the peer down, a timeout, a 5xx: the least wait before the next attempt
KEY_RETRY_S = 300.0  # a key the peer does not take (yet): mid-rotation, or a configuration to fix
MAX_AFTER_S = 3600.0
KEY_REFUSALS = frozenset({"unknown_key", "wrong_key", "bad_signature"})
UNREADABLE = "unreadable_answer"

# the timestamp form tickets.signing verifies: plain digits, at most 9 decimals
_TIMESTAMP = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?", re.ASCII)


# --- the request -------------------------------------------------------------------------


def timestamp_of(sent_at: float) -> str:
    """``X-HL-Timestamp`` for ``sent_at``: the text JSON writes for it, so both read back
    as the same number."""
    text = repr(float(sent_at))
    if not _TIMESTAMP.fullmatch(text):
        raise NotSendable(f"sent_at {text} cannot be written as X-HL-Timestamp (digits, at most 9 decimals); "
                          f"stamp attempts in milliseconds")
    return text


def signed_request(keyring: KeyRing, envelope: Envelope) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt: signed with the active key of its direction,
    timestamped with its ``sent_at``."""
    body = envelope_bytes(envelope)
    headers = keyring.sign(envelope.from_platform, envelope.to_platform, timestamp_of(envelope.sent_at), body)
    return body, {**headers, "Content-Type": CONTENT_TYPE}


def _signed_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The three signing headers, each given exactly once (a 401 names the one at fault)."""
    found: dict[str, list[str]] = {}
    for name, value in headers.items():
        found.setdefault(name.lower(), []).append(value)
    out = {}
    for name in SIGNED_HEADERS:
        values = found.get(name.lower(), [])
        if not values:
            raise BadSignature(f"header {name} is missing: an exchange message is signed "
                               f"({', '.join(SIGNED_HEADERS)})")
        if len(values) > 1:
            raise BadSignature(f"header {name} is given {len(values)} times; once only")
        out[name] = values[0]
    return out


def read_request(keyring: KeyRing, headers: Mapping[str, str], body: bytes, now: float,
                 receiver_platform: str) -> tuple[Envelope, Key]:
    """The message a request carries and the key that signed it: the signature first
    (401: ``bad_signature``, ``unknown_key``, ``wrong_key``), then the message (400
    ``bad_message``), its direction against the key, and its ``sent_at`` against the
    signature's time."""
    signed = _signed_headers(headers)
    timestamp = signed[TIMESTAMP_HEADER]
    key = keyring.verify(signed[KEY_HEADER], timestamp, signed[SIGNATURE_HEADER], body, now,
                         receiver_platform=receiver_platform)
    envelope = parse_envelope(body)
    check_direction(key, envelope)
    if float(timestamp) != envelope.sent_at:
        raise BadMessage(f"field 'sent_at' ({envelope.sent_at!r}) must equal {TIMESTAMP_HEADER} ({timestamp}): "
                         f"each attempt is stamped once", "sent_at")
    return envelope, key


# --- the answer --------------------------------------------------------------------------


def _receipt_fields(receipt: Receipt) -> dict[str, Any]:
    return {"message_id": receipt.message_id, "outcome": receipt.outcome.value,
            "expected_seq": receipt.expected_seq, "reason": receipt.reason, "detail": receipt.detail}


def _error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def answer_of(receipt: Receipt) -> tuple[int, dict[str, Any]]:
    """The HTTP answer (status, JSON body) for the inbox's receipt of one message."""
    fields = _receipt_fields(receipt)
    if receipt.acknowledged:
        return ACKED, fields
    if receipt.reason not in {r.value for r in inbox.Refusal}:
        raise ValueError(f"a refused receipt needs an inbox refusal as its reason, not {receipt.reason!r}")
    body = {**_error(receipt.reason, receipt.detail or receipt.reason), **fields}
    if receipt.retry:
        return RETRY, {**body, "retry_after_s": RETRY_AFTER_S[receipt.reason]}
    return CONFLICT, body


def unavailable_answer() -> tuple[int, dict[str, Any]]:
    """The answer when this side cannot take the message now (its state unreadable, or too
    many instances racing): 503, so the sender tries again; what went wrong stays in our log
    (it names our keys), never in the answer."""
    body = _error("unavailable", "the receiver cannot take this message now; send it again later")
    body["retry_after_s"] = RETRY_S * 6
    return SERVICE_UNAVAILABLE, body


def not_addressed_answer(refused: boundary.Refused) -> tuple[int, dict[str, Any]]:
    """The answer to a message for the other platform: final, the inbox never sees it."""
    return NOT_ADDRESSED, _error(refused.reason.value, refused.message, refused.field)


def error_answer(exc: HttpError) -> tuple[int, dict[str, Any]]:
    """The answer to a request refused before the inbox (signature, message, size); a bad
    message names its field."""
    return exc.status, _error(exc.code, str(exc), exc.field if isinstance(exc, BadMessage) else None)


# --- the sender's reading ------------------------------------------------------------------


@dataclass(frozen=True)
class Acked:
    """The receiver has the message for good (applied, duplicate, held, or refused at its
    boundary and recorded): forget it, send the ticket's next."""

    receipt: Receipt


@dataclass(frozen=True)
class RetryLater:
    """Not taken, not final: send the same message again (stamped anew) after ``after_s``.
    ``alert``: a key or an address an operator must look at (the queue still retries)."""

    reason: str  # a stable code: hold_full, unknown_key, timeout, unreachable, http_503...
    after_s: float
    status: int = 0  # 0: no HTTP answer at all
    detail: str = ""
    alert: bool = False
    receipt: Receipt | None = None


@dataclass(frozen=True)
class Rejected:
    """Final: the receiver will never take this message as it is. Stop the ticket's queue
    until an operator resumes it (sending the next would leave a gap for good)."""

    reason: str  # conflict, bad_message, not_addressed, redirect, http_404...
    status: int
    detail: str = ""
    receipt: Receipt | None = None


Delivery = Acked | RetryLater | Rejected


def _receipt_in(body: Mapping[str, Any]) -> Receipt | None:
    """The receipt fields of an answer, if they are all there and well formed."""
    message_id, outcome, expected = body.get("message_id"), body.get("outcome"), body.get("expected_seq")
    reason, detail = body.get("reason"), body.get("detail")
    if not (isinstance(message_id, str) and isinstance(reason, str) and isinstance(detail, str)
            and type(expected) is int and expected >= 1 and outcome in {o.value for o in Outcome}):
        return None
    receipt = Receipt(message_id, Outcome(outcome), expected, reason, detail)
    if receipt.outcome is Outcome.REFUSED and reason not in {r.value for r in inbox.Refusal}:
        return None
    return receipt


def _after(body: Mapping[str, Any] | None, default: float) -> float:
    value = (body or {}).get("retry_after_s")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return min(max(float(value), 0.0), MAX_AFTER_S)
    return default


def _error_in(body: Mapping[str, Any] | None) -> tuple[str, str]:
    """(code, message) of an ``{"error": ...}`` body, or ("", "")."""
    error = (body or {}).get("error")
    if not isinstance(error, dict):
        return "", ""
    code, message = error.get("code"), error.get("message")
    return (code[:64] if isinstance(code, str) else ""), (message[:300] if isinstance(message, str) else "")


def delivery_of(status: int, body: Mapping[str, Any] | None, *, message_id: str | None = None) -> Delivery:
    """What the sender does with an answer: ``status`` (0 when none came) and its JSON body
    (None when it was not a JSON object, or too large: then the status alone decides). With
    ``message_id``, a receipt about another message is no receipt."""
    receipt = _receipt_in(body) if body is not None else None
    if receipt is not None and message_id is not None and receipt.message_id != message_id:
        receipt = None
    if receipt is not None:
        if status == ACKED and receipt.acknowledged:
            return Acked(receipt)
        if status == RETRY and receipt.retry:
            return RetryLater(receipt.reason, _after(body, RETRY_AFTER_S[receipt.reason]), status, receipt.detail,
                              receipt=receipt)
        if status == CONFLICT and receipt.outcome is Outcome.REFUSED and not receipt.retry:
            return Rejected(receipt.reason, status, receipt.detail, receipt)
    code, message = _error_in(body)
    if 200 <= status < 300:  # no receipt for this message: not our peer's endpoint, or not this message
        return RetryLater(UNREADABLE, KEY_RETRY_S, status, f"HTTP {status} without a receipt for the message: "
                                                           f"is the peer URL the exchange endpoint?", alert=True)
    if 300 <= status < 400:
        return Rejected("redirect", status, f"HTTP {status}: a signed message goes only where it was addressed")
    if status == 401:  # a key mid-rotation must not stop the queues for good
        return RetryLater(code or "unauthorized", KEY_RETRY_S, status, message or "HTTP 401", alert=True)
    if status in (0, 408, 425, 429) or status >= 500:
        return RetryLater(code or (f"http_{status}" if status else "no_answer"), _after(body, RETRY_S), status,
                          message or (f"HTTP {status}" if status else "no answer"))
    return Rejected(code or f"http_{status}", status, f"HTTP {status}: {message}" if message else f"HTTP {status}")


# --- the probe (a signed hello) -------------------------------------------------------------


def hello_text(from_platform: str, to_platform: str) -> bytes:
    """What a hello's signature covers (a GET has no body). Never a message's body, which
    is a JSON object: neither signature passes for the other."""
    return f"exchange-hello {from_platform}>{to_platform}".encode()


def signed_hello(keyring: KeyRing, from_platform: str, to_platform: str, now: float) -> dict[str, str]:
    """The headers of a probe, signed with the active key of its direction at ``now``."""
    return keyring.sign(from_platform, to_platform, timestamp_of(round(now, 3)), hello_text(from_platform, to_platform))


def read_hello(keyring: KeyRing, headers: Mapping[str, str], now: float, receiver_platform: str) -> Key:
    """The key that signed a probe, checked as a message's is (401: ``bad_signature``,
    ``unknown_key``, ``wrong_key``): an unsigned request learns nothing."""
    signed = _signed_headers(headers)
    key = keyring.key(signed[KEY_HEADER])
    return keyring.verify(key.key_id, signed[TIMESTAMP_HEADER], signed[SIGNATURE_HEADER],
                          hello_text(key.from_platform, key.to_platform), now, receiver_platform=receiver_platform)


def hello_answer(platform: str) -> tuple[int, dict[str, Any]]:
    """The answer to a signed probe: this platform and the message version it speaks, nothing else."""
    return ACKED, {"platform": platform, "version": VERSION}


@dataclass(frozen=True)
class Hello:
    """The peer's exchange endpoint answered a signed probe: reachable, our key and clock taken."""

    platform: str
    version: int


def hello_of(status: int, body: Mapping[str, Any] | None, *, peer_platform: str) -> Hello | RetryLater | Rejected:
    """What the sender reads in a probe's answer: a ``Hello`` from ``peer_platform``; else
    as a message's answer would be read (a 401 or an answer that is not the peer's hello
    is an alert, no answer or a 5xx a retry)."""
    platform, version = (body or {}).get("platform"), (body or {}).get("version")
    if status == ACKED and platform == peer_platform and type(version) is int:
        if version != VERSION:
            return RetryLater(UNREADABLE, KEY_RETRY_S, status, f"the peer speaks exchange version {version}, this "
                              f"server {VERSION}", alert=True)
        return Hello(peer_platform, version)
    if 200 <= status < 300:
        shown = platform[:16] if isinstance(platform, str) else ""
        detail = (f"the peer URL answers as {shown}'s exchange, not {peer_platform}'s" if shown else
                  f"HTTP {status} without a hello: is the peer URL the exchange endpoint?")
        return RetryLater(UNREADABLE, KEY_RETRY_S, status, detail, alert=True)
    outcome = delivery_of(status, body)
    assert not isinstance(outcome, Acked)  # only a 2xx is acknowledged, and a 2xx is read above
    return outcome
