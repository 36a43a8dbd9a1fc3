"""Each ticket's dispatch record in Redis: the hash ``{prefix}dispatch:{ticket_id}`` with the
unit, its level, the mode (system, phone, or none when the supervisor holds the case), the
state (``linkage.lifecycle``: queued, dispatched, accepted, arrived, resolved, supervisor),
the times and deadlines of each step, the result and the 回访 answer. Kept as long as the
ticket.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from hotline_link.core.redis_client import as_str_hash
from linkage.lifecycle import DispatchState, Loop, state_of
from linkage.redis_keys import LinkageKeys
from tickets.store import TICKET_TTL_S


class DispatchRecords:
    def __init__(self, redis: Redis, keys: LinkageKeys) -> None:
        self.redis = redis
        self.keys = keys

    async def get(self, ticket_id: str) -> dict[str, str] | None:
        row = as_str_hash(await self.redis.hgetall(self.keys.dispatch(ticket_id)))
        return row or None

    async def states(self, ticket_ids: Sequence[str]) -> dict[str, DispatchState]:
        """The dispatch state of each of ``ticket_ids`` (``not_dispatched`` when it has no
        record), read in one round trip: the exchange cases' ``status``."""
        pipe = self.redis.pipeline(transaction=False)
        for ticket_id in ticket_ids:
            pipe.hgetall(self.keys.dispatch(ticket_id))
        rows = await pipe.execute()
        return {ticket_id: state_of(as_str_hash(row)) for ticket_id, row in zip(ticket_ids, rows, strict=True)}

    async def loop(self, ticket_id: str) -> Loop:
        """What the state machine reads of the ticket's dispatch."""
        return Loop.of(ticket_id, await self.get(ticket_id))

    async def unit(self, ticket_id: str) -> str | None:
        """The unit the ticket is (or was last) dispatched to."""
        unit = await self.redis.hget(self.keys.dispatch(ticket_id), "unit")
        return None if unit is None else str(unit)

    async def save(self, ticket_id: str, **fields: object) -> None:
        key = self.keys.dispatch(ticket_id)
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping={k: str(v) for k, v in fields.items()})
        pipe.expire(key, TICKET_TTL_S)
        await pipe.execute()

    async def forget(self, ticket_id: str) -> None:
        """A new round begins: the earlier one's record goes (its steps stay on the timeline
        and in the event log)."""
        await self.redis.delete(self.keys.dispatch(ticket_id))
