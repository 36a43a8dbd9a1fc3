"""A test stopped before its clean-up leaves seats out of the pool; the next run's fixtures
and the dev tools put them back (``Sandbox.ready_seats``)."""

from __future__ import annotations

import asyncio

from devtools.sandbox import Sandbox
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.store import claim_key, seat_key


async def test_a_seat_left_paused_logged_out_or_claimed_is_made_ready(server):
    registry, redis = server[SEAT_REGISTRY], server.redis
    await registry.pause("12345", "1019", "left by a failed test")
    await registry.log_out("12345", "1020")
    await redis.set(claim_key("12345", "1020"), "hl12345-left.1", ex=60)
    try:
        readied = await asyncio.to_thread(Sandbox(server.settings).ready_seats)
        assert {"12345/1019", "12345/1020"} <= set(readied)
        paused, = await redis.hmget(seat_key("12345", "1019"), ["paused"])
        logged_out, = await redis.hmget(seat_key("12345", "1020"), ["logged_out"])
        assert (paused, logged_out) in (("", "0"), (b"", b"0"))
        assert await redis.exists(claim_key("12345", "1020")) == 0
        assert await asyncio.to_thread(Sandbox(server.settings).ready_seats) == []  # nothing left
    finally:
        for seat in ("1019", "1020"):
            await registry.pause("12345", seat, "")
