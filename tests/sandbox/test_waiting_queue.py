"""The waiting queue on the real Redis: order, kinds, and entries left by a dead router."""

from __future__ import annotations

import time

from hotline_link.core.redis_client import redis_client
from seat_pool.overflow_policy import Platform
from seat_pool.waiting import WaitingQueue


async def test_queue_order_kinds_and_stale_entries_of_a_dead_router(sandbox_settings):
    site = "queue-test"
    redis = redis_client(sandbox_settings, decode_responses=True)
    queue = WaitingQueue(redis, stale_after_s=5.0)
    try:
        now = time.time()
        await queue.join(site, "a", now - 30, emergency=False)
        await queue.join(site, "b", now - 20, emergency=True)
        calls = await queue.calls(site)
        assert [(c.call_id, c.platform) for c in calls] == [("a", Platform.HOTLINE_12345),
                                                             ("b", Platform.POLICE_110)]
        # 6 s later only "b" was touched by its router: "a"'s router died, so "a" is dropped
        await queue.touch(site, "b", now - 20, True)
        later = time.time() + 6
        await redis.zadd(f"hl:queue:{site}:seen", {"b": later})
        assert [c.call_id for c in await queue.calls(site, now=later)] == ["b"]
        assert await redis.hget(f"hl:queue:{site}:kind", "a") is None
        # "a"'s router was only slow: its next touch puts it back in its first place
        await queue.touch(site, "a", now - 30, False)
        assert [(c.call_id, c.queued_at) for c in await queue.calls(site)] == [("a", now - 30),
                                                                              ("b", now - 20)]
        assert await queue.leave(site, "a") is True
        assert await queue.leave(site, "b") is True
        assert await queue.leave(site, "b") is False
        assert await queue.calls(site) == ()
    finally:
        await redis.delete(f"hl:queue:{site}", f"hl:queue:{site}:seen", f"hl:queue:{site}:kind")
        await redis.aclose()
