"""Repeat calls (重复报警/重复诉求) and joint handling (双哨联办) over Redis: a call from
the number of an open ticket, or a dispatch about the same place and category, within the
window is linked to that ticket (on its timeline, in the report) and counted; reaching the
threshold flags the ticket for joint handling once. The rules are ``linkage.repeats``;
whether a ticket is still open, the lifecycle (``linkage.lifecycle``).
"""

from __future__ import annotations

import structlog
from redis.asyncio import Redis

from hotline_link.core.events import LinkageJoint, LinkageRepeat
from hotline_link.core.redis_client import as_str_or_none
from linkage.deadlines import DeadlineStore
from linkage.journal import Clock, Journal
from linkage.policy import LinkageConfig
from linkage.records import DispatchRecords
from linkage.redis_keys import LinkageKeys
from linkage.repeats import crosses_threshold
from tickets.store import TICKET_TTL_S, Ticket, TicketStore

log = structlog.get_logger(__name__)


class RepeatCalls:
    def __init__(self, redis: Redis, keys: LinkageKeys, records: DispatchRecords, tickets: TicketStore,
                 journal: Journal, deadlines: DeadlineStore, *, config: LinkageConfig, centers: frozenset[str],
                 clock: Clock) -> None:
        self.redis = redis
        self.keys = keys
        self.records = records
        self.tickets = tickets
        self.journal = journal
        self.deadlines = deadlines
        self.config = config
        self.centers = centers
        self.clock = clock

    async def count(self, ticket_id: str) -> int:
        """The repeat calls linked to the ticket."""
        return int(await self.redis.hget(self.keys.repeat_count(ticket_id), "repeats") or 0)

    async def _is_open(self, ticket_id: str) -> bool:
        if await self.tickets.get(ticket_id) is None:
            return False
        return (await self.records.loop(ticket_id)).state.open

    async def _link(self, open_ticket: str, basis: str, call_id: str = "", new_ticket: str = "") -> None:
        count_key = self.keys.repeat_count(open_ticket)
        after = int(await self.redis.hincrby(count_key, "repeats", 1))
        await self.redis.expire(count_key, TICKET_TTL_S)
        if call_id:  # the repeat call shows on the open ticket's timeline
            await self.tickets.add_call(open_ticket, call_id)
        ticket = await self.tickets.get(open_ticket)
        site = ticket.site if ticket else ""
        unit = await self.records.unit(open_ticket)  # the report counts repeats per unit
        await self.journal.record(LinkageRepeat(ticket_id=open_ticket, basis=basis, call_id=call_id or None,
                                                new_ticket=new_ticket or None, repeats=after, site=site, unit=unit))
        if crosses_threshold(after - 1, after, self.config.repeat_threshold) and \
                await self.redis.hsetnx(count_key, "joint", "1"):
            await self.deadlines.flag(open_ticket, {"flag": "joint", "calls": after + 1, "at": self.clock()})
            await self.journal.record(LinkageJoint(ticket_id=open_ticket, calls=after + 1, site=site, unit=unit))
            log.warning("linkage.joint", ticket_id=open_ticket, calls=after + 1)

    async def on_call_answered(self, site: str, call_id: str, caller: str) -> None:
        key = self.keys.repeat_number(site, caller)
        if key is None or site not in self.centers:
            return
        own = await self.tickets.open_for_call(site, call_id, caller=caller)
        earlier = as_str_or_none(await self.redis.get(key))
        if earlier and earlier != own.id and await self._is_open(earlier):
            await self._link(earlier, "number", call_id, own.id)
        else:
            await self.redis.set(key, own.id, ex=int(self.config.repeat_window_s))

    async def on_dispatched(self, ticket: Ticket) -> None:
        """A case about the place and category of an open ticket is linked to it."""
        key = self.keys.repeat_place(ticket.site, ticket.division_code, ticket.category)
        if key is None:
            return
        earlier = as_str_or_none(await self.redis.get(key))
        if earlier and earlier != ticket.id and await self._is_open(earlier):
            await self._link(earlier, "place", new_ticket=ticket.id)
        elif not earlier or earlier != ticket.id:
            await self.redis.set(key, ticket.id, ex=int(self.config.repeat_window_s))
