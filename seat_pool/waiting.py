"""The waiting queue of each center, in Redis so every hotline-link instance sees one queue.

Keys: ``hl:queue:{site}`` (sorted set: call id -> when it joined),
``hl:queue:{site}:seen`` (sorted set: call id -> when its router last said it still waits)
and ``hl:queue:{site}:kind`` (hash: call id -> ``emergency`` or ``normal``). The router
waiting with a caller touches its entry every second; an entry not touched for
``stale_after_s`` belongs to a router that died (the dialplan has moved the caller on), so
readers drop it and calls behind it move up at once.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from seat_pool.overflow_policy import Platform, WaitingCall


def queue_key(site: str) -> str:
    return f"hl:queue:{site}"


def _kind_key(site: str) -> str:
    return f"hl:queue:{site}:kind"


def _seen_key(site: str) -> str:
    return f"hl:queue:{site}:seen"


class WaitingQueue:
    def __init__(self, redis: Redis, stale_after_s: float) -> None:
        self.redis = redis
        self.stale_after_s = stale_after_s

    async def join(self, site: str, call_id: str, queued_at: float, emergency: bool) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(queue_key(site), {call_id: queued_at})
        pipe.zadd(_seen_key(site), {call_id: time.time()})
        pipe.hset(_kind_key(site), call_id, "emergency" if emergency else "normal")
        await pipe.execute()

    async def touch(self, site: str, call_id: str, queued_at: float, emergency: bool) -> None:
        """The caller still waits (its router is alive). An entry a reader dropped meanwhile
        (a slow round trip) comes back with its first arrival time: no place is lost."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(queue_key(site), {call_id: queued_at}, nx=True)
        pipe.zadd(_seen_key(site), {call_id: time.time()})
        pipe.hsetnx(_kind_key(site), call_id, "emergency" if emergency else "normal")
        await pipe.execute()

    async def leave(self, site: str, call_id: str) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(queue_key(site), call_id)
        pipe.zrem(_seen_key(site), call_id)
        pipe.hdel(_kind_key(site), call_id)
        removed, _, _ = await pipe.execute()
        return bool(removed)

    async def calls(self, site: str, now: float | None = None) -> tuple[WaitingCall, ...]:
        now = time.time() if now is None else now
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrange(queue_key(site), 0, -1, withscores=True)
        pipe.zrange(_seen_key(site), 0, -1, withscores=True)
        pipe.hgetall(_kind_key(site))
        members, seen_rows, kinds = await pipe.execute()
        seen = dict(seen_rows)
        stale = {c for c, _ in members if seen.get(c, 0.0) < now - self.stale_after_s}
        stale |= (set(seen) | set(kinds)) - {c for c, _ in members}
        if stale:
            await self._drop(site, stale)
            members = [(c, at) for c, at in members if c not in stale]
        platform = Platform.POLICE_110 if site == Platform.POLICE_110.value else Platform.HOTLINE_12345
        out = []
        for call_id, queued_at in members:
            emergency = kinds.get(call_id) == "emergency"
            out.append(WaitingCall(call_id, Platform.POLICE_110 if emergency else platform, queued_at))
        return tuple(out)

    async def _drop(self, site: str, call_ids: set[str]) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(queue_key(site), *call_ids)
        pipe.zrem(_seen_key(site), *call_ids)
        pipe.hdel(_kind_key(site), *call_ids)
        await pipe.execute()
