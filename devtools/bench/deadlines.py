"""``hotline-link bench deadlines``: 100,000 open tickets with deadlines in Redis, a few of
them coming due while the overdue scan runs every 0.2 s. Prints one JSON line: open, due,
found, max_lateness_ms (from a deadline to its 督办 being written), scan_ms_p99 (one scan
pass), rss_mb (this process, which runs the scan, after the run; rss_mb_before before the
100,000 were added). The scan reads with ZRANGEBYSCORE up to now, so its cost follows the
due deadlines, not the open ones: ``idle_scan_ms_p99`` (scans that found nothing due, with
100,000 open) against ``idle_scan_ms_p99_1k_open`` (the same with 1,000 open) shows it.
Works under its own key prefix and removes it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from devtools.bench.api import percentile, rss_mb
from hotline_link.core.bus import EventBus
from hotline_link.core.errors import ConfigError
from hotline_link.core.logs import configure_logging
from hotline_link.core.redis_client import redis_client
from hotline_link.core.settings import Settings
from linkage.deadlines import Deadline, DeadlineScanner, DeadlineStore
from linkage.journal import Journal, loop_leg
from linkage.policy import load_config
from tickets.redis_keys import ticket_calls_key
from tickets.timeline import call_key

TICK_S = 0.2
# the scan goes on until every due deadline is found: a busy machine shows in the lateness,
# it does not miss deadlines because of a wall-clock budget; this only ends a stuck run
SCAN_LIMIT_S = 180.0


async def _fill(store: DeadlineStore, tag: str, count: int, due_of: Callable[[int], float],
                keep: bool = False) -> list[Deadline]:
    made = []
    for start in range(0, count, 5000):
        pipe = store.redis.pipeline(transaction=False)
        for n in range(start, min(count, start + 5000)):
            d = Deadline(f"bench-{tag}-{n}", "arrive", "QD-BENCH", 1, due_of(n))
            pipe.hset(store._info(d.member), mapping={"ticket_id": d.ticket_id, "stage": d.stage, "unit": d.unit,
                                                      "level": d.level, "due": repr(d.due), "strikes": 0})
            pipe.zadd(store.due_key, {d.member: d.due})
            if keep:
                made.append(d)
        await pipe.execute()
    return made


async def _scan_for(scanner: DeadlineScanner, seconds: float, until_found: int,
                    found: dict[str, float], due: dict[str, float]) -> tuple[list[float], list[float]]:
    """(every scan's time, the time of scans that found nothing due) in ms."""
    scan_ms: list[float] = []
    idle_ms: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end and len(found) < until_found:
        began = time.perf_counter()
        outcomes = await scanner.scan_once()
        for deadline, _ in outcomes:
            if deadline.ticket_id in due:
                found.setdefault(deadline.ticket_id, time.time())
        scan_ms.append((time.perf_counter() - began) * 1000)
        if not outcomes:
            idle_ms.append(scan_ms[-1])
        await asyncio.sleep(TICK_S)  # the scan's period, as in the server
    return scan_ms, idle_ms


async def _cleanup(redis: Redis, prefix: str, tickets: list[str]) -> None:
    batch = []
    async for key in redis.scan_iter(match=prefix + "*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            await redis.unlink(*batch)
            batch = []
    keys = batch + [call_key(loop_leg(t)) for t in tickets] + [ticket_calls_key(t) for t in tickets]
    for start in range(0, len(keys), 5000):
        if keys[start:start + 5000]:
            await redis.unlink(*keys[start:start + 5000])


async def _run(redis: Redis, prefix: str, open_tickets: int, due_count: int) -> dict[str, Any]:
    config = load_config()
    bus = EventBus()
    store = DeadlineStore(redis, prefix)
    scanner = DeadlineScanner(store, config, Journal(redis, bus, prefix), time.time, TICK_S)
    rng = random.Random(7)
    now = time.time()
    far = now + 86_400
    rss_before = rss_mb(os.getpid())
    # the small case first: 1,000 open, none due
    await _fill(store, "small", 1000, lambda n: far + rng.random() * 3600)
    _, small_ms = await _scan_for(scanner, 2.0, 1, {}, {})
    await _cleanup(redis, prefix, [])
    await _fill(store, "open", open_tickets - due_count, lambda n: far + rng.random() * 86_400)
    start = time.time() + 1.0
    made = await _fill(store, "due", due_count, lambda n: start + 5.0 * n / due_count, keep=True)
    due = {d.ticket_id: d.due for d in made}
    found: dict[str, float] = {}
    scan_ms, idle_ms = await _scan_for(scanner, SCAN_LIMIT_S, due_count, found, due)
    lateness = [(found[t] - due[t]) * 1000 for t in found]
    result = {"open": open_tickets, "due": due_count, "found": len(found),
              "max_lateness_ms": round(max(lateness), 1) if lateness else None,
              "scan_ms_p99": round(percentile(scan_ms, 99), 3), "rss_mb": rss_mb(os.getpid()),
              "rss_mb_before": rss_before,
              "idle_scan_ms_p99": round(percentile(idle_ms, 99), 3),
              "idle_scan_ms_p99_1k_open": round(percentile(small_ms, 99), 3)}
    await _cleanup(redis, prefix, list(due))
    return result


async def run_deadline_bench(settings: Settings, open_tickets: int = 100_000, due_count: int = 1_000) -> dict[str, Any]:
    if open_tickets < due_count or due_count < 1:
        raise ConfigError("bench deadlines: --open must be at least 1000")
    configure_logging("error")  # a 督办 per due ticket would drown the one JSON line
    redis = redis_client(settings, decode_responses=True)
    prefix = f"hlbench:{uuid.uuid4().hex[:8]}:linkage:"
    try:
        try:
            await redis.ping()
        except OSError as exc:
            raise ConfigError(f"Redis at {settings.redis_url} is not reachable: {exc}") from None
        try:
            return await _run(redis, prefix, open_tickets, due_count)
        except BaseException:
            await _cleanup(redis, prefix, [])
            raise
    finally:
        await redis.aclose()
