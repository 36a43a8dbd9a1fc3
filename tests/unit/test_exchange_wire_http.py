"""The exchange channel's HTTP edge on real servers: a real ExchangeClient posting to the
real endpoint (the app's own middlewares, no bearer token) over 127.0.0.1, with an inbox in
memory built on the pure ``inbox.receive`` (a fake of the edge's port, not of aiohttp),
and odd peers (a redirect, a page, a hang, a closed port) for what the network can do."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.exceptions import ConnectionError as RedisConnectionError
from structlog.testing import capture_logs

from exchange import boundary, inbox, wire
from exchange.client import ExchangeClient
from exchange.keys import KeyRing, key_name
from exchange.messages import Envelope, envelope_bytes, restamped
from exchange.receipts import Receipt
from exchange.resources import MAX_BODY_BYTES, routes
from exchange.wire import Acked, Rejected, RetryLater, delivery_of, signed_request
from hotline_link.core.errors import ConfigError
from hotline_link.web.http import build_web_app
from tests.helpers import free_tcp_port
from tests.unit.exchange_samples import NOW, T110, envelope

UP = "u" * 40  # 12345 -> 110
DOWN = "d" * 40  # 110 -> 12345
CLOCK = NOW + 2.0  # the receiver's time: two seconds after the samples were sent


def ring(**secrets: str) -> KeyRing:
    """Both directions' keys, as each deployment holds them (or ``secrets`` instead)."""
    return KeyRing.from_secrets(secrets or {key_name("12345", "110", "k1"): UP,
                                            key_name("110", "12345", "k2"): DOWN})


@dataclass
class MemoryInbox:
    """The edge's ``ports.Inbox`` in memory: the pure ``inbox.receive`` over a dict of
    streams, each applied message admitted again as the Redis inbox does."""

    platform: str
    limits: inbox.Limits = inbox.LIMITS
    streams: dict[inbox.StreamKey, inbox.Stream] = field(default_factory=dict)
    applied: list[boundary.Admitted | boundary.Refused] = field(default_factory=list)
    calls: int = 0
    down: bool = False

    async def receive(self, envelope: Envelope, verdict: boundary.Admitted | boundary.Refused,
                      now: float) -> Receipt:
        self.calls += 1
        if self.down:
            raise RedisConnectionError("Connection refused")
        assert not (isinstance(verdict, boundary.Refused) and verdict.reason is boundary.Refusal.NOT_ADDRESSED)
        self.streams, actions = inbox.receive(self.streams, envelope, now, limits=self.limits)
        self.applied += [boundary.admit(a.envelope, self.platform) for a in actions if isinstance(a, inbox.Apply)]
        return Receipt.of(envelope.message_id, verdict, actions, self.streams[envelope.stream].next_seq)

    def applied_envelopes(self) -> list[Envelope]:
        return [v.envelope for v in self.applied if isinstance(v, boundary.Admitted)]


@dataclass
class Deployment:
    platform: str
    inbox: MemoryInbox
    server: TestServer

    @property
    def url(self) -> str:
        return str(self.server.make_url(wire.MESSAGES_PATH))


async def _deployment(platform: str, limits: inbox.Limits = inbox.LIMITS) -> Deployment:
    box = MemoryInbox(platform, limits)
    app = build_web_app()  # the real middlewares: errors as JSON, bearer auth (this route is exempt)
    app.router.add_routes(routes(box, ring(), platform, clock=lambda: CLOCK))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return Deployment(platform, box, server)


@pytest.fixture
async def police() -> AsyncIterator[Deployment]:
    """110's server."""
    deployment = await _deployment("110")
    yield deployment
    await deployment.server.close()


@pytest.fixture
async def hotline() -> AsyncIterator[Deployment]:
    """12345's server."""
    deployment = await _deployment("12345")
    yield deployment
    await deployment.server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def client_of(session: aiohttp.ClientSession, url: str, keyring: KeyRing | None = None,
              timeout_s: float = 10.0) -> ExchangeClient:
    return ExchangeClient(session, url, keyring or ring(), allow_http_loopback=True, timeout_s=timeout_s)


async def post_raw(session: aiohttp.ClientSession, url: str, body: bytes,
                   headers: dict[str, str]) -> tuple[int, dict[str, str], dict]:  # type: ignore[type-arg]
    async with session.post(url, data=body, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.json()


# --- acknowledged ---------------------------------------------------------------------------


async def test_a_message_is_applied_and_acknowledged(police, session):
    sent = envelope("handover")  # 12345 -> 110
    with capture_logs() as logs:
        delivery = await client_of(session, police.url).deliver(sent)
    assert isinstance(delivery, Acked)
    assert (delivery.receipt.message_id, delivery.receipt.outcome, delivery.receipt.expected_seq) == \
        (sent.message_id, "applied", 2)
    assert police.inbox.applied_envelopes() == [sent]
    events = {entry["event"] for entry in logs}
    assert {"exchange.received", "exchange.delivered"} <= events
    assert UP not in repr(logs) and "夜间施工噪音" not in repr(logs)  # neither the secret nor the body


async def test_a_retry_is_a_duplicate_applied_once(police, session):
    client = client_of(session, police.url)
    sent = envelope("handover")
    await client.deliver(sent)
    again = await client.deliver(restamped(sent, NOW + 1))
    assert isinstance(again, Acked) and (again.receipt.outcome, again.receipt.expected_seq) == ("duplicate", 2)
    assert len(police.inbox.applied) == 1


async def test_an_early_message_is_held_then_applied_in_order(police, session):
    client = client_of(session, police.url)
    first, second = envelope("handover", seq=1), envelope("supervise", seq=2)
    held = await client.deliver(second)
    assert isinstance(held, Acked) and (held.receipt.outcome, held.receipt.expected_seq) == ("held", 1)
    assert police.inbox.applied == []
    applied = await client.deliver(first)
    assert isinstance(applied, Acked) and (applied.receipt.outcome, applied.receipt.expected_seq) == ("applied", 3)
    assert police.inbox.applied_envelopes() == [first, second]


async def test_restricted_content_is_refused_at_the_boundary_and_acknowledged(hotline, session):
    sent = envelope("status", detail="涉案人员已控制")  # 110 -> 12345, naming a mark
    delivery = await client_of(session, hotline.url).deliver(sent)
    assert isinstance(delivery, Acked)
    receipt = delivery.receipt
    assert (receipt.outcome, receipt.reason, receipt.expected_seq) == ("refused_at_boundary", "restricted_content", 2)
    assert receipt.detail == "field 'body.detail' names a restricted matter (控制知悉范围); it is never shared"
    assert hotline.inbox.applied_envelopes() == []  # recorded, never applied


async def test_an_emergency_from_110_is_taken_as_non_emergency(hotline, session):
    sent = envelope("handover", from_platform="110", emergency=True)
    delivery = await client_of(session, hotline.url).deliver(sent)
    assert isinstance(delivery, Acked) and delivery.receipt.outcome == "applied"
    (admitted,) = hotline.inbox.applied
    assert isinstance(admitted, boundary.Admitted) and admitted.forced == ("body.emergency",)
    assert admitted.envelope.body.emergency is False and admitted.envelope.message_id == sent.message_id


# --- refused by the inbox ------------------------------------------------------------------


async def test_another_message_under_a_taken_seq_is_a_final_conflict(police, session):
    client = client_of(session, police.url)
    first = envelope("handover", seq=1)
    await client.deliver(first)
    other = envelope("supervise", seq=1)
    delivery = await client.deliver(other)
    assert isinstance(delivery, Rejected)
    assert (delivery.reason, delivery.status) == ("conflict", 409)
    assert delivery.detail == f"seq 1 was applied as message {first.message_id}"
    assert delivery.receipt is not None and delivery.receipt.expected_seq == 2


async def test_a_full_hold_is_retried_later_with_retry_after(session):
    police = await _deployment("110", inbox.Limits(held=1))
    try:
        client = client_of(session, police.url)
        await client.deliver(envelope("supervise", seq=2))  # held
        third = envelope("supervise", seq=3)
        delivery = await client.deliver(third)
        assert isinstance(delivery, RetryLater)
        assert (delivery.reason, delivery.status, delivery.after_s, delivery.alert) == ("hold_full", 429, 10.0, False)
        assert delivery.detail == "1 messages wait for seq 1"
        body, headers = signed_request(ring(), third)
        status, reply_headers, reply = await post_raw(session, police.url, body, headers)
        assert (status, reply_headers["Retry-After"], reply["error"]["code"]) == (429, "10", "hold_full")
    finally:
        await police.server.close()


async def test_an_inbox_out_of_reach_is_retried(police, session):
    police.inbox.down = True
    delivery = await client_of(session, police.url).deliver(envelope("handover"))
    assert isinstance(delivery, RetryLater)
    assert (delivery.reason, delivery.status, delivery.after_s) == ("redis_unavailable", 503, wire.RETRY_S)


# --- refused before the inbox ----------------------------------------------------------------


async def test_a_key_of_the_other_direction_is_a_401_retried_later(police, session):
    # the sender's configuration names 110's key (k2) as its own for 12345 -> 110: a reflection
    confused = ring(**{key_name("12345", "110", "k2"): DOWN})
    delivery = await client_of(session, police.url, confused).deliver(envelope("handover"))
    assert isinstance(delivery, RetryLater)
    assert (delivery.reason, delivery.status, delivery.after_s, delivery.alert) == \
        ("wrong_key", 401, wire.KEY_RETRY_S, True)
    assert delivery.detail == "key k2 signs messages to 12345, this is 110"
    assert police.inbox.calls == 0


async def test_an_unknown_key_is_a_401_retried_later(police, session):
    rotated = ring(**{key_name("12345", "110", "k7"): "n" * 40})  # a new key the peer does not have yet
    delivery = await client_of(session, police.url, rotated).deliver(envelope("handover"))
    assert isinstance(delivery, RetryLater)
    assert (delivery.reason, delivery.status, delivery.alert) == ("unknown_key", 401, True)
    assert delivery.detail == "unknown exchange key id k7"


async def test_a_message_for_the_other_platform_never_reaches_the_inbox(police, session):
    # 110's own message posted to 110 (a peer URL pointing home): its key signs messages to
    # 12345, so the signature refuses it before boundary.admit's not_addressed could
    sent = envelope("status")  # 110 -> 12345
    delivery = await client_of(session, police.url).deliver(sent)
    assert isinstance(delivery, RetryLater) and (delivery.reason, delivery.status) == ("wrong_key", 401)
    assert delivery.detail == "key k2 signs messages to 12345, this is 110"
    assert police.inbox.calls == 0
    # the answer the endpoint gives a not_addressed verdict is final for the sender
    status, body = wire.not_addressed_answer(boundary.admit(sent, "110"))  # type: ignore[arg-type]
    assert (status, body["error"]["field"]) == (421, "to_platform")
    assert delivery_of(status, body) == Rejected("not_addressed", 421,
                                                 "HTTP 421: the message is addressed to 12345, this is 110")


async def test_a_tampered_body_is_a_401(police, session):
    body, headers = signed_request(ring(), envelope("handover"))
    tampered = body.replace("夜间施工噪音".encode(), "夜间施工扰民".encode())
    status, _, reply = await post_raw(session, police.url, tampered, headers)
    assert (status, reply) == (401, {"error": {"code": "bad_signature", "message": "signature does not match"}})
    assert police.inbox.calls == 0
    assert isinstance(delivery_of(status, reply), RetryLater)


@pytest.mark.parametrize("missing", wire.SIGNED_HEADERS)
async def test_an_unsigned_request_is_a_401_naming_the_header(police, session, missing):
    body, headers = signed_request(ring(), envelope("handover"))
    del headers[missing]
    headers["Authorization"] = "Bearer not-a-token-at-all"  # a token neither helps nor is asked for
    status, _, reply = await post_raw(session, police.url, body, headers)
    assert status == 401 and reply["error"]["code"] == "bad_signature"
    assert reply["error"]["message"].startswith(f"header {missing} is missing")


async def test_a_timestamp_other_than_sent_at_is_a_final_400(police, session):
    sent = envelope("handover", sent_at=NOW)
    body = envelope_bytes(sent)
    headers = {**ring().sign("12345", "110", repr(NOW + 1), body), "Content-Type": "application/json"}
    status, _, reply = await post_raw(session, police.url, body, headers)
    assert status == 400
    assert reply["error"] == {"code": "bad_message", "field": "sent_at",
                              "message": "field 'sent_at' (1795530000.0) must equal X-HL-Timestamp (1795530001.0): "
                                         "each attempt is stamped once"}
    assert delivery_of(status, reply) == Rejected("bad_message", 400, "HTTP 400: " + reply["error"]["message"])


async def test_a_message_that_is_not_one_is_a_400_naming_the_field(police, session):
    body = envelope_bytes(envelope("handover")).replace(b'"seq":1', b'"seq":"1"')
    headers = {**ring().sign("12345", "110", repr(NOW), body), "Content-Type": "application/json"}
    status, _, reply = await post_raw(session, police.url, body, headers)
    assert (status, reply["error"]) == (400, {"code": "bad_message", "field": "seq",
                                              "message": "field 'seq' must be a whole number"})


async def test_a_signature_too_old_is_a_401(police, session):
    sent = envelope("handover", sent_at=CLOCK - 301)
    body, headers = signed_request(ring(), sent)
    status, _, reply = await post_raw(session, police.url, body, headers)
    assert (status, reply["error"]) == (401, {"code": "bad_signature",
                                              "message": "timestamp off by 301 s (more than 300)"})


async def test_an_oversized_body_is_a_413(police, session):
    big = b"{" + b" " * MAX_BODY_BYTES + b"}"
    headers = {**ring().sign("12345", "110", repr(NOW), big), "Content-Type": "application/json"}
    status, _, reply = await post_raw(session, police.url, big, headers)
    assert (status, reply["error"]) == (413, {
        "code": "too_large",
        "message": "the request body is more than 16384 bytes; an exchange message is at most 16384"})

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(4):
            yield b" " * 8192

    status, _, reply = await post_raw(session, police.url, chunks(), headers)  # type: ignore[arg-type]
    assert (status, reply["error"]["code"]) == (413, "too_large")
    assert police.inbox.calls == 0
    assert delivery_of(status, reply) == Rejected("too_large", 413, "HTTP 413: " + reply["error"]["message"])


# --- odd peers: what the network can do ------------------------------------------------------


@dataclass
class OddPeer:
    server: TestServer
    release: asyncio.Event
    reached: list[str]

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


@pytest.fixture
async def odd_peer() -> AsyncIterator[OddPeer]:
    release, reached = asyncio.Event(), []

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(wire.MESSAGES_PATH)

    async def target(request: web.Request) -> web.Response:
        reached.append(request.path)
        return web.json_response({})

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html>welcome</html>", content_type="text/html")

    async def huge(request: web.Request) -> web.Response:
        return web.json_response({"message_id": "x" * 10_000})

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/moved", moved)
    app.router.add_post(wire.MESSAGES_PATH, target)
    app.router.add_post("/page", page)
    app.router.add_post("/huge", huge)
    app.router.add_post("/hang", hang)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield OddPeer(server, release, reached)
    release.set()
    await server.close()


async def test_a_redirect_is_final_and_not_followed(odd_peer, session):
    delivery = await client_of(session, odd_peer.url("/moved")).deliver(envelope("handover"))
    assert delivery == Rejected("redirect", 307, "HTTP 307: a signed message goes only where it was addressed")
    assert odd_peer.reached == []


async def test_a_page_instead_of_a_receipt_is_retried_and_alerted(odd_peer, session):
    delivery = await client_of(session, odd_peer.url("/page")).deliver(envelope("handover"))
    assert isinstance(delivery, RetryLater)
    assert (delivery.reason, delivery.status, delivery.after_s, delivery.alert) == \
        ("unreadable_answer", 200, wire.KEY_RETRY_S, True)
    assert "is the peer URL the exchange endpoint?" in delivery.detail


async def test_a_reply_too_large_to_read_is_no_receipt(odd_peer, session):
    delivery = await client_of(session, odd_peer.url("/huge")).deliver(envelope("handover"))
    assert isinstance(delivery, RetryLater) and (delivery.reason, delivery.status) == ("unreadable_answer", 200)


async def test_a_peer_that_hangs_is_retried_after_the_timeout(odd_peer, session):
    client = client_of(session, odd_peer.url("/hang"), timeout_s=0.2)
    delivery = await client.deliver(envelope("handover"))
    assert delivery == RetryLater("timeout", wire.RETRY_S, 0, "no answer within 0.2 s")


async def test_a_peer_that_is_down_is_retried(session):
    url = f"http://127.0.0.1:{free_tcp_port()}{wire.MESSAGES_PATH}"  # nothing listens there
    delivery = await client_of(session, url).deliver(envelope("handover"))
    assert isinstance(delivery, RetryLater)
    assert (delivery.reason, delivery.status, delivery.after_s) == ("unreachable", 0, wire.RETRY_S)
    assert delivery.detail == "ClientConnectorError"


@pytest.mark.parametrize("url, allow, refusal", [
    ("http://110.example.cn/api/exchange/v1/messages", True, "http:// is allowed only to a loopback address"),
    ("http://127.0.0.1:8080/api/exchange/v1/messages", False, "http:// is allowed only to a loopback address"),
    ("ftp://110.example.cn/x", True, "only https:// URLs are allowed"),
])
async def test_a_peer_url_the_rules_refuse_is_refused_at_construction(session, url, allow, refusal):
    with pytest.raises(ConfigError, match=f"exchange peer URL '{url}': {refusal}"):
        ExchangeClient(session, url, ring(), allow_http_loopback=allow, timeout_s=5)


async def test_https_anywhere_and_a_positive_timeout(session):
    ExchangeClient(session, "https://110.example.cn/api/exchange/v1/messages", ring(), allow_http_loopback=False,
                   timeout_s=5)
    with pytest.raises(ConfigError, match="timeout must be a positive number"):
        ExchangeClient(session, "https://110.example.cn/x", ring(), allow_http_loopback=False, timeout_s=0)


async def test_a_sender_without_its_key_is_a_configuration_error(police, session):
    only_110 = ring(**{key_name("110", "12345", "k2"): DOWN})
    with pytest.raises(ConfigError, match="no exchange key signs 12345 to 110"):
        await client_of(session, police.url, only_110).deliver(envelope("handover"))


async def test_both_directions_between_two_servers(police, hotline, session):
    to_police, to_hotline = client_of(session, police.url), client_of(session, hotline.url)
    handover = envelope("handover")
    received = envelope("received", seq=1)  # 110 signs for the case (签收)
    assert isinstance(await to_police.deliver(handover), Acked)
    assert isinstance(await to_hotline.deliver(received), Acked)
    assert police.inbox.applied_envelopes() == [handover]
    assert hotline.inbox.applied_envelopes() == [received]
    assert received.ticket == T110 and uuid.UUID(hex=received.message_id)
