"""The exchange channel at work: what the plugin runs between this deployment and the other
platform's. The pure core decides (``boundary``, ``inbox``, ``sequencing``), the stores keep
(``outbox_store``, ``inbox_store``, ``audit``), the client sends (``client``); this module
joins them:

- **sending**: ``hand_over``, ``received`` (签收), ``status`` (反馈回写), ``bounce`` (回流) and
  ``supervise`` (督办) build a message of one of our tickets through ``boundary.outgoing_*``,
  queue it in the outbox and note it on the ticket's timeline (``exchange.sent.<type>``);
- **the sender** (``send_once``): the outbox's due heads, one attempt each, and what the
  answer says (acknowledged, retried later, or the ticket's queue stopped and an alert);
- **the applier** (``apply_once``): the inbox's applied messages, each one's effect on our
  side (a handover opens a ticket naming the source and answers 签收; the others go on the
  ticket they name), then ``done``. Effects run at least once, so each is idempotent on the
  message id; a message about a ticket pair not linked yet waits (pending, in its ticket's
  order) and is refused (``not_linked``) only after ``exchange_max_deliveries`` claims;
- **write-back** (``write_back``): our linkage steps on a ticket that came by handover go
  back to the sender's ticket as ``status`` messages;
- **calls** (``hand_over_call``, ``take_call``, ``sign_for``): a transfer or three-way call
  queues its handover (call control calls it); the transferred call and its handover
  message open ONE ticket here, whichever arrives first (the route hook calls
  ``take_call``); the agent who answers the call signs for it (签收), once;
- **the exchanged cases** (``cases``, ``exchange.case_index``): each step that links a case
  (a handover sent, a handover taken, a transferred call taken) enters it in the index in
  its own transaction; the operators' resources list and export it. The cases exchanged
  before the index are entered from the audit once per deployment, in the background at
  start (``exchange.case_backfill``).
- **the link** (``link_once``, ``probe_once``, ``view``): what every attempt and a periodic
  signed probe of the peer say of the link (``link.step``: up, down, refused, key_alert),
  announced on the bus on each change (``exchange.link``), with the backlog read again
  every few seconds for the status API and the supervisor page.

The channel runs when this deployment serves exactly one platform and ``exchange_peer_url`` names
the other's server (``plan``); otherwise the service is off (``enabled`` False), every send
raises ``ChannelOff``, and a deployment serving both platforms works as it always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import aiohttp
import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from exchange import boundary, link, wire
from exchange.audit import Audit
from exchange.calls import agent_of, call_handover_id, call_proven_by, filled_by_handover, signed_for_id
from exchange.case_backfill import CaseBackfill
from exchange.case_index import CaseIndex, DispatchStates, stage_case
from exchange.client import ExchangeClient
from exchange.config import ExchangeConfig
from exchange.effects import (
    Off,
    On,
    Peer,
    derived_id,
    feedback_of,
    is_written_back,
    no_unit_names,
    plan,
    story_data,
    story_leg,
)
from exchange.errors import ChannelOff, NotSendable
from exchange.inbox_store import CLAIM_IDLE_MS, InboxStore
from exchange.keys import KeyRing
from exchange.messages import (
    SYSTEM,
    AnyBody,
    BounceBody,
    Envelope,
    HandoverBody,
    Mode,
    ReceivedBody,
    Stage,
    StatusBody,
    SuperviseBody,
)
from exchange.outbox_store import OutboxStore
from exchange.redis_keys import handed_key, noted_key, opened_by_call_key, opened_for_key, opened_key, signed_for_key
from exchange.redis_state import transact
from hotline_link.core.bus import BusEvent, BusWorker, EventBus
from hotline_link.core.errors import ConfigError
from hotline_link.core.events import CallAnswered, ExchangeAlert, ExchangeLinkChanged, LinkagePoliceRequested
from hotline_link.core.redis_client import as_str_entries, as_str_or_none
from hotline_link.core.settings import Settings, read_secret_file
from hotline_link.core.tasks import cancel_and_wait
from tickets.outbox import backoff_s
from tickets.push import PushService
from tickets.push_policy import PushPayload
from tickets.redis_keys import call_ticket_key, timeline_call_key
from tickets.store import TICKET_TTL_S, Ticket, TicketStore, ticket_platform
from tickets.timeline import add_story_entry, entry_of

log = structlog.get_logger(__name__)

POLL_S = 1.0  # the sender looks for due heads at least this often (a retry's time comes)
CLAIM_BLOCK_MS = 1000  # the applier waits this long for new applied messages per round
APPLY_BATCH = 50
MAX_IDLE_BACKOFF_S = 30.0  # Redis away: the loops wait at most this long between tries
FIGURES_S = 2.0  # the link loop reads the backlog this often (the supervisor page's figures)


class Deliverer(Protocol):
    """What the sender needs of the HTTP edge (``client.ExchangeClient``)."""

    async def deliver(self, envelope: Envelope) -> wire.Delivery: ...


@runtime_checkable
class Prober(Protocol):
    """What the link's probe needs of the HTTP edge (``client.ExchangeClient.probe``)."""

    async def probe(self, from_platform: str, to_platform: str,
                    now: float) -> wire.Hello | wire.RetryLater | wire.Rejected: ...


# --- the channel -------------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    """What runs when the channel is on."""

    platform: str
    peer_platform: str
    peer_url: str  # the other deployment's base URL
    outbox: OutboxStore
    inbox: InboxStore
    keyring: KeyRing


def keyring_for(settings: Settings, on: On) -> KeyRing:
    """The keys of the secrets file; both directions must have one, or nothing would be
    sent or taken: refused at start, not at the first message."""
    secrets = read_secret_file(settings.secrets_file) if settings.secrets_file.exists() else {}
    keyring = KeyRing.from_secrets(secrets)
    for src, dst in ((on.platform, on.peer_platform), (on.peer_platform, on.platform)):
        keyring.signing_key(src, dst)  # ConfigError naming the secrets-file entry
    return keyring


class _Numbered:
    """A ticket number taken the first time a claim needs one, kept across its retries:
    a road that attaches to the other's ticket leaves no gap in the day's numbers."""

    def __init__(self, tickets: TicketStore, site: str) -> None:
        self.tickets, self.site, self._id = tickets, site, ""

    async def id(self) -> str:
        if not self._id:
            self._id = await self.tickets.new_id(self.site)
        return self._id


class ExchangeService:
    """The exchange channel of this deployment (or, off, a service that says why not)."""

    def __init__(self, redis: Redis, bus: EventBus, tickets: TicketStore, push: PushService,
                 channel: Channel | None, config: ExchangeConfig, *, off_reason: str = "",
                 client: Deliverer | None = None, clock: Callable[[], float] = time.time,
                 consumer: str = "") -> None:
        self.redis = redis
        self.bus = bus
        self.tickets = tickets
        self.push_service = push
        self.channel = channel
        self.config = config
        self.off_reason = off_reason if channel is None else ""
        self.client = client
        self.clock = clock
        self.audit = Audit(redis)
        self.cases = CaseIndex(redis, tickets, channel.peer_platform if channel is not None else "")
        self.unit_name: Callable[[str], str | None] = no_unit_names  # the linkage plugin's, once attached
        self.backfill = CaseBackfill(redis, push, self._now)  # the cases exchanged before the index
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self._session: aiohttp.ClientSession | None = None
        self.link = link.Link() if channel is not None else link.OFF  # as this instance sees it
        self.backlog = link.NO_BACKLOG  # as last read (read_backlog)
        self._learned_at: float | None = None  # when an attempt or a probe last said something of the peer
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._events = BusWorker(bus, "exchange.write_back", is_written_back, self._write_back) \
            if channel is not None else None
        self._answers = BusWorker(bus, "exchange.sign_for", lambda event: event.is_(CallAnswered),
                                  self._sign_for) if channel is not None else None
        self._police = BusWorker(bus, "exchange.ask_police", lambda event: event.is_(LinkagePoliceRequested),
                                 self._ask_police) if channel is not None else None

    @classmethod
    def for_settings(cls, settings: Settings, redis: Redis, bus: EventBus, tickets: TicketStore,
                     push: PushService) -> ExchangeService:
        config = settings.section(ExchangeConfig)
        decided = plan(settings.platform_ids, config.exchange_peer_url)
        if isinstance(decided, Off):
            log.info("exchange.off", reason=decided.reason)
            return cls(redis, bus, tickets, push, None, config, off_reason=decided.reason)
        channel = Channel(decided.platform, decided.peer_platform, config.exchange_peer_url,
                          OutboxStore(redis, decided.platform), InboxStore(redis, decided.platform),
                          keyring_for(settings, decided))
        return cls(redis, bus, tickets, push, channel, config)

    @property
    def enabled(self) -> bool:
        return self.channel is not None

    def _on(self) -> Channel:
        if self.channel is None:
            raise ChannelOff(self.off_reason or "the exchange channel is off")
        return self.channel

    def _now(self) -> float:
        return round(self.clock(), 3)  # X-HL-Timestamp carries milliseconds

    # --- the tickets plugin's push channel (tickets.push.PushChannel) ---------------------

    def carries(self, to_platform: str) -> bool:
        return self.channel is not None and to_platform == self.channel.peer_platform

    async def push(self, ticket: Ticket, payload: PushPayload) -> None:
        """A system push over the channel: a handover by ``push``, its id the push's."""
        await self.hand_over(ticket, "push", payload.to_platform, message_id=payload.push_id)

    # --- sending -------------------------------------------------------------------------

    async def hand_over(self, ticket: Ticket, mode: Mode, to_platform: str, *, source_call: str | None = None,
                        message_id: str | None = None) -> Envelope:
        """Hand ``ticket`` to the other platform (一键转接, 三方通话, 系统推送): what may
        leave of it (a restricted case by its number only; never pushed)."""
        channel = self._on()
        body = boundary.outgoing_handover(ticket, mode, to_platform, source_call=source_call)
        self._to_peer(channel, to_platform)
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(handed_key(ticket.id), to_platform)
        pipe.expire(handed_key(ticket.id), TICKET_TTL_S)
        stage_case(pipe, ticket.id, "out", self._now())  # the exchanged cases: ours, handed out
        await pipe.execute()
        return await self._send(ticket.id, body, to_platform, boundary.returning_to(ticket, to_platform),
                                message_id)

    async def hand_over_call(self, ticket: Ticket, mode: Mode, to_platform: str, call_id: str) -> Envelope:
        """The handover of a one-click transfer or a three-way call of ``call_id``, queued
        as the agent asks for it (call control's ``HandoverChannel``). Its id follows from
        the call, so the same request again queues nothing new."""
        return await self.hand_over(ticket, mode, to_platform, source_call=call_id,
                                    message_id=call_handover_id(call_id, mode, to_platform))

    async def received(self, ticket: Ticket, peer: Peer, accepted_by: str, *,
                       message_id: str | None = None) -> Envelope:
        """签收: ``ticket`` is the one we opened for the peer's case; who accepted it."""
        await self._linked(ticket, peer)
        body = boundary.outgoing_received(ticket, accepted_by, self._now())
        return await self._send(ticket.id, body, peer.platform, peer.ticket, message_id)

    async def status(self, ticket: Ticket, peer: Peer, stage: Stage, *, unit: str | None = None,
                     detail: str = "", at: float | None = None, message_id: str | None = None) -> Envelope:
        """反馈回写 of ``ticket`` to the peer's ticket it came from."""
        await self._linked(ticket, peer)
        body = boundary.outgoing_status(ticket, stage, self._now() if at is None else at, unit=unit, detail=detail)
        return await self._send(ticket.id, body, peer.platform, peer.ticket, message_id)

    async def bounce(self, ticket: Ticket, peer: Peer, reason: str, *, message_id: str | None = None) -> Envelope:
        """回流: the case goes back to the peer, with why."""
        await self._linked(ticket, peer)
        return await self._send(ticket.id, boundary.outgoing_bounce(ticket, reason), peer.platform, peer.ticket,
                                message_id)

    async def supervise(self, ticket: Ticket, peer: Peer, note: str = "", due_at: float | None = None, *,
                        message_id: str | None = None) -> Envelope:
        """督办 of the case we handed to the peer."""
        await self._linked(ticket, peer)
        return await self._send(ticket.id, boundary.outgoing_supervise(ticket, note, due_at), peer.platform,
                                peer.ticket, message_id)

    @staticmethod
    def _to_peer(channel: Channel, to_platform: str) -> None:
        if to_platform != channel.peer_platform:
            raise NotSendable(f"this deployment's exchange channel goes to {channel.peer_platform}, "
                              f"not {to_platform}")

    async def _linked(self, ticket: Ticket, peer: Peer) -> None:
        """A message about a case both sides hold names a pair a handover (or its 签收) linked."""
        self._to_peer(self._on(), peer.platform)
        if not await self.audit.is_linked(ticket.id, peer.platform, peer.ticket):
            raise NotSendable(f"ticket {ticket.id} is not linked to {peer.platform}'s ticket {peer.ticket[:40]}: "
                              f"no handover joined them")

    async def _send(self, ticket_id: str, body: AnyBody, to_platform: str, peer_ticket: str | None,
                    message_id: str | None) -> Envelope:
        channel = self._on()
        envelope = await channel.outbox.enqueue(to_platform, ticket_id, body, peer_ticket=peer_ticket,
                                                now=self._now(), message_id=message_id)
        await self._note(ticket_id, envelope, f"exchange.sent.{envelope.type}",
                         Peer(to_platform, peer_ticket or ""))
        self._wake.set()
        return envelope

    async def _note(self, ticket_id: str, envelope: Envelope, name: str, peer: Peer) -> bool:
        """The message on our ticket's timeline, once (the applier may run again): whether
        it was written now."""
        once = noted_key(envelope.message_id)
        entry = entry_of(BusEvent(name, story_data(envelope, self._on().platform, peer)), self.clock())

        async def step(pipe: Pipeline) -> bool:
            if await pipe.exists(once):
                return False
            pipe.multi()
            pipe.set(once, "1", ex=TICKET_TTL_S)
            add_story_entry(pipe, ticket_id, story_leg(ticket_id), entry)
            return True

        return await transact(self.redis, [once], step)

    # --- the sender ----------------------------------------------------------------------

    async def send_once(self, now: float | None = None) -> int:
        """One round: the due heads (at most ``send_batch``), one attempt each, side by side
        (tickets never wait for each other). How many were attempted."""
        channel = self._on()
        if self.client is None:
            raise ConfigError("the exchange service was not started: no client to send with")
        at = self._now() if now is None else now
        heads = await channel.outbox.due(at, self.config.exchange_send_batch, self.config.exchange_lease_s)
        heads = [await self._as_shareable_now(head) for head in heads]
        results = await asyncio.gather(*(self._attempt(channel, head, at) for head in heads), return_exceptions=True)
        for head, result in zip(heads, results, strict=True):
            if isinstance(result, BaseException):  # the head comes due again when its lease runs out
                log.error("exchange.send_failed", message_id=head.message_id, ticket=head.ticket,
                          error=f"{type(result).__name__}: {result}"[:300])
        return len(heads)

    async def _as_shareable_now(self, envelope: Envelope) -> Envelope:
        """The head as it may leave now: a ticket flagged restricted after the message was
        queued sends its restricted form (same id and seq), never the content queued."""
        ticket = await self.tickets.get(envelope.ticket)
        if ticket is None:
            return envelope
        body = boundary.as_shareable_now(ticket, envelope.body)
        if body == envelope.body:
            return envelope
        log.info("exchange.sent_restricted", message_id=envelope.message_id, type=envelope.type,
                 ticket=envelope.ticket)
        return envelope.model_copy(update={"body": body})

    async def _attempt(self, channel: Channel, envelope: Envelope, now: float) -> None:
        assert self.client is not None
        try:
            delivery = await self.client.deliver(envelope)
        except ConfigError as exc:  # no key signs the direction: the operator fixes the secrets file
            delivery = wire.RetryLater("no_key", wire.KEY_RETRY_S, 0, str(exc), alert=True)
        self._learn(link.of_delivery(delivery, now))
        if isinstance(delivery, wire.Acked):
            await channel.outbox.acked(envelope, now=now, outcome=delivery.receipt.outcome.value)
        elif isinstance(delivery, wire.RetryLater):
            attempts = await channel.outbox.attempts(envelope.message_id) + 1
            await channel.outbox.retry_later(envelope, now, attempts, reason=delivery.reason,
                                             after_s=delivery.after_s)
            if delivery.alert:
                self._alert(envelope, delivery.reason, delivery.detail)
        else:
            await channel.outbox.rejected(envelope, f"{delivery.reason}: {delivery.detail}"[:300], now=now)
            self._alert(envelope, delivery.reason, f"queue stopped: {delivery.detail}")

    def _alert(self, envelope: Envelope, reason: str, detail: str) -> None:
        self.bus.emit(ExchangeAlert(ticket_id=envelope.ticket, site=envelope.from_platform,
                                    peer_platform=envelope.to_platform, reason=reason, detail=detail[:300]))

    # --- the link --------------------------------------------------------------------------

    def _learn(self, event: link.Event) -> None:
        """What an attempt, a probe or the outbox says of the link; a change of state is
        logged and announced on the bus (``exchange.link``)."""
        channel = self.channel
        if channel is None:
            return
        if not isinstance(event, link.Stopped):  # the peer said something (or nothing)
            self._learned_at = event.at if self._learned_at is None else max(self._learned_at, event.at)
        self.link, actions = link.step(self.link, event)
        for action in actions:
            now = action.link
            emit = log.info if now.state is link.LinkState.UP else log.warning
            emit("exchange.link_changed", state=now.state.value, previous=action.previous.value, error=now.error,
                 peer_platform=channel.peer_platform)
            self.bus.emit(ExchangeLinkChanged(site=channel.platform, peer_platform=channel.peer_platform,
                                              state=now.state.value, previous=action.previous.value,
                                              since=event.at if now.since is None else now.since, error=now.error))

    async def probe_once(self, now: float | None = None) -> link.LinkState:
        """One signed probe of the peer's server (``wire.HELLO_PATH``), learned as an
        attempt is: the link's state after it."""
        channel = self._on()
        prober = self.client if isinstance(self.client, Prober) else None
        if prober is None:
            raise ConfigError("the exchange service was not started: no client to probe with")
        at = self._now() if now is None else now
        try:
            outcome = await prober.probe(channel.platform, channel.peer_platform, at)
        except ConfigError as exc:  # no key signs the direction: the operator fixes the secrets file
            outcome = wire.RetryLater("no_key", wire.KEY_RETRY_S, 0, str(exc), alert=True)
        self._learn(link.of_probe(outcome, at))
        return self.link.state

    async def read_backlog(self, now: float | None = None) -> link.Backlog:
        """What waits on this deployment, read now; the stopped queues are learned (a
        resume, or another instance's refusal, changes them)."""
        channel = self._on()
        outgoing, oldest_at, stopped = await channel.outbox.waiting()
        incoming, dead = await channel.inbox.waiting()
        self.backlog = link.Backlog(outgoing, incoming, oldest_at, stopped, dead)
        self._learn(link.Stopped(self._now() if now is None else now, stopped))
        return self.backlog

    async def link_once(self, now: float | None = None) -> bool:
        """One round of the link loop: a probe if no attempt or probe said anything of the
        peer for ``exchange_probe_s`` (an empty outbox learns nothing from sending), then
        the backlog read again. Whether it probed."""
        self._on()
        at = self._now() if now is None else now
        due = self._learned_at is None or at - self._learned_at >= self.config.exchange_probe_s
        probed = due and isinstance(self.client, Prober)
        if probed:
            await self.probe_once(at)
        await self.read_backlog(at)
        return probed

    def link_state(self) -> dict[str, Any]:
        """The link as the status API shows it."""
        return {"state": self.link.state.value, "since": self.link.since, "error": self.link.error,
                "failures": self.link.failures}

    def view(self) -> dict[str, Any]:
        """The link and the backlog as last learned and read, without I/O: the supervisor
        page's panel (``oldest_at``: when the oldest waiting message was queued)."""
        channel = self.channel
        platform, peer = (channel.platform, channel.peer_platform) if channel is not None else (None, None)
        return {"enabled": channel is not None, "reason": self.off_reason, "platform": platform,
                "peer_platform": peer, "state": self.link.state.value, "since": self.link.since,
                "error": self.link.error, **link.counts(platform, peer, self.backlog),
                "oldest_at": self.backlog.oldest_at}

    # --- the applier ---------------------------------------------------------------------

    async def apply_once(self, block_ms: int = 0, *, idle_ms: int = CLAIM_IDLE_MS) -> int:
        """One round: the applied messages this consumer claims, each one's effect, then
        ``done``. An effect that fails, or a message about a pair not linked yet (its 签收
        may still be on another instance), leaves its entry pending: claimed again after
        ``idle_ms``, and the later entries of its stream in this batch wait with it (a
        ticket's messages act in order). After ``exchange_max_deliveries`` claims it is given up:
        refused, kept in the dead list, and an alert. How many were claimed."""
        channel = self._on()
        claimed = await channel.inbox.claim(self.consumer, APPLY_BATCH, block_ms, idle_ms=idle_ms)
        waiting: set[tuple[str, str]] = set()  # streams whose earlier entry is not done
        for entry_id, envelope in claimed:
            if envelope.stream in waiting:
                continue
            try:
                deferred = await self.apply(envelope)
            except RedisError:
                raise
            except Exception as exc:  # a bug or bad data: the others go on; this one is tried again later
                log.exception("exchange.apply_bug", entry_id=entry_id, message_id=envelope.message_id,
                              type=envelope.type)
                deferred = f"apply_failed: {type(exc).__name__}: {exc}"[:300]
            if deferred is None:
                await channel.inbox.done(entry_id)
                continue
            waiting.add(envelope.stream)
            if await channel.inbox.deliveries(entry_id) >= self.config.exchange_max_deliveries:
                await channel.inbox.give_up(entry_id, envelope, deferred, self.clock())
                self.bus.emit(ExchangeAlert(ticket_id=envelope.peer_ticket or envelope.ticket, site=channel.platform,
                                            peer_platform=envelope.from_platform, reason=deferred.split(":")[0],
                                            detail=f"message {envelope.message_id} given up: {deferred}"[:300]))
        return len(claimed)

    async def apply(self, envelope: Envelope) -> str | None:
        """The effect of one applied message on our side; idempotent on its message id.
        None once done; else why it waits (a pair not linked yet), to be tried again."""
        channel = self._on()
        if isinstance(envelope.body, HandoverBody):
            await self._take_handover(channel, envelope, envelope.body)
            return None
        assert envelope.peer_ticket is not None  # every type but a handover names our ticket
        peer = Peer(envelope.from_platform, envelope.ticket)
        if isinstance(envelope.body, ReceivedBody):
            linked = bool(await self.redis.sismember(handed_key(envelope.peer_ticket), envelope.from_platform))
            if linked:  # the peer's ticket for the case we handed over: its later messages are about ours
                await self.audit.link(peer.platform, peer.ticket, envelope.peer_ticket)
        else:
            linked = await self.audit.is_linked(envelope.peer_ticket, peer.platform, peer.ticket)
            if not linked and isinstance(envelope.body, StatusBody | BounceBody) \
                    and await self.redis.sismember(handed_key(envelope.peer_ticket), envelope.from_platform):
                # feedback on a case we handed over, before any 签收 (no agent signed for the
                # call): the signed message of the peer's ticket about ours links the pair
                await self.audit.link(peer.platform, peer.ticket, envelope.peer_ticket)
                linked = True
        if not linked:  # retryable: its 签收 may be applied later (another instance, a failed effect)
            log.warning("exchange.not_linked", message_id=envelope.message_id, type=envelope.type,
                        ticket=peer.ticket, peer_ticket=envelope.peer_ticket)
            return f"not_linked: no handover joined {peer.platform}'s {peer.ticket} to {envelope.peer_ticket}"
        fresh = await self._note(envelope.peer_ticket, envelope, f"exchange.received.{envelope.type}", peer)
        if fresh and isinstance(envelope.body, SuperviseBody):
            self.bus.emit(ExchangeAlert(ticket_id=envelope.peer_ticket, site=channel.platform,
                                        peer_platform=peer.platform, reason="supervise",
                                        detail=envelope.body.note or "督办"))
        log.info("exchange.applied", message_id=envelope.message_id, type=envelope.type,
                 ticket=envelope.peer_ticket, peer_ticket=peer.ticket)
        return None

    async def _take_handover(self, channel: Channel, envelope: Envelope, body: HandoverBody) -> None:
        """Open our ticket for the case, naming the source; link the peer's ticket to it;
        answer 签收 for a push (a call's is its agent's, when one takes it)."""
        if body.mode == "push":  # the same intake as today's push, idempotent on the push id
            ticket_id, _ = await self.push_service.receive(PushPayload(
                push_id=envelope.message_id, from_platform=envelope.from_platform,
                to_platform=envelope.to_platform, source_ticket=envelope.ticket, category=body.category,
                summary=body.summary, division_code=body.division_code, emergency=body.emergency,
                caller=body.caller, handling_unit="", bounced=envelope.peer_ticket is not None))
        else:
            ticket_id = await self._open(channel, envelope, body)
        # the signed handover proves the case was sent: intake links the call that follows
        await self.tickets.record_handover(envelope.ticket, channel.platform)
        pipe = self.redis.pipeline(transaction=True)
        self.audit.stage_link(pipe, envelope.from_platform, envelope.ticket, ticket_id)
        stage_case(pipe, ticket_id, "in", self._now())  # the exchanged cases: the peer's, taken in
        await pipe.execute()
        peer = Peer(envelope.from_platform, envelope.ticket)
        await self._note(ticket_id, envelope, "exchange.received.handover", peer)
        log.info("exchange.handover_taken", message_id=envelope.message_id, mode=body.mode, ticket=ticket_id,
                 peer_ticket=envelope.ticket, restricted=body.restricted)
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            return
        if body.mode == "push":
            await self.received(ticket, peer, SYSTEM, message_id=derived_id(envelope.message_id, "received"))
            return
        agent = as_str_or_none(await self.redis.get(signed_for_key(ticket_id)))
        if agent is not None:  # its call was answered before this message linked it
            await self._signed_for(ticket, peer, agent)

    async def _open(self, channel: Channel, envelope: Envelope, body: HandoverBody) -> str:
        """The ticket a handover by call opens here, or the one its call opened first: one
        per message id whatever reruns (``opened_key``), one per source case whichever road
        comes first (``opened_for_key``, claimed with the ticket saved, in one transaction)."""
        once, claim = opened_key(envelope.message_id), opened_for_key(envelope.from_platform, envelope.ticket)
        by_call = opened_by_call_key(envelope.from_platform, envelope.ticket)
        fresh = Ticket("", channel.platform, "", body.category, body.summary, envelope.from_platform,
                       self.clock(), envelope.ticket, body.caller, body.division_code, body.emergency,
                       body.restricted)
        numbered = _Numbered(self.tickets, channel.platform)
        unproven: list[str] = []  # a call's ticket this message does not complete

        async def step(pipe: Pipeline) -> str:
            unproven.clear()
            mine = as_str_or_none(await pipe.get(once))
            if mine is not None:
                return mine
            owner = as_str_or_none(await pipe.get(claim))
            if owner is not None and not call_proven_by(as_str_or_none(await pipe.get(by_call)), body.source_call):
                unproven.append(owner)  # a call naming another call of the case came first: not this one
                owner = None
            opened = owner or await numbered.id()  # a number only for a ticket really opened
            pipe.multi()
            pipe.set(once, opened, ex=TICKET_TTL_S)
            pipe.delete(by_call)  # the case's ticket is the message's word now: later calls join it
            if owner is None:
                pipe.set(claim, opened, ex=TICKET_TTL_S)
                self.tickets.stage_save(pipe, replace(fresh, id=opened))
            return opened

        ticket_id = await transact(self.redis, [once, claim, by_call], step)
        if unproven:
            log.warning("exchange.call_not_proven", message_id=envelope.message_id, peer_ticket=envelope.ticket,
                        call_ticket=unproven[0], ticket=ticket_id)
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:  # a ticket an older version claimed and died before saving
            await self.tickets.save(replace(fresh, id=ticket_id))
            return ticket_id
        changes = filled_by_handover(ticket, envelope.from_platform, envelope.ticket, body)
        if changes:  # the call came first: its ticket is the case's, and the message completes it
            await self.tickets.update(ticket, **changes)
            log.info("exchange.call_ticket_completed", message_id=envelope.message_id, ticket=ticket_id,
                     peer_ticket=envelope.ticket, fields=sorted(changes))
        return ticket_id

    # --- calls ---------------------------------------------------------------------------

    def receives_from(self, platform: str) -> bool:
        """Does a case handed over by ``platform`` come over this channel (the route hook's
        ``HandoverIntake``)?"""
        return self.channel is not None and platform == self.channel.peer_platform

    async def take_call(self, site: str, call_id: str, source_platform: str, source_ticket: str,
                        category: str, summary: str, source_call: str = "") -> Ticket | None:
        """The ticket of a call the other platform transferred here with ``X-Ticket-Id``:
        the one its handover message opened, if it came first; else a new one that the
        message, when it comes, completes if it hands over the same call (``source_call``,
        from ``X-Ticket-Call``). None when the headers name no case of the peer (the route
        hook then opens a ticket as it always did)."""
        channel = self.channel
        if channel is None or source_platform != channel.peer_platform \
                or ticket_platform(source_ticket) != source_platform:
            return None
        existing = await self.tickets.for_call(call_id)
        if existing is not None:  # a second round of the same call
            return existing
        claim, of_call = opened_for_key(source_platform, source_ticket), call_ticket_key(call_id)
        by_call = opened_by_call_key(source_platform, source_ticket)
        # the headers are the other side's word: the source is linked once its signed
        # handover came (it records it), else the message links it when it comes
        proven = await self.tickets.handover_was_sent(source_ticket, channel.platform)
        fresh = Ticket("", site, call_id, category, summary, source_platform, self.clock(),
                       source_ticket if proven else "")
        numbered = _Numbered(self.tickets, site)

        async def step(pipe: Pipeline) -> tuple[str, bool]:
            taken = as_str_or_none(await pipe.get(of_call))
            if taken is not None:
                return taken, False
            owner = as_str_or_none(await pipe.get(claim))
            joined = owner or await numbered.id()
            pipe.multi()
            if owner is None:
                pipe.set(claim, joined, ex=TICKET_TTL_S)
                if source_call:
                    pipe.set(by_call, source_call, ex=TICKET_TTL_S)
                self.tickets.stage_save(pipe, replace(fresh, id=joined))
                # the exchanged cases: in from the call's time; its handover, when it comes,
                # proves the source (the case's peer ticket and mode come from that message)
                stage_case(pipe, joined, "in", self._now())
            self.tickets.stage_call(pipe, call_id, joined)
            return joined, owner is None

        ticket_id, opened = await transact(self.redis, [claim, of_call], step)
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:  # a claim an older version made and died before saving: what we know
            ticket = replace(fresh, id=ticket_id)
        log.info("exchange.call_taken", call_id=call_id, ticket=ticket_id, peer_ticket=source_ticket,
                 source_call=source_call, opened=opened, proven=proven)
        return ticket

    async def sign_for(self, event: BusEvent) -> Envelope | None:
        """签收 by the agent: the first answer of a call whose ticket came by handover over
        the channel sends ``received`` naming that agent, once per ticket. Answered before
        the handover message linked the ticket, the agent is kept and the 签收 goes when it
        does (``_take_handover``). None for any other call, or when nothing went now."""
        if self.channel is None or not event.is_(CallAnswered):
            return None
        answered = event.as_(CallAnswered)
        agent = agent_of(answered.answered_by)
        if agent is None:
            return None
        ticket = await self.tickets.for_call(answered.call_id)
        if ticket is None or ticket.source_platform != self.channel.peer_platform:
            return None
        key = signed_for_key(ticket.id)
        if not await self.redis.set(key, agent, nx=True, ex=TICKET_TTL_S):
            agent = as_str_or_none(await self.redis.get(key)) or agent  # the first answer signs
        # read again after the agent is kept: a handover that completed the ticket before
        # that read missed the agent, so it is this answer's to send (the same id if both do)
        ticket = await self.tickets.get(ticket.id) or ticket
        if not ticket.source_ticket:
            return None  # the call came first: its handover, when it links, sends the 签收
        return await self._signed_for(ticket, Peer(ticket.source_platform, ticket.source_ticket), agent)

    async def _signed_for(self, ticket: Ticket, peer: Peer, agent: str) -> Envelope | None:
        if not await self.audit.is_linked(ticket.id, *peer):
            return None
        envelope = await self.received(ticket, peer, agent, message_id=signed_for_id(ticket.id, *peer))
        log.info("exchange.signed_for", ticket=ticket.id, peer_ticket=peer.ticket, agent=agent,
                 message_id=envelope.message_id)
        return envelope

    async def _sign_for(self, event: BusEvent) -> None:
        await self.sign_for(event)

    # --- write-back ----------------------------------------------------------------------

    async def write_back(self, event: BusEvent) -> Envelope | None:
        """反馈回写: a linkage step on one of our tickets that came by handover goes to the
        sender's ticket as a ``status`` message. None for any other ticket or event."""
        feedback = feedback_of(event, self.unit_name)
        if feedback is None or self.channel is None:
            return None
        ticket = await self.tickets.get(feedback.ticket_id)
        if ticket is None or not ticket.source_ticket or ticket.source_platform != self.channel.peer_platform:
            return None
        peer = Peer(ticket.source_platform, ticket.source_ticket)
        if not await self.audit.is_linked(ticket.id, *peer):
            return None  # a case pushed or transferred the old way: no exchange stream to write to
        return await self.status(ticket, peer, feedback.stage, unit=feedback.unit, detail=feedback.detail,
                                 at=feedback.at)

    async def _write_back(self, event: BusEvent) -> None:
        await self.write_back(event)

    async def ask_police(self, event: BusEvent) -> Envelope | None:
        """联动110: a handling unit asked for the police on one of our 12345 tickets
        (``linkage.police_requested``): the ticket goes to 110 as a system push (系统推送),
        once per ticket (the message id follows from it). None on a deployment that is not
        12345's with 110 as its peer, for a ticket not found, or for a restricted one
        (never handed over; the linkage refuses those before they get here)."""
        asked = event.as_(LinkagePoliceRequested)
        channel = self.channel
        if channel is None or channel.platform != "12345" or channel.peer_platform != "110":
            return None
        ticket = await self.tickets.get(asked.ticket_id)
        if ticket is None or ticket.restricted or ticket.site != channel.platform:
            return None
        return await self.hand_over(ticket, "push", "110", message_id=derived_id(ticket.id, "ask_police:110"))

    async def _ask_police(self, event: BusEvent) -> None:
        await self.ask_police(event)

    # --- operating it --------------------------------------------------------------------

    async def state(self) -> dict[str, Any]:
        """For supervisors: where the channel stands (``GET /api/exchange/v1/status``): the
        link as this server instance sees it, the backlog as read now."""
        now = self._now()
        if self.channel is None:
            return {"enabled": False, "reason": self.off_reason, "platform": None, "peer_platform": None,
                    "peer_url": None, "backlog": 0, "stopped": [], "dead": [], "link": self.link_state(),
                    **link.figures(None, None, link.NO_BACKLOG, now)}
        backlog = await self.read_backlog(now)
        dead = await self.channel.inbox.dead()
        return {"enabled": True, "reason": "", "platform": self.channel.platform,
                "peer_platform": self.channel.peer_platform, "peer_url": self.channel.peer_url,
                "backlog": backlog.outgoing, "stopped": await self.channel.outbox.stopped(),
                "dead": [{"entry_id": str(row.get("entry_id", "")), "reason": str(row.get("reason", ""))}
                         for row in dead],
                "link": self.link_state(),
                **link.figures(self.channel.platform, self.channel.peer_platform, backlog, now)}

    async def resume(self, to_platform: str, ticket_id: str) -> bool:
        """An operator mended why a ticket's queue stopped: its head goes again now."""
        channel = self._on()
        resumed = await channel.outbox.resume(to_platform, ticket_id, now=self._now())
        if resumed:
            self._wake.set()
            await self.read_backlog()  # one queue fewer stopped: the link may be up again
        return resumed

    async def skip(self, to_platform: str, ticket_id: str) -> str | None:
        """An operator voids the head of a ticket's stopped queue, a message the peer can
        never take: the queue goes on without it. The voided message's id, or None."""
        channel = self._on()
        voided = await channel.outbox.skip(to_platform, ticket_id, now=self._now())
        if voided is not None:
            self._wake.set()
            await self.read_backlog()
        return voided

    def attach_states(self, states: DispatchStates, unit_name: Callable[[str], str | None] | None = None) -> None:
        """The closed loop's states of our tickets (the linkage plugin's dispatch records):
        the cases' ``status`` from now on; and its units' names, which feedback carries."""
        self.cases.states = states
        if unit_name is not None:
            self.unit_name = unit_name

    def exchanged_cases(self) -> CaseIndex:
        """The index of the cases exchanged with the other platform (``ChannelOff`` when the
        channel does not run here)."""
        self._on()
        return self.cases

    async def story(self, ticket_id: str) -> list[dict[str, Any]]:
        """The ticket's exchange steps as its timeline holds them (for tests and dev tools)."""
        rows = as_str_entries(await self.redis.xrange(timeline_call_key(story_leg(ticket_id))))
        return [{"id": rid, **fields} for rid, fields in rows]

    # --- the loops -----------------------------------------------------------------------

    async def start(self) -> None:
        """The sender, the applier, the link loop, the write-back consumer and the cases'
        backfill (nothing when off)."""
        channel = self.channel
        if channel is None:
            return
        if self.client is None:
            self._session = aiohttp.ClientSession()
            self.client = ExchangeClient(self._session, channel.peer_url + wire.MESSAGES_PATH, channel.keyring,
                                         allow_http_loopback=self.config.exchange_allow_http_loopback,
                                         timeout_s=self.config.exchange_timeout_s)
        with contextlib.suppress(RedisError, OSError):  # else the applier makes it on its first claim
            await channel.inbox.ensure_group()
        self._tasks = [asyncio.create_task(self._loop("sender", self._send_round), name="exchange-sender"),
                       asyncio.create_task(self._loop("applier", self._apply_round), name="exchange-applier"),
                       asyncio.create_task(self._loop("link", self._link_round), name="exchange-link"),
                       asyncio.create_task(self._backfill_cases(), name="exchange-cases-backfill")]
        for worker in (self._events, self._answers, self._police):
            if worker is not None:
                worker.start()
        log.info("exchange.started", platform=channel.platform, peer_platform=channel.peer_platform,
                 peer_url=channel.peer_url)

    async def stop(self) -> None:
        for worker in (self._events, self._answers, self._police):
            if worker is not None:
                await worker.stop(drain_s=2.0)
        await cancel_and_wait(self._tasks)
        self._tasks = []
        if self._session is not None:
            await self._session.close()
            self._session = None
            self.client = None

    async def _backfill_cases(self) -> None:
        """The cases exchanged before the index, entered once per deployment
        (``case_backfill``) beside the loops, so start waits for none of it. Redis away is
        waited out; a bug is logged and the pass left for ``hotline-link backfill-cases``."""
        failures = 0
        while True:
            try:
                await self.backfill.run_once()
                return
            except (RedisError, OSError) as exc:
                failures += 1
                log.warning("exchange.cases_backfill_failed", error=str(exc)[:300], failures=failures)
                await asyncio.sleep(min(MAX_IDLE_BACKOFF_S, backoff_s(failures)))
            except Exception:
                log.exception("exchange.cases_backfill_bug")
                return

    async def _send_round(self) -> None:
        self._wake.clear()  # an enqueue during the round wakes the next one at once
        if not await self.send_once():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)

    async def _apply_round(self) -> None:
        await self.apply_once(CLAIM_BLOCK_MS)

    async def _link_round(self) -> None:
        await self.link_once()
        await asyncio.sleep(FIGURES_S)

    @staticmethod
    async def _loop(name: str, step: Callable[[], Any]) -> None:
        """``step`` forever: Redis or the network away is logged and waited out (a growing
        back-off), a bug logged with its traceback; neither ends the loop."""
        failures = 0
        while True:
            try:
                await step()
                failures = 0
            except (RedisError, OSError) as exc:
                failures += 1
                log.warning(f"exchange.{name}_failed", error=str(exc)[:300], failures=failures)
                await asyncio.sleep(min(MAX_IDLE_BACKOFF_S, backoff_s(failures)))
            except Exception:
                failures += 1
                log.exception(f"exchange.{name}_bug", failures=failures)
                await asyncio.sleep(min(MAX_IDLE_BACKOFF_S, backoff_s(failures)))
