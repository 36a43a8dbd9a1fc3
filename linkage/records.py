"""Each ticket's dispatch record in Redis: the hash ``{prefix}dispatch:{ticket_id}`` with the
unit, its level, the mode (system, phone, or none when the supervisor holds the case), the
state (``linkage.lifecycle``: queued, dispatched, accepted, arrived, resolved, supervisor,
refused), the times and deadlines of each step, the result and the 回访 answer. Kept as long
as the ticket.

That record is the lead unit's. In joint handling (联合调处) each assisting unit has a record
of its own in the same layout, ``{prefix}dispatch:{ticket_id}:{unit}`` (``role`` =
``assisting``), listed in the set ``{prefix}assisting:{ticket_id}``; the methods take the
assisting unit as ``assisting`` (None: the lead's record, as always).
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from hotline_link.core.redis_client import as_str_hash, as_str_list
from linkage.lifecycle import DispatchState, Loop, state_of
from linkage.redis_keys import LinkageKeys
from tickets.store import TICKET_TTL_S


class DispatchRecords:
    def __init__(self, redis: Redis, keys: LinkageKeys) -> None:
        self.redis = redis
        self.keys = keys

    def _key(self, ticket_id: str, assisting: str | None) -> str:
        if assisting is None:
            return self.keys.dispatch(ticket_id)
        return self.keys.assisting_dispatch(ticket_id, assisting)

    async def get(self, ticket_id: str, assisting: str | None = None) -> dict[str, str] | None:
        row = as_str_hash(await self.redis.hgetall(self._key(ticket_id, assisting)))
        return row or None

    async def states(self, ticket_ids: Sequence[str]) -> dict[str, DispatchState]:
        """The dispatch state of each of ``ticket_ids`` (``not_dispatched`` when it has no
        record), read in one round trip: the exchange cases' ``status``."""
        pipe = self.redis.pipeline(transaction=False)
        for ticket_id in ticket_ids:
            pipe.hgetall(self.keys.dispatch(ticket_id))
        rows = await pipe.execute()
        return {ticket_id: state_of(as_str_hash(row)) for ticket_id, row in zip(ticket_ids, rows, strict=True)}

    async def loop(self, ticket_id: str, assisting: str | None = None) -> Loop:
        """What the state machine reads of the ticket's dispatch (or an assisting unit's part)."""
        return Loop.of(ticket_id, await self.get(ticket_id, assisting), assisting=assisting is not None)

    async def unit(self, ticket_id: str) -> str | None:
        """The unit the ticket is (or was last) dispatched to."""
        unit = await self.redis.hget(self.keys.dispatch(ticket_id), "unit")
        return None if unit is None else str(unit)

    async def save(self, ticket_id: str, assisting: str | None = None, **fields: object) -> None:
        key = self._key(ticket_id, assisting)
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping={k: str(v) for k, v in fields.items()})
        pipe.expire(key, TICKET_TTL_S)
        if assisting is not None:
            pipe.sadd(self.keys.assisting(ticket_id), assisting)
            pipe.expire(self.keys.assisting(ticket_id), TICKET_TTL_S)
        await pipe.execute()

    async def forget(self, ticket_id: str, assisting: str | None = None) -> None:
        """A new round begins: the earlier one's record goes (its steps stay on the timeline
        and in the event log)."""
        await self.redis.delete(self._key(ticket_id, assisting))

    async def assisting_units(self, ticket_id: str) -> list[str]:
        """The ticket's assisting units (joint handling), sorted."""
        return sorted(as_str_list(await self.redis.smembers(self.keys.assisting(ticket_id))))

    async def assisting_records(self, ticket_id: str) -> list[dict[str, str]]:
        """The assisting units' records, by unit id."""
        units = await self.assisting_units(ticket_id)
        pipe = self.redis.pipeline(transaction=False)
        for unit in units:
            pipe.hgetall(self.keys.assisting_dispatch(ticket_id, unit))
        return [row for row in map(as_str_hash, await pipe.execute()) if row]

    async def reporter(self, ticket_id: str, unit: str) -> str | None:
        """Which record ``unit``'s feedback on the ticket goes to: None for the lead's (when
        the lead's record names the unit, or the unit assists nowhere on it, so the lead's
        record answers why not), else the unit (its assisting part)."""
        lead = await self.redis.hget(self.keys.dispatch(ticket_id), "unit")
        if lead is not None and str(lead) == unit:
            return None
        if await self.redis.sismember(self.keys.assisting(ticket_id), unit):
            return unit
        return None
