"""The receiver's side of the exchange channel's HTTP edge: ``POST /api/exchange/v1/messages``
(and ``GET /api/exchange/v1/hello``, the sender's probe, signed the same way).

Authenticated by the message's signature alone (no bearer token: the route is one of
``hotline_link.web.http.PUBLIC_PATHS``, as the push intake is). A body larger than any
message is refused before its signature is checked; then ``wire.read_request`` (401, 400),
``boundary.admit`` (a message for the other platform is answered here, 421, and never
reaches the inbox), the inbox (``ports.Inbox``) and its receipt as ``wire.answer_of`` says.
Inbox state this side cannot read, or a step that lost every race, is ours to mend: 503
with a generic message (the detail, naming our keys, is logged here), and the sender retries.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web

from exchange import boundary, wire
from exchange.errors import ExchangeError, TooLarge
from exchange.keys import KEY_HEADER, KEY_ID, KeyRing
from exchange.messages import MAX_MESSAGE_BYTES
from exchange.ports import Inbox
from exchange.redis_state import Contention, CorruptState
from tickets.signing import BadSignature

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = MAX_MESSAGE_BYTES  # nothing larger is a message: not worth an HMAC


def _answer(status: int, body: dict[str, Any]) -> web.Response:
    headers = {}
    after = body.get("retry_after_s")
    if isinstance(after, (int, float)):
        headers["Retry-After"] = str(math.ceil(after))
    return web.json_response(body, status=status, headers=headers,
                             dumps=lambda value: json.dumps(value, ensure_ascii=False))


async def _read_body(request: web.Request) -> bytes:
    """The body, at most ``MAX_BODY_BYTES`` (413 ``too_large`` beyond, read no further)."""
    refusal = TooLarge(f"the request body is more than {MAX_BODY_BYTES} bytes; an exchange message is at most "
                       f"{MAX_MESSAGE_BYTES}")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise refusal
    data = bytearray()
    async for chunk in request.content.iter_chunked(8192):
        data += chunk
        if len(data) > MAX_BODY_BYTES:
            raise refusal
    return bytes(data)


def _shown_key(request: web.Request) -> str:
    key_id = request.headers.get(KEY_HEADER, "")
    return key_id if KEY_ID.fullmatch(key_id) else "(malformed)" if key_id else ""


def routes(inbox: Inbox, keyring: KeyRing, platform: str,
           clock: Callable[[], float] = time.time) -> list[web.RouteDef]:
    """The exchange endpoint of ``platform``, receiving into ``inbox`` with ``keyring``'s
    keys; ``clock`` is the time its signature and replay checks read."""

    async def receive_message(request: web.Request) -> web.Response:
        try:
            raw = await _read_body(request)
            now = clock()
            envelope, key = wire.read_request(keyring, request.headers, raw, now, platform)
        except (ExchangeError, BadSignature) as exc:
            log.info("exchange.refused", status=exc.status, code=exc.code, key_id=_shown_key(request),
                     error=str(exc)[:200])
            return _answer(*wire.error_answer(exc))
        about = {"message_id": envelope.message_id, "type": envelope.type, "from_platform": envelope.from_platform,
                 "ticket": envelope.ticket, "seq": envelope.seq, "key_id": key.key_id}
        verdict = boundary.admit(envelope, platform)
        if isinstance(verdict, boundary.Refused) and verdict.reason is boundary.Refusal.NOT_ADDRESSED:
            log.warning("exchange.not_addressed", **about, to_platform=envelope.to_platform)
            return _answer(*wire.not_addressed_answer(verdict))
        try:
            receipt = await inbox.receive(envelope, verdict, now)
        except (CorruptState, Contention) as exc:  # ours to mend, not the sender's: it retries
            log.error("exchange.inbox_unavailable", **about, error=f"{type(exc).__name__}: {exc}"[:300])
            return _answer(*wire.unavailable_answer())
        log.info("exchange.received", **about, outcome=receipt.outcome.value, reason=receipt.reason,
                 expected_seq=receipt.expected_seq,
                 forced=list(verdict.forced) if isinstance(verdict, boundary.Admitted) else [])
        return _answer(*wire.answer_of(receipt))

    async def hello(request: web.Request) -> web.Response:
        """The peer's probe: a signed GET answered with this platform and version only."""
        try:
            wire.read_hello(keyring, request.headers, clock(), platform)
        except (ExchangeError, BadSignature) as exc:
            log.info("exchange.hello_refused", status=exc.status, code=exc.code, key_id=_shown_key(request),
                     error=str(exc)[:200])
            return _answer(*wire.error_answer(exc))
        return _answer(*wire.hello_answer(platform))

    return [web.post(wire.MESSAGES_PATH, receive_message), web.get(wire.HELLO_PATH, hello)]
