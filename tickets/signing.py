"""Signed pushes between platforms: HMAC-SHA256 over ``timestamp.body`` with a shared
secret, checked in constant time, with a bound on clock skew against replays."""

from __future__ import annotations

import hashlib
import hmac

from hotline_link.errors import HotlineError

MAX_SKEW_S = 300


class BadSignature(HotlineError):
    status, code = 401, "bad_signature"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, signature: str, body: bytes, now: float) -> None:
    if not secret:
        raise BadSignature("this server has no push secret configured")
    try:
        skew = abs(now - float(timestamp))
    except ValueError:
        raise BadSignature("X-HL-Timestamp is not a number") from None
    if skew > MAX_SKEW_S:
        raise BadSignature(f"timestamp off by {skew:.0f} s (more than {MAX_SKEW_S})")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise BadSignature("signature does not match")
