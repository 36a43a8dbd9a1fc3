"""Tickets in Redis, and which call belongs to which ticket.

Keys: ``hl:ticket:{id}`` (hash of the ticket's fields), ``hl:call-ticket:{call_id}`` (the
ticket of a call), ``hl:ticket-seq:{site}:{yyyymmdd}`` (the day's counter per platform),
``hl:number-tickets:{site}:{digest}`` (a caller number's tickets, ``tickets.number_history``),
all built in ``tickets.redis_keys``.
A ticket id reads ``12345-20261124-000017``: platform, day, sequence. The day is the
hotlines' own (Asia/Shanghai, as the report's days), whatever zone the server's machine
runs in: a ticket opened at 07:00 in Beijing is dated that day, not the UTC day before.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from hotline_link.core.redis_client import as_str_hash, as_str_or_none
from hotline_link.core.zone import HOTLINE_ZONE
from tickets.number_history import NumberHistory, stage_ticket
from tickets.redis_keys import (
    TICKET_KEY_PATTERN,
    call_ticket_key,
    handed_over_key,
    handover_sent_key,
    ticket_calls_key,
    ticket_key,
    ticket_seq_key,
    ticket_time_key,
)

TICKET_TTL_S = 400 * 24 * 3600  # kept a little over a year, for the yearly review


@dataclass(frozen=True)
class Ticket:
    id: str
    site: str  # the platform that owns the ticket (12345 or 110)
    call_id: str  # the call that opened it
    category: str = ""
    summary: str = ""
    source_platform: str = ""  # the platform that handed the case over, if any
    created_at: float = 0.0
    source_ticket: str = ""  # that platform's ticket id
    caller: str = ""  # stored as given; every log and HTTP answer masks it
    division_code: str = ""  # 行政区划代码 (6 digits)
    emergency: bool = False
    restricted: bool = False  # 涉密、涉稳、涉恐、涉案...: never shared with the other platform
    handling_unit: str = ""
    # a ticket opened without a call (tickets.intake): the channel it came by (web, sms,
    # app, wechat; "" for a call or a push), the connected system or agent that delivered
    # it, when the channel got it, and the channel's own message id
    channel: str = ""
    channel_source: str = ""
    received_at: float = 0.0
    external_id: str = ""
    severity: str = "normal"  # normal or major (重大: leadership is told when it is dispatched)
    tags: tuple[str, ...] = ()  # 专题/标签 agents and supervisors set (stored as a JSON list)

    @property
    def room(self) -> str:
        """The ConfBridge room of this ticket's three-way call (dialplan pattern ``_hl.``)."""
        return "hl" + "".join(ch for ch in self.id if ch.isdigit())


TICKET_ID = re.compile(r"(?P<site>[0-9A-Za-z]{1,16})-(?P<day>[0-9]{8})-(?P<seq>[0-9]{6,9})")


def ticket_platform(ticket_id: str) -> str | None:
    """The platform a well-formed ticket id names (``110-20261206-000001`` -> ``110``)."""
    match = TICKET_ID.fullmatch(ticket_id)
    return match.group("site") if match else None


def ticket_day(now: float, zone: ZoneInfo = HOTLINE_ZONE) -> str:
    """The day part of a ticket id opened at ``now``."""
    return dt.datetime.fromtimestamp(now, zone).strftime("%Y%m%d")


def _ticket_of(row: dict[str, str]) -> Ticket | None:
    """A ticket from its stored hash (None for no hash)."""
    if not row:
        return None
    known = {f.name for f in fields(Ticket)}
    values: dict[str, Any] = {k: v for k, v in row.items() if k in known}
    for moment in ("created_at", "received_at"):
        values[moment] = float(row.get(moment, 0) or 0)
    for flag in ("emergency", "restricted"):
        values[flag] = row.get(flag) == "True"
    values["severity"] = row.get("severity") or "normal"  # a ticket stored before severity
    values["tags"] = tags_of_stored(row.get("tags", ""))
    return Ticket(**values)


def tags_of_stored(raw: str) -> tuple[str, ...]:
    """A ticket's tags from their stored JSON list (nothing for a ticket stored before tags,
    or a value that is not a list of text)."""
    if not raw:
        return ()
    try:
        value = json.loads(raw)
    except ValueError:
        return ()
    return tuple(t for t in value if isinstance(t, str)) if isinstance(value, list) else ()


def _stored(name: str, value: Any) -> str:
    return json.dumps(list(value), ensure_ascii=False) if name == "tags" else str(value)


def indexed_at(ticket: Ticket) -> float:
    """A ticket's moment in the time index: when the channel got it, else its opening."""
    return ticket.received_at or ticket.created_at


class TicketStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.history = NumberHistory(redis)

    async def _next_id(self, site: str, now: float) -> str:
        day = ticket_day(now)
        key = ticket_seq_key(site, day)
        pipe = self.redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, 3 * 24 * 3600)
        seq, _ = await pipe.execute()
        return f"{site}-{day}-{seq:06d}"

    async def open_for_call(self, site: str, call_id: str, *, ticket_id: str = "",
                            category: str = "", summary: str = "", source_platform: str = "",
                            source_ticket: str = "", caller: str = "",
                            now: float | None = None) -> Ticket:
        """The call's ticket: the existing one, else a new one (with ``ticket_id`` if the
        agent supplied one). A case handed over by the other platform gets a ticket of this
        platform that names the other's (``source_ticket``)."""
        existing = await self.for_call(call_id)
        if existing is not None:
            if caller and not existing.caller:  # e.g. a case handed over by a call: its ticket names no caller
                await self._note_caller(existing, caller)
            return existing
        now = time.time() if now is None else now
        ticket = Ticket(ticket_id or await self._next_id(site, now), site, call_id, category,
                        summary, source_platform, now, source_ticket, caller)
        # link first, NX: of two server instances opening a ticket for one call, one wins
        if not await self.redis.set(call_ticket_key(call_id), ticket.id, nx=True, ex=TICKET_TTL_S):
            return await self.for_call(call_id) or ticket
        await self.save(ticket)
        return ticket

    async def open_without_call(self, ticket: Ticket, *, claim: str = "",
                                stage: Callable[[Pipeline, Ticket], None] | None = None) -> tuple[Ticket, bool]:
        """Open ``ticket`` (built with ``new_id``; its ``call_id`` empty), a case that came by
        no call (a web form, an SMS...): (the ticket, whether this call opened it). With
        ``claim`` (a key of ``tickets.redis_keys``), at most one ticket is ever opened per
        claim: the claim and the ticket are written in one transaction, so a retry finds
        the first ticket, whole, and opens none. ``stage`` queues more writes in the same
        transaction (the ticket's first story entry)."""
        if ticket.call_id:
            raise ValueError(f"ticket {ticket.id} names call {ticket.call_id}: use open_for_call")
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    if claim:
                        await pipe.watch(claim)
                        first = as_str_or_none(await pipe.get(claim))
                        if first is not None:
                            existing = await self.get(first)
                            if existing is not None:
                                await pipe.reset()
                                return existing, False
                            # a claim whose ticket expired or was removed: opened again
                        pipe.multi()
                        pipe.set(claim, ticket.id, ex=TICKET_TTL_S)
                    self.stage_save(pipe, ticket)
                    if stage is not None:
                        stage(pipe, ticket)
                    await pipe.execute()
                    return ticket, True
                except WatchError:  # another try claimed it meanwhile: read its ticket
                    continue

    async def claimed(self, claim: str) -> Ticket | None:
        """The ticket ``open_without_call`` opened under ``claim``, if any (and still kept)."""
        ticket_id = as_str_or_none(await self.redis.get(claim))
        return await self.get(ticket_id) if ticket_id else None

    async def _note_caller(self, ticket: Ticket, caller: str) -> None:
        """A call of ``caller`` joined ``ticket``: the ticket is among the number's."""
        pipe = self.redis.pipeline(transaction=False)
        stage_ticket(pipe, ticket.site, caller, ticket.id, ticket.created_at)
        await pipe.execute()

    async def save(self, ticket: Ticket) -> None:
        pipe = self.redis.pipeline()
        self.stage_save(pipe, ticket)
        await pipe.execute()

    @staticmethod
    def stage_save(pipe: Pipeline, ticket: Ticket) -> None:
        """``save`` queued on ``pipe``: for a caller that saves a ticket in the same
        transaction as its own keys (the exchange's claim of a handed-over case)."""
        key = ticket_key(ticket.id)
        pipe.hset(key, mapping={k: _stored(k, v) for k, v in asdict(ticket).items()})
        pipe.expire(key, TICKET_TTL_S)
        # the time index (analysis reads a range of it): a re-save keeps the same score; what
        # is older than a ticket's lifetime before this one is dropped
        at, index = indexed_at(ticket), ticket_time_key(ticket.site)
        pipe.zadd(index, {ticket.id: at})
        pipe.zremrangebyscore(index, "-inf", f"({at - TICKET_TTL_S}")
        pipe.expire(index, TICKET_TTL_S)
        if ticket.caller:
            stage_ticket(pipe, ticket.site, ticket.caller, ticket.id, ticket.created_at)
        if ticket.source_ticket:  # so the source ticket's story includes what came of it here
            pipe.sadd(handed_over_key(ticket.source_ticket), ticket.id)
            pipe.expire(handed_over_key(ticket.source_ticket), TICKET_TTL_S)

    @staticmethod
    def stage_call(pipe: Pipeline, call_id: str, ticket_id: str) -> None:
        """Queued on ``pipe``: ``call_id`` is a call of ``ticket_id`` (its ticket, and among
        the ticket's calls), for a call that joins a ticket opened before it."""
        pipe.set(call_ticket_key(call_id), ticket_id, ex=TICKET_TTL_S)
        pipe.sadd(ticket_calls_key(ticket_id), call_id)
        pipe.expire(ticket_calls_key(ticket_id), TICKET_TTL_S)

    async def record_handover(self, ticket_id: str, to_platform: str) -> None:
        """The sending side notes that it handed ``ticket_id`` to ``to_platform`` (by a
        transfer or a three-way call), so the receiver links only cases really sent."""
        key = handover_sent_key(ticket_id)
        pipe = self.redis.pipeline()
        pipe.sadd(key, to_platform)
        pipe.expire(key, TICKET_TTL_S)
        await pipe.execute()

    async def handover_was_sent(self, ticket_id: str, to_platform: str) -> bool:
        return bool(await self.redis.sismember(handover_sent_key(ticket_id), to_platform))

    async def get(self, ticket_id: str) -> Ticket | None:
        return _ticket_of(as_str_hash(await self.redis.hgetall(ticket_key(ticket_id))))

    async def get_many(self, ticket_ids: Sequence[str]) -> dict[str, Ticket]:
        """The tickets of ``ticket_ids`` that exist, by id, read in one round trip (a page
        of a list)."""
        pipe = self.redis.pipeline(transaction=False)
        for ticket_id in ticket_ids:
            pipe.hgetall(ticket_key(ticket_id))
        found = {}
        for ticket_id, raw in zip(ticket_ids, await pipe.execute(), strict=True):
            ticket = _ticket_of(as_str_hash(raw))
            if ticket is not None:
                found[ticket_id] = ticket
        return found

    async def for_call(self, call_id: str) -> Ticket | None:
        ticket_id = as_str_or_none(await self.redis.get(call_ticket_key(call_id)))
        return await self.get(ticket_id) if ticket_id else None

    async def add_call(self, ticket_id: str, call_id: str) -> None:
        """List a call among the ticket's calls, so the ticket's timeline tells its story too
        (e.g. a repeat call about an open case)."""
        await self.redis.sadd(ticket_calls_key(ticket_id), call_id)

    async def update(self, ticket: Ticket, **changes: Any) -> Ticket:
        """Change some fields (None means: leave as it is)."""
        changed = replace(ticket, **{k: v for k, v in changes.items() if v is not None})
        await self.save(changed)
        return changed

    async def ids_between(self, site: str, start: float, end: float) -> list[str]:
        """The ids of ``site``'s tickets that came in within [start, end), oldest first (the
        time index)."""
        found = await self.redis.zrangebyscore(ticket_time_key(site), start, f"({end}")
        return [str(m) for m in found]

    async def index_existing(self, batch: int = 500) -> int:
        """Put tickets saved before the time index existed into it (ZADD NX: an indexed one
        keeps its score): a SCAN over every ticket's hash in batches. How many were read."""
        read = 0
        async for keys in self._scan_batches(batch):
            pipe = self.redis.pipeline(transaction=False)
            for key in keys:
                pipe.hmget(key, "id", "site", "received_at", "created_at")
            rows = await pipe.execute()
            pipe = self.redis.pipeline(transaction=False)
            for ticket_id, site, received, created in rows:
                if not ticket_id or not site:
                    continue
                try:
                    at = float(received or 0) or float(created or 0)
                except ValueError:
                    continue
                pipe.zadd(ticket_time_key(str(site)), {str(ticket_id): at}, nx=True)
            await pipe.execute()
            read += len(keys)
        return read

    async def _scan_batches(self, batch: int) -> AsyncIterator[list[str]]:
        cursor: int = 0
        while True:
            cursor, keys = await self.redis.scan(cursor, match=TICKET_KEY_PATTERN, count=batch)
            if keys:
                yield [str(k) for k in keys]
            if not cursor:
                return

    async def new_id(self, site: str, now: float | None = None) -> str:
        """A fresh ticket id of ``site``, dated the day of ``now`` (default: the clock's)."""
        return await self._next_id(site, time.time() if now is None else now)
