"""Signed pushes between platforms: HMAC-SHA256 over ``timestamp.body`` with a shared
secret, checked in constant time, with a bound on clock skew against replays."""

from __future__ import annotations

import hashlib
import hmac
import re

from hotline_link.core.errors import HttpError

MAX_SKEW_S = 300
# seconds since the epoch, plain ASCII digits: float() alone would take "nan" (which passes
# any skew check) and " 1e3 "
_TIMESTAMP = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?", re.ASCII)
_SIGNATURE = re.compile(r"[0-9a-f]{64}", re.ASCII)


class BadSignature(HttpError):
    status, code = 401, "bad_signature"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, signature: str, body: bytes, now: float) -> None:
    if not secret:
        raise BadSignature("this server has no push secret configured")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise BadSignature("X-HL-Timestamp is not a number of seconds")
    skew = abs(now - float(timestamp))
    if skew > MAX_SKEW_S:
        raise BadSignature(f"timestamp off by {skew:.0f} s (more than {MAX_SKEW_S})")
    # compare_digest raises TypeError on non-ASCII text: the shape is checked first
    if not _SIGNATURE.fullmatch(signature) or not hmac.compare_digest(sign(secret, timestamp, body),
                                                                       signature):
        raise BadSignature("signature does not match")
