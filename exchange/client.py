"""The sender's side of the exchange channel's HTTP edge: one attempt to deliver one
message to the peer's endpoint, read as what to do next (``wire.Delivery``).

As the push outbox does, a signed body goes only where it was addressed: redirects are
not followed (a 3xx is final), ``https`` is required except to a loopback address when
``allow_http_loopback`` (the sandbox), and at most ``MAX_REPLY_BYTES`` of a reply are read.
The network never raises out of ``deliver``: a timeout, a refused connection or a reset is
a ``RetryLater``, so the caller's queue keeps the message and its order.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import structlog

from exchange.keys import KeyRing
from exchange.messages import Envelope
from exchange.wire import (
    HELLO_PATH,
    MESSAGES_PATH,
    RETRY_S,
    Acked,
    Delivery,
    Hello,
    Rejected,
    RetryLater,
    delivery_of,
    hello_of,
    signed_hello,
    signed_request,
)
from hotline_link.core.errors import ConfigError
from hotline_link.core.net import url_refusal

log = structlog.get_logger(__name__)

MAX_REPLY_BYTES = 4096  # a receipt is some 200 bytes


async def _read_capped(content: aiohttp.StreamReader, cap: int) -> bytes | None:
    """The reply's body, or None if it is longer than ``cap`` (then it is not ours)."""
    data = bytearray()
    while True:
        chunk = await content.read(cap + 1 - len(data))
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) > cap:
            return None


def _json_object(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deep
        return None
    return data if isinstance(data, dict) else None


class ExchangeClient:
    """Delivers messages to one peer's endpoint (``url``: its ``wire.MESSAGES_PATH``)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, keyring: KeyRing, *,
                 allow_http_loopback: bool, timeout_s: float) -> None:
        refusal = url_refusal(url, allow_http_loopback)
        if refusal:
            raise ConfigError(f"exchange peer URL {url[:200]!r}: {refusal}")
        if not timeout_s > 0:
            raise ConfigError("the exchange client's timeout must be a positive number of seconds")
        self.session = session
        self.url = url
        self.hello_url = url.removesuffix(MESSAGES_PATH) + HELLO_PATH  # the same server's probe
        self.keyring = keyring
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def deliver(self, envelope: Envelope) -> Delivery:
        """One attempt at ``envelope`` as it is (the caller stamps it: ``messages.restamped``).
        A local misconfiguration (no key signs the direction) raises ``ConfigError``; the
        peer and the network never raise."""
        body, headers = signed_request(self.keyring, envelope)
        about = {"message_id": envelope.message_id, "type": envelope.type, "ticket": envelope.ticket,
                 "seq": envelope.seq, "to_platform": envelope.to_platform}
        answer = await self._request("POST", self.url, headers, body)
        delivery = answer if isinstance(answer, RetryLater) else \
            delivery_of(answer[0], _json_object(answer[1]), message_id=envelope.message_id)
        _log(delivery, about)
        return delivery

    async def probe(self, from_platform: str, to_platform: str, now: float) -> Hello | RetryLater | Rejected:
        """A signed hello to the peer's server (``wire.HELLO_PATH``) at ``now``: is it there,
        and does it take our key and clock? Read as ``wire.hello_of``; never raises but
        ``ConfigError`` when no key signs the direction."""
        answer = await self._request("GET", self.hello_url, signed_hello(self.keyring, from_platform, to_platform,
                                                                         now), None)
        outcome = answer if isinstance(answer, RetryLater) else \
            hello_of(answer[0], _json_object(answer[1]), peer_platform=to_platform)
        if not isinstance(outcome, Hello):
            log.info("exchange.probe_failed", to_platform=to_platform, reason=outcome.reason, status=outcome.status,
                     detail=outcome.detail[:200])
        return outcome

    async def _request(self, method: str, url: str, headers: dict[str, str],
                       body: bytes | None) -> tuple[int, bytes | None] | RetryLater:
        """One request, never followed elsewhere: its status and capped body (None for a
        redirect or a body too large), or ``RetryLater`` when no answer came."""
        try:
            async with self.session.request(method, url, data=body, headers=headers, allow_redirects=False,
                                            timeout=self.timeout) as resp:
                status = resp.status
                return status, None if 300 <= status < 400 else await _read_capped(resp.content, MAX_REPLY_BYTES)
        except TimeoutError:
            return RetryLater("timeout", RETRY_S, 0, f"no answer within {self.timeout.total} s")
        except (aiohttp.ClientError, OSError) as exc:
            return RetryLater("unreachable", RETRY_S, 0, type(exc).__name__)


def _log(delivery: Delivery, about: dict[str, object]) -> None:
    if isinstance(delivery, Acked):
        log.info("exchange.delivered", **about, outcome=delivery.receipt.outcome.value,
                 expected_seq=delivery.receipt.expected_seq, reason=delivery.receipt.reason)
    elif isinstance(delivery, RetryLater):
        emit = log.error if delivery.alert else log.warning
        emit("exchange.retry_later", **about, reason=delivery.reason, status=delivery.status,
             after_s=delivery.after_s, detail=delivery.detail[:200])
    elif isinstance(delivery, Rejected):
        log.error("exchange.rejected", **about, reason=delivery.reason, status=delivery.status,
                  detail=delivery.detail[:200])
