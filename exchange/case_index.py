"""The index of the cases exchanged with the other platform, in this deployment's Redis, and
its reading: the edge of ``exchange.cases`` (which decides).

``hl:exchange:cases`` is a sorted set, one member per (our ticket, direction), scored by
when that way's first handover was recorded. ``stage_case`` queues its write on the
pipeline of the step that links the case (the service: a handover sent, a handover taken,
a transferred call taken), inside that step's MULTI/EXEC; ZADD NX keeps the first time, so
an applier that runs again writes nothing new. Each write drops the members older than
``TICKET_TTL_S``: the index lives as long as the tickets it names. The cases exchanged
before the index was kept are entered from the audit (``exchange.case_backfill``,
``enter_missing``), with the same ZADD NX.

Reading goes through the index in its own order (time, then member) a batch at a time: the
tickets of a batch, their states (the closed loop's, through ``DispatchStates``, when the
linkage plugin runs here) and, for the cases a filter keeps, their stories, each in one
round trip. So a page reads what it shows and an export never holds more than a batch.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from exchange.cases import (
    CaseFilter,
    Direction,
    Period,
    Position,
    case_of,
    case_row,
    member,
    trail_of,
)
from exchange.effects import story_leg
from exchange.redis_keys import CASES
from hotline_link.core.redis_client import as_str, as_str_entries
from tickets.redis_keys import timeline_call_key
from tickets.store import TICKET_TTL_S, Ticket, TicketStore

SCAN_BATCH = 500  # index members read per round trip
STORY_ENTRIES = 1000  # a case's exchange notes read at most (far more than a case ever has)


class DispatchStates(Protocol):
    """Where our tickets stand in the closed loop (``linkage.records.DispatchRecords``),
    attached by the plugin when the linkage plugin runs here."""

    async def states(self, ticket_ids: Sequence[str]) -> Mapping[str, str]: ...


def stage_case(pipe: Pipeline, ticket_id: str, direction: Direction, at: float) -> None:
    """Queue on ``pipe`` (inside its MULTI) the case (``ticket_id``, ``direction``) handed
    over at ``at``; the first time stays. Members older than the tickets are dropped."""
    pipe.zadd(CASES, {member(ticket_id, direction): at}, nx=True)
    pipe.zremrangebyscore(CASES, "-inf", f"({at - TICKET_TTL_S!r}")


async def enter_missing(redis: Redis, entries: Mapping[str, float]) -> int:
    """Enter the cases (member -> time) the index misses, as a live step would (ZADD NX: a
    case already there keeps its time): how many were new."""
    if not entries:
        return 0
    added = await redis.zadd(CASES, dict(entries), nx=True)  # NX: the members added
    return int(added or 0)


@dataclass(frozen=True)
class Candidate:
    """A case a filter kept, with what was read to decide it."""

    position: Position
    ticket_id: str
    direction: Direction
    ticket: Ticket | None
    status: str | None


def _notes(raw: Any) -> list[tuple[str, dict[str, Any]]]:
    notes = []
    for _, fields in as_str_entries(raw):
        try:
            data = json.loads(fields.get("data", "{}"))
        except ValueError:
            continue
        if isinstance(data, dict):
            notes.append((fields.get("event", ""), data))
    return notes


class CaseIndex:
    def __init__(self, redis: Redis, tickets: TicketStore, peer_platform: str) -> None:
        self.redis = redis
        self.tickets = tickets
        self.peer_platform = peer_platform
        self.states: DispatchStates | None = None  # no closed loop here: status null

    async def _members(self, period: Period, after: Position | None) -> AsyncGenerator[list[tuple[str, float]], None]:
        """The index's members in ``period``, past ``after``, in order, a batch at a time."""
        low, skip, offset = period.start, None, 0
        if after is not None and after.at >= period.start:
            low, skip = after.at, after.member
        high = f"({period.end!r}"
        while True:
            raw = await self.redis.zrangebyscore(CASES, low, high, start=offset, num=SCAN_BATCH, withscores=True)
            rows = [(as_str(pair[0]), float(pair[1])) for pair in raw]
            kept = [(name, score) for name, score in rows if skip is None or score != low or name > skip]
            if kept:
                yield kept
            if len(rows) < SCAN_BATCH:
                return
            last, last_score = rows[-1]
            if last_score == low:  # a whole batch at one time: go on past it
                offset += len(rows)
            else:
                low, skip, offset = last_score, last, 0

    async def matching(self, period: Period, keep: CaseFilter,
                       after: Position | None = None) -> AsyncGenerator[list[Candidate], None]:
        """The cases of ``period`` past ``after`` that ``keep`` takes, in order, a batch at a
        time (a batch may be empty of them: then nothing is yielded for it)."""
        async for batch in self._members(period, after):
            cases = []
            for name, score in batch:
                case = case_of(name)
                if case is not None and keep.takes_direction(case[1]):
                    cases.append((Position(score, name), case[0], case[1]))
            if not cases:
                continue
            ids = sorted({ticket_id for _, ticket_id, _ in cases})
            tickets = await self.tickets.get_many(ids)
            states = await self.states.states(ids) if self.states is not None else {}
            kept = [Candidate(position, ticket_id, direction, tickets.get(ticket_id), states.get(ticket_id))
                    for position, ticket_id, direction in cases]
            kept = [c for c in kept if keep.takes(c.ticket, c.status)]
            if kept:
                yield kept

    async def rows(self, candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
        """The rows of ``candidates``, their stories read in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for candidate in candidates:
            pipe.xrange(timeline_call_key(story_leg(candidate.ticket_id)), count=STORY_ENTRIES)
        stories = await pipe.execute() if candidates else []
        return [case_row(c.ticket_id, c.direction, c.position.at, self.peer_platform, c.ticket, c.status,
                         trail_of(c.direction, _notes(story)))
                for c, story in zip(candidates, stories, strict=True)]

    async def page(self, period: Period, keep: CaseFilter, after: Position | None,
                   limit: int) -> tuple[list[dict[str, Any]], Position | None]:
        """At most ``limit`` rows past ``after``, and where the next page starts (None: this
        was the last)."""
        taken: list[Candidate] = []
        async with contextlib.aclosing(self.matching(period, keep, after)) as batches:
            async for batch in batches:
                taken += batch
                if len(taken) > limit:
                    break
        more = len(taken) > limit
        taken = taken[:limit]
        return await self.rows(taken), taken[-1].position if more else None

    async def export(self, period: Period, keep: CaseFilter) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Every row of ``period`` that ``keep`` takes, a batch at a time."""
        async with contextlib.aclosing(self.matching(period, keep)) as batches:
            async for batch in batches:
                yield await self.rows(batch)
