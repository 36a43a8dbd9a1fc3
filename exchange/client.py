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
from exchange.wire import RETRY_S, Acked, Delivery, Rejected, RetryLater, delivery_of, signed_request
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
        self.keyring = keyring
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def deliver(self, envelope: Envelope) -> Delivery:
        """One attempt at ``envelope`` as it is (the caller stamps it: ``messages.restamped``).
        A local misconfiguration (no key signs the direction) raises ``ConfigError``; the
        peer and the network never raise."""
        body, headers = signed_request(self.keyring, envelope)
        about = {"message_id": envelope.message_id, "type": envelope.type, "ticket": envelope.ticket,
                 "seq": envelope.seq, "to_platform": envelope.to_platform}
        try:
            async with self.session.post(self.url, data=body, headers=headers, allow_redirects=False,
                                         timeout=self.timeout) as resp:
                status = resp.status
                raw = None if 300 <= status < 400 else await _read_capped(resp.content, MAX_REPLY_BYTES)
        except TimeoutError:
            delivery: Delivery = RetryLater("timeout", RETRY_S, 0, f"no answer within {self.timeout.total} s")
        except (aiohttp.ClientError, OSError) as exc:
            delivery = RetryLater("unreachable", RETRY_S, 0, type(exc).__name__)
        else:
            delivery = delivery_of(status, _json_object(raw), message_id=envelope.message_id)
        _log(delivery, about)
        return delivery


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
