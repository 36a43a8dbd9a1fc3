"""Deadlines in Redis and the overdue scan (督办, then 提级).

Each open deadline is a member ``{ticket_id}|{stage}`` of the sorted set ``{prefix}due``
scored by its due time, with its details in the hash ``{prefix}deadline:{member}``. The scan
takes what is due with ZRANGEBYSCORE up to now (its cost does not grow with the deadlines
not yet due) and leases it (moves it ``LEASE_S`` ahead, in one Lua step), so of several
server instances one handles it and a crashed one's lease comes due again. Nothing lives in
process timers: a restarted server resumes from Redis and misses none.

The clock is injectable, so tests move time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio import Redis

from hotline_link.core.events import LinkageEscalated, LinkageSupervised
from hotline_link.core.redis_client import as_str_hash
from hotline_link.core.tasks import cancel_and_wait, repeat_every
from linkage.journal import Clock, Journal
from linkage.policy import SUPERVISED, LinkageConfig, next_step
from linkage.redis_keys import PREFIX, LinkageKeys
from tickets.outbox import LEASE_DUE

log = structlog.get_logger(__name__)

LEASE_S = 30.0
BATCH = 500



@dataclass(frozen=True)
class Deadline:
    ticket_id: str
    stage: str  # accept, arrive, result
    unit: str
    level: int
    due: float
    strikes: int = 0  # 0: not overdue yet; 1: 督办 given
    assisting: bool = False  # an assisting unit's deadline (joint handling), not the lead's

    @property
    def member(self) -> str:
        return member_of(self.ticket_id, self.stage, self.unit if self.assisting else None)


def member_of(ticket_id: str, stage: str, assisting: str | None = None) -> str:
    """The lead's deadline ``{ticket_id}|{stage}``; an assisting unit's has its own,
    ``{ticket_id}|{stage}|{unit}``."""
    return f"{ticket_id}|{stage}" if assisting is None else f"{ticket_id}|{stage}|{assisting}"


class DeadlineStore:
    def __init__(self, redis: Redis, prefix: str = PREFIX) -> None:
        self.redis = redis
        self.prefix = prefix
        self.keys = LinkageKeys(prefix)
        self.due_key = self.keys.due
        self.flags_key = self.keys.flags
        self._lease = redis.register_script(LEASE_DUE)

    def _info(self, member: str) -> str:
        return self.keys.deadline(member)

    async def arm(self, deadline: Deadline) -> None:
        pipe = self.redis.pipeline()
        pipe.hset(self._info(deadline.member), mapping={
            "ticket_id": deadline.ticket_id, "stage": deadline.stage, "unit": deadline.unit,
            "level": deadline.level, "due": repr(deadline.due), "strikes": deadline.strikes,
            "assisting": "1" if deadline.assisting else ""})
        pipe.zadd(self.due_key, {deadline.member: deadline.due})
        await pipe.execute()

    async def get(self, ticket_id: str, stage: str, assisting: str | None = None) -> Deadline | None:
        row = as_str_hash(await self.redis.hgetall(self._info(member_of(ticket_id, stage, assisting))))
        return _deadline(row) if row else None

    async def clear(self, ticket_id: str, stage: str, assisting: str | None = None) -> Deadline | None:
        """The deadline is met: remove it (returns what it was, or None)."""
        member = member_of(ticket_id, stage, assisting)
        pipe = self.redis.pipeline()
        pipe.hgetall(self._info(member))
        pipe.zrem(self.due_key, member)
        pipe.delete(self._info(member))
        row, _, _ = await pipe.execute()
        return _deadline(row) if row else None

    async def take_due(self, now: float, limit: int = BATCH) -> list[Deadline]:
        members = await self._lease(keys=[self.due_key], args=[now, now + LEASE_S, limit])
        out = []
        for member in members:
            row = as_str_hash(await self.redis.hgetall(self._info(member)))
            if row:
                out.append(_deadline(row))
            else:  # met meanwhile
                await self.redis.zrem(self.due_key, member)
        return out

    async def drop(self, deadline: Deadline) -> None:
        pipe = self.redis.pipeline()
        pipe.zrem(self.due_key, deadline.member)
        pipe.delete(self._info(deadline.member))
        await pipe.execute()

    async def open_count(self) -> int:
        return int(await self.redis.zcard(self.due_key))

    async def flag(self, ticket_id: str, flag: dict[str, Any]) -> None:
        await self.redis.hset(self.flags_key, ticket_id, json.dumps(flag, ensure_ascii=False))

    async def unflag(self, ticket_id: str) -> None:
        await self.redis.hdel(self.flags_key, ticket_id)

    async def unflag_kind(self, ticket_id: str, kind: str) -> None:
        """Drop the ticket's flag if it is of this kind (another, newer one stays)."""
        raw = await self.redis.hget(self.flags_key, ticket_id)
        if raw and json.loads(raw).get("flag") == kind:
            await self.redis.hdel(self.flags_key, ticket_id)

    async def flags(self) -> dict[str, dict[str, Any]]:
        """The red flags (督办, 提级, 双哨联办) the supervisor page shows, by ticket."""
        return {k: json.loads(v) for k, v in as_str_hash(await self.redis.hgetall(self.flags_key)).items()}


def _deadline(row: dict[str, str]) -> Deadline:
    return Deadline(row["ticket_id"], row["stage"], row["unit"], int(row["level"]), float(row["due"]),
                    int(row.get("strikes", 0)), bool(row.get("assisting")))


class DeadlineScanner:
    """Finds overdue deadlines: the first time a 督办 (timeline, ``linkage.supervised``, a red
    flag, a new deadline ``remind_s`` later), the second time 提级 to the command centre
    (``linkage.escalated``)."""

    def __init__(self, store: DeadlineStore, config: LinkageConfig, journal: Journal,
                 clock: Clock, tick_s: float = 0.2) -> None:
        self.store = store
        self.config = config
        self.journal = journal
        self.clock = clock
        self.tick_s = tick_s
        self._task: asyncio.Task[None] | None = None
        # told of each 督办 and 提级 after it is recorded (the service calls the unit or the
        # command centre); its failure is logged and does not undo the record
        self.on_overdue: Callable[[Deadline, str], Awaitable[None]] | None = None

    async def scan_once(self) -> list[tuple[Deadline, str]]:
        """Handle everything due now; returns (deadline, what was done)."""
        now = self.clock()
        done: list[tuple[Deadline, str]] = []
        while True:
            batch = await self.store.take_due(now)
            for deadline in batch:
                done.append((deadline, await self._overdue(deadline, now)))
            if len(batch) < BATCH:
                return done

    async def _overdue(self, deadline: Deadline, now: float) -> str:
        step = next_step(deadline.strikes)
        late_s = round(now - deadline.due, 3)
        flag = {"flag": step, "stage": deadline.stage, "unit": deadline.unit, "at": now, "due": deadline.due}
        if step == SUPERVISED:
            again = self.config.remind_due(deadline.level, deadline.due)
            await self.store.arm(Deadline(deadline.ticket_id, deadline.stage, deadline.unit, deadline.level,
                                          again, deadline.strikes + 1, deadline.assisting))
            await self.store.flag(deadline.ticket_id, flag)
            await self.journal.record(LinkageSupervised(
                ticket_id=deadline.ticket_id, unit=deadline.unit, stage=deadline.stage, due=deadline.due,
                late_s=late_s, escalates_at=again), at=now)
            log.warning("linkage.supervised", ticket_id=deadline.ticket_id, unit=deadline.unit,
                        stage=deadline.stage, late_s=late_s)
        else:
            await self.store.drop(deadline)
            await self.store.flag(deadline.ticket_id, {**flag, "contact": self.config.escalation_contact})
            await self.journal.record(LinkageEscalated(
                ticket_id=deadline.ticket_id, unit=deadline.unit, stage=deadline.stage, due=deadline.due,
                late_s=late_s, contact=self.config.escalation_contact, phone=self.config.escalation_phone), at=now)
            log.error("linkage.escalated", ticket_id=deadline.ticket_id, unit=deadline.unit,
                      stage=deadline.stage, contact=self.config.escalation_contact)
        if self.on_overdue is not None:
            try:
                await self.on_overdue(deadline, step)
            except Exception:  # the 督办 is recorded; the call is extra
                log.exception("linkage.overdue_call_failed", ticket_id=deadline.ticket_id, step=step)
        return step

    def start(self) -> None:
        self._task = asyncio.create_task(
            repeat_every(self.scan_once, lambda: self.tick_s, failed="linkage.scan_failed",
                         bug="linkage.scan_bug"), name="linkage-deadlines")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])

