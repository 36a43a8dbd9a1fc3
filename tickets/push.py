"""System push (系统推送): a ticket goes to the other platform without a call, and tickets
pushed by the other platform come in. Sending goes through the outbox (at-least-once);
receiving is idempotent on ``push_id``, so a retried push never makes a second ticket."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import structlog
from redis.asyncio import Redis

from hotline_link.core.bus import EventBus
from hotline_link.core.events import TicketPushedIn
from hotline_link.core.redis_client import as_str
from hotline_link.core.settings import Settings, push_secret_key
from tickets.errors import TicketNotFound
from tickets.outbox import Outbox
from tickets.push_policy import BadPush, PushPayload, plan_push
from tickets.redis_keys import OUTBOX_DEAD, push_received_key, push_saving_key, push_stats_key
from tickets.store import TICKET_TTL_S, Ticket, TicketStore

log = structlog.get_logger(__name__)

SAVE_LEASE_S = 30  # a try saving a received push's ticket; one that died holds it this long
STATS = ("pushed", "received", "bounced_out", "bounced_in", "duplicates")


class PushChannel(Protocol):
    """Another road for a push: the exchange channel to the other deployment, which the
    exchange plugin attaches when this deployment runs one. A push it ``carries`` goes over
    it (signed, ordered, acknowledged) instead of the push outbox; the rules and the
    counts stay this service's."""

    def carries(self, to_platform: str) -> bool: ...

    async def push(self, ticket: Ticket, payload: PushPayload) -> None: ...


class PushService:
    def __init__(self, settings: Settings, tickets: TicketStore, outbox: Outbox, redis: Redis,
                 bus: EventBus) -> None:
        self.settings = settings
        self.tickets = tickets
        self.outbox = outbox
        self.redis = redis
        self.bus = bus
        self.channel: PushChannel | None = None

    def attach_channel(self, channel: PushChannel) -> None:
        """Pushes to the platforms ``channel`` carries go over it from now on."""
        self.channel = channel

    async def _count(self, stat: str, platform: str) -> None:
        await self.redis.hincrby(push_stats_key(platform), stat, 1)

    async def push(self, ticket_id: str, target: str) -> PushPayload:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            raise TicketNotFound(f"no ticket {ticket_id}")
        payload = plan_push(ticket, target)
        over = "exchange" if self.channel is not None and self.channel.carries(target) else "outbox"
        if self.channel is not None and over == "exchange":
            await self.channel.push(ticket, payload)
        else:
            url = self.settings.push_targets.get(target)
            if not url:
                raise BadPush(f"no push URL is configured for platform {target} (push_targets)")
            await self.outbox.enqueue(payload.push_id, url, payload.as_json(),
                                      secret_ref=push_secret_key(payload.from_platform, payload.to_platform))
        await self._count("pushed", payload.from_platform)
        if payload.bounced:
            await self._count("bounced_out", payload.from_platform)
        log.info("push.queued", ticket_id=ticket_id, push_id=payload.push_id, target=target,
                 bounced=payload.bounced, over=over)
        return payload

    async def receive(self, payload: PushPayload) -> tuple[str, bool]:
        """(this platform's ticket id, whether the push had been received before). One try
        claims the push id; the ticket is saved under a lease per push id, so a claim whose
        ticket was never saved (a try that died between the two) is saved by the next try,
        and two tries racing (a retry overtaking a slow first try, two instances) save once."""
        key = push_received_key(payload.push_id)
        existing = await self.redis.get(key)
        if existing is None:
            ticket_id = await self.tickets.new_id(payload.to_platform)
            if await self.redis.set(key, ticket_id, nx=True, ex=TICKET_TTL_S):
                return ticket_id, not await self._save_once(payload, ticket_id)
            existing = await self.redis.get(key)
        if existing is not None and await self.tickets.get(str(existing)) is None \
                and await self._save_once(payload, str(existing)):
            return str(existing), False
        await self._count("duplicates", payload.to_platform)
        return str(existing), True

    async def received_tickets(self, push_ids: Sequence[str]) -> dict[str, str]:
        """This platform's ticket of each received push of ``push_ids`` still known (kept as
        long as tickets), in one round trip."""
        if not push_ids:
            return {}
        found = await self.redis.mget([push_received_key(push_id) for push_id in push_ids])
        return {push_id: as_str(ticket_id) for push_id, ticket_id in zip(push_ids, found, strict=True) if ticket_id}

    async def _save_once(self, payload: PushPayload, ticket_id: str) -> bool:
        """Save the push's ticket unless another try holds the lease or has saved it: whether
        this try did. A try whose save fails gives the lease back, so a retry need not wait
        ``SAVE_LEASE_S``; one that dies holds it that long."""
        lease = push_saving_key(payload.push_id)
        if not await self.redis.set(lease, "1", nx=True, ex=SAVE_LEASE_S):
            return False
        try:
            if await self.tickets.get(ticket_id) is not None:
                return False
            await self._store(payload, ticket_id)
            return True
        except BaseException:
            await self.redis.delete(lease)
            raise

    async def _store(self, payload: PushPayload, ticket_id: str) -> None:
        ticket = Ticket(ticket_id, payload.to_platform, "", payload.category, payload.summary,
                        payload.from_platform, time.time(), payload.source_ticket, payload.caller,
                        payload.division_code, payload.emergency, False, payload.handling_unit)
        await self.tickets.save(ticket)
        await self._count("received", payload.to_platform)
        if payload.bounced:
            await self._count("bounced_in", payload.to_platform)
        log.info("ticket.pushed_in", ticket_id=ticket_id, source_ticket=payload.source_ticket,
                 source=payload.from_platform, bounced=payload.bounced, emergency=payload.emergency)
        self.bus.emit(TicketPushedIn(ticket_id=ticket_id, site=payload.to_platform,
                                     source_ticket=payload.source_ticket, source_platform=payload.from_platform,
                                     bounced=payload.bounced))

    async def stats(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for platform in ("12345", "110"):
            row = await self.redis.hgetall(push_stats_key(platform))
            out[platform] = {stat: int(row.get(stat, 0)) for stat in STATS}
        out["outbox_pending"] = await self.outbox.pending()
        out["dead_letters"] = int(await self.redis.hlen(OUTBOX_DEAD))
        return out
