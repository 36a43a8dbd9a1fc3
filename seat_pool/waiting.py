"""The waiting queue of each center, in Redis so every hotline-link instance sees one queue.

Keys: ``hl:queue:{site}`` (sorted set: call id -> when it joined) and
``hl:queue:{site}:kind`` (hash: call id -> ``emergency`` or ``normal``). An entry older
than ``stale_after_s`` belongs to a router that died while the caller waited (the dialplan
has since moved the caller on), so readers drop it.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from seat_pool.overflow_policy import Platform, WaitingCall


def queue_key(site: str) -> str:
    return f"hl:queue:{site}"


def _kind_key(site: str) -> str:
    return f"hl:queue:{site}:kind"


class WaitingQueue:
    def __init__(self, redis: Redis, stale_after_s: float) -> None:
        self.redis = redis
        self.stale_after_s = stale_after_s

    async def join(self, site: str, call_id: str, queued_at: float, emergency: bool) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(queue_key(site), {call_id: queued_at})
        pipe.hset(_kind_key(site), call_id, "emergency" if emergency else "normal")
        await pipe.execute()

    async def leave(self, site: str, call_id: str) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(queue_key(site), call_id)
        pipe.hdel(_kind_key(site), call_id)
        removed, _ = await pipe.execute()
        return bool(removed)

    async def calls(self, site: str, now: float | None = None) -> tuple[WaitingCall, ...]:
        now = time.time() if now is None else now
        stale = now - self.stale_after_s
        pipe = self.redis.pipeline(transaction=True)
        pipe.zremrangebyscore(queue_key(site), "-inf", stale)
        pipe.zrange(queue_key(site), 0, -1, withscores=True)
        pipe.hgetall(_kind_key(site))
        _, members, kinds = await pipe.execute()
        platform = Platform.POLICE_110 if site == Platform.POLICE_110.value else Platform.HOTLINE_12345
        orphans = set(kinds) - {call_id for call_id, _ in members}
        if orphans:
            await self.redis.hdel(_kind_key(site), *orphans)
        out = []
        for call_id, queued_at in members:
            emergency = kinds.get(call_id) == "emergency"
            out.append(WaitingCall(call_id, Platform.POLICE_110 if emergency else platform, queued_at))
        return tuple(out)
