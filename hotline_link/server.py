"""Wires the server together: Redis, the AMI manager, seat registry, call tracker, the
FastAGI route hook and a small HTTP API. Start-up and shutdown live here and nowhere else."""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from agi_scripts.route import RouteHook
from call_control.agent_events import AgentEvents
from call_control.conference.service import ConferenceService
from call_control.context import CallControlContext
from call_control.locks import CallLocks
from call_control.tracker import CallTracker
from call_control.transfer.service import TransferService
from hotline_link.agi.server import FastAgiServer
from hotline_link.ami.manager import AmiManager
from hotline_link.auth import TokenBook
from hotline_link.bus import EventBus
from hotline_link.errors import ConfigError
from hotline_link.http import build_app
from hotline_link.redis_client import redis_client
from hotline_link.settings import Settings
from ivr.callback import CallbackRoute
from ivr.events import IvrEvents
from ivr.harassment import HarassmentGuard, HarassmentPolicy
from seat_pool.overflow import OverflowController
from seat_pool.registry import SeatRegistry
from seat_pool.router import CallRouter
from seat_pool.store import SeatStore
from supervisor.service import SupervisorService
from seat_pool.waiting import WaitingQueue
from linkage.feedback_agi import FeedbackLine, unit_pins
from linkage.phone import PhoneTimings
from linkage.service import LinkageService, unit_secrets
from tickets.outbox import Outbox
from tickets.push import PushService
from tickets.recommend import Recommender
from tickets.store import TicketStore
from tickets.timeline import TicketTimeline

log = structlog.get_logger(__name__)

# a queued call its router has not touched for this long was left by a router that died
QUEUE_STALE_S = 5.0


class Server:
    def __init__(self, settings: Settings) -> None:
        if not settings.ami_secret:
            raise ConfigError("no AMI secret: set HOTLINE_AMI_SECRET or run 'hotline-link sandbox up' "
                              f"to create {settings.secrets_file}")
        self.settings = settings
        self.bus = EventBus()
        # a Redis that stops answering must not hold a caller or a request forever
        self.redis = redis_client(settings, decode_responses=True, socket_timeout=10,
                                    socket_connect_timeout=3)
        self.ami = AmiManager(settings)
        self.seats = SeatStore(self.redis, settings.seat_claim_ttl_s, settings.wrap_up_s)
        self.registry = SeatRegistry(settings, self.seats, self.ami, self.bus)
        self.calls = CallTracker(self.ami, self.bus)
        self.tickets = TicketStore(self.redis)
        context = CallControlContext(settings, self.ami, self.calls.book, self.tickets,
                                     CallLocks(self.redis), self.bus)
        self.transfers = TransferService(context)
        self.conferences = ConferenceService(context)
        self.timeline = TicketTimeline(self.redis, self.tickets, self.bus,
                                       frozenset(s.id for s in settings.sites if s.intake))
        self.outbox = Outbox(self.redis, self.bus, "", secrets={**unit_secrets(settings), **settings.push_secrets},
                             allow_http_loopback=settings.push_allow_http_loopback)
        self.push = PushService(settings, self.tickets, self.outbox, self.redis, self.bus)
        self.linkage = LinkageService.for_settings(settings, self.redis, self.bus, self.tickets, self.outbox)
        self.linkage.attach_phone(  # duty phones and 回访 calls (linkage/phone.py); Async Originate
            lambda site, action: self.ami.send(site, action, as_list=False),
            PhoneTimings(ring_s=settings.phone_ring_s, retry_delay_s=settings.phone_retry_delay_s,
                         answer_window_s=settings.phone_answer_window_s))
        self._recommender: asyncio.Task[Recommender] | None = None
        self.agent_events = AgentEvents(self.bus, self.tickets,
                                        frozenset(a for site in settings.sites for a in site.agents))
        self.tokens = TokenBook.from_file(settings.tokens_path) if settings.tokens_path.exists() else None
        self.harassment = HarassmentGuard(self.redis, HarassmentPolicy(
            settings.harassment_max_calls, settings.harassment_window_s), self.bus)
        self.ivr_events = IvrEvents(self.ami, self.bus)
        self.agi = FastAgiServer(settings.agi_host, settings.agi_port, settings.agi_max_sessions)
        self.agi.add_route("callback", CallbackRoute(settings, self.tickets, self.bus))
        self.feedback_line = FeedbackLine(self.linkage, unit_pins(settings, self.linkage.units),
                                          settings.voice_notes_path)
        self.agi.add_route("feedback", self.feedback_line)  # the units' feedback line
        self.queue = WaitingQueue(self.redis, stale_after_s=QUEUE_STALE_S)
        self.overflow = OverflowController(settings, self.seats, self.queue, self.bus)
        self.router = CallRouter(settings, self.seats, self.queue, self.overflow, self.bus)
        self.agi.add_route("route", RouteHook(self.tickets, self.router, self.bus,
                                              screen=self.harassment.screen))
        self.supervisor = SupervisorService(settings, self.bus, self.redis, self.registry, self.ami,
                                            self.calls.book)
        self._runner: web.AppRunner | None = None

    async def start(self, http: bool = True) -> None:
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise ConfigError(f"Redis at {self.settings.redis_url} is not reachable: {exc}") from None
        if self.tokens is None:
            log.warning("server.no_tokens", tokens_file=str(self.settings.tokens_path))
        self.timeline.start()
        self.outbox.start()
        self.linkage.start()
        self.feedback_line.start()
        self.registry.attach()
        self.router.attach()
        self.overflow.start()
        self.calls.attach()
        self.ami.on_resync(self.timeline.on_resync)  # after the call book's: ends calls no server heard end
        self.ivr_events.attach()
        if self.linkage.phone is not None:
            self.ami.subscribe("UserEvent", self.linkage.phone.on_user_event)
        self.transfers.attach()
        self.conferences.attach()
        self.supervisor.start()
        try:
            await self.agi.start()
        except OSError as exc:
            raise ConfigError(f"FastAGI port {self.settings.agi_port} is not free: {exc.strerror}") from None
        self.ami.start()
        if http:
            self._runner = web.AppRunner(build_app(self), access_log=None)  # its lines would hold ?token=
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.settings.http_host, self.settings.http_port)
            try:
                await site.start()
            except OSError as exc:
                await self.stop()
                raise ConfigError(f"HTTP port {self.settings.http_port} is not free: {exc.strerror}") from None
        log.info("server.started", agi_port=self.settings.agi_port,
                 http_port=self.settings.http_port if http else None)

    async def recommender(self) -> Recommender:
        """Built once, on first use, off the event loop (jieba loads its dictionary)."""
        if self._recommender is None:
            self._recommender = asyncio.ensure_future(asyncio.to_thread(Recommender.for_jurisdiction))
        return await self._recommender

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.agi.stop()
        await self.ami.stop()
        await self.overflow.stop()
        await self.supervisor.stop()
        await self.feedback_line.stop()
        await self.linkage.stop()
        await self.outbox.stop()
        await self.timeline.stop()
        await self.redis.aclose()
        log.info("server.stopped")


async def run_forever(settings: Settings) -> None:
    server = Server(settings)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
