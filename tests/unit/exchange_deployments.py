"""Two deployments in one test process, as issue 17 runs them: 12345's and 110's, each with
a redis-server of its own, its own stores, keyring and ExchangeService, and a real aiohttp
server on 127.0.0.1 built by the app's own ``build_app`` with the tickets and exchange
plugins' routes; each service's real ExchangeClient posts to the other's server. Nothing of
Redis or aiohttp is mocked; time is a ``Clock`` both sides read, so the tests drive the
sender and the applier one round at a time."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from exchange import wire
from exchange.app_keys import EXCHANGE
from exchange.client import ExchangeClient
from exchange.config import ExchangeConfig
from exchange.inbox_store import InboxStore
from exchange.keys import KeyRing, key_name
from exchange.outbox_store import OutboxStore
from exchange.plugin import ExchangePlugin
from exchange.service import Channel, ExchangeService
from hotline_link.app import build_app
from hotline_link.core.bus import EventBus, Subscription
from hotline_link.core.settings import Settings
from hotline_link.web.auth import Principal, TokenBook
from linkage.records import DispatchRecords
from linkage.redis_keys import LinkageKeys
from tests.unit.exchange_samples import NOW
from tickets.keys import PUSH, TICKETS, TIMELINE
from tickets.outbox import Outbox
from tickets.plugin import TicketsPlugin
from tickets.push import PushService
from tickets.redis_keys import push_received_key
from tickets.store import Ticket, TicketStore
from tickets.timeline import TicketTimeline

UP_SECRET = "u" * 40  # signs 12345 -> 110
DOWN_SECRET = "d" * 40  # signs 110 -> 12345
SUPERVISOR_TOKEN = "supervisor-token-of-the-exchange-tests"
AGENT_TOKEN = "agent-token-of-the-exchange-tests"


def keyring(up: str = UP_SECRET, down: str = DOWN_SECRET) -> KeyRing:
    """Both directions' keys, as each deployment holds them."""
    return KeyRing.from_secrets({key_name("12345", "110", "k1"): up, key_name("110", "12345", "k2"): down})


@dataclass
class Clock:
    """The one time both deployments read; a test moves it."""

    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class Deployment:
    platform: str
    redis: Redis
    clock: Clock
    bus: EventBus = field(default_factory=EventBus)
    server: TestServer | None = None
    port: int = 0
    tickets: TicketStore = field(init=False)
    timeline: TicketTimeline = field(init=False)
    push: PushService = field(init=False)
    service: ExchangeService = field(init=False)
    records: DispatchRecords = field(init=False)  # the closed loop's dispatch records (linkage)

    def __post_init__(self) -> None:
        peer = "110" if self.platform == "12345" else "12345"
        self.tickets = TicketStore(self.redis)
        self.timeline = TicketTimeline(self.redis, self.tickets, self.bus, frozenset({self.platform}))
        self.push = PushService(Settings(ami_secret="x"), self.tickets, Outbox(self.redis, self.bus, ""),
                                self.redis, self.bus)
        channel = Channel(self.platform, peer, "", OutboxStore(self.redis, self.platform),
                          InboxStore(self.redis, self.platform), keyring())
        config = ExchangeConfig(exchange_allow_http_loopback=True, exchange_timeout_s=5.0, exchange_lease_s=30.0,
                                exchange_send_batch=20)
        self.service = ExchangeService(self.redis, self.bus, self.tickets, self.push, channel, config,
                                       clock=self.clock, consumer=f"{self.platform}-tests")
        self.push.attach_channel(self.service)  # as the exchange plugin does when the channel is on
        self.timeline.attach_peer(channel)  # likewise: the other platform's story from messages
        self.records = DispatchRecords(self.redis, LinkageKeys())
        self.service.attach_states(self.records)  # as the plugin does when the linkage plugin runs

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def web_app(self) -> web.Application:
        tokens = TokenBook([(SUPERVISOR_TOKEN, Principal("supervisor")), (AGENT_TOKEN, Principal("agent", "1001"))])
        services: dict[web.AppKey[Any], Any] = {TICKETS: self.tickets, TIMELINE: self.timeline, PUSH: self.push,
                                                EXCHANGE: self.service}

        async def health(request: web.Request) -> web.Response:
            return web.json_response({"healthy": True})

        return build_app(Settings(ami_secret="x"), tokens, self.bus, services, health,
                         [TicketsPlugin, ExchangePlugin])

    async def up(self) -> None:
        """Serve (again on the same port, once it had one)."""
        self.server = TestServer(self.web_app(), host="127.0.0.1", port=self.port)
        await self.server.start_server()
        self.port = self.server.port or 0

    async def down(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None

    async def story(self, ticket_id: str, prefix: str = "exchange.") -> list[tuple[str, dict[str, Any]]]:
        """The ticket's timeline as the API shows it (``for_ticket``): its exchange steps."""
        found = await self.timeline.for_ticket(ticket_id)
        assert found is not None, f"no ticket {ticket_id}"
        return [(e["event"], e["data"]) for e in found["events"] if e["event"].startswith(prefix)]

    async def pushed_ticket(self, push_id: str) -> Ticket:
        """Our ticket a received push (a handover by push) opened."""
        ticket_id = await self.redis.get(push_received_key(push_id))
        assert ticket_id is not None, f"push {push_id} opened no ticket on {self.platform}"
        ticket = await self.tickets.get(ticket_id)
        assert ticket is not None
        return ticket

    async def ticket_count(self) -> int:
        return len([key async for key in self.redis.scan_iter(f"hl:ticket:{self.platform}-*")])

    async def settle(self, peer: Deployment, rounds: int = 20) -> None:
        """Send and apply both ways until nothing is left in flight (each round sends the
        heads that are due; a ticket's next message goes once its head is taken)."""
        for _ in range(rounds):
            moved = await self.service.send_once() + await peer.service.send_once()
            moved += await self.service.apply_once() + await peer.service.apply_once()
            if not moved:
                return
        raise AssertionError(f"still moving after {rounds} rounds")


def events_named(sub: Subscription, name: str) -> list[dict[str, Any]]:
    return [event.data for event in sub.seen if event.name == name]


async def connect(hotline: Deployment, police: Deployment, session: aiohttp.ClientSession) -> None:
    """Serve both, point each one's client at the other, make the appliers' group."""
    for one in (hotline, police):
        await one.up()
        await one.service._on().inbox.ensure_group()
    for one, other in ((hotline, police), (police, hotline)):
        one.service.client = ExchangeClient(session, other.url + wire.MESSAGES_PATH, keyring(),
                                            allow_http_loopback=True, timeout_s=5.0)
        one.service.channel = dataclasses.replace(one.service._on(), peer_url=other.url)


@contextlib.asynccontextmanager
async def served_pair(redis_url: str, peer_redis_url: str, session: aiohttp.ClientSession,
                      clock: Clock) -> AsyncIterator[tuple[Deployment, Deployment]]:
    """(12345's deployment, 110's), each on its own redis-server, served and connected;
    stopped and closed afterwards."""
    hotline = Deployment("12345", Redis.from_url(redis_url, decode_responses=True), clock)
    police = Deployment("110", Redis.from_url(peer_redis_url, decode_responses=True), clock)
    await connect(hotline, police, session)
    try:
        yield hotline, police
    finally:
        for one in (hotline, police):
            await one.service.stop()
            await one.down()
            await one.redis.aclose()


def misaddress(hotline: Deployment, police: Deployment) -> str:
    """Point 12345's client at a page of 110's server that is not the exchange endpoint (a
    405: final, so the ticket's queue stops); the right URL, for the operator's mend."""
    client = hotline.service.client
    assert client is not None
    right_url: str = client.url  # type: ignore[attr-defined]
    client.url = police.url + "/api/openapi.json"  # type: ignore[attr-defined]
    return right_url
