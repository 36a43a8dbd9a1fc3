"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Iterable

import structlog
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object] | None]) -> None:
    """Cancel until done: Python 3.11's ``wait_for`` can swallow a cancellation that lands
    just as the awaited thing completes, and a loop would then carry on forever."""
    pending = [t for t in tasks if t is not None]
    while pending := [t for t in pending if not t.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.5)


async def wait_until(changed: asyncio.Event, done: Callable[[], bool], timeout: float) -> bool:
    """Wait until ``done()`` holds, re-checking each time ``changed`` is set; at most
    ``timeout`` seconds. Returns ``done()``. The setter sets ``changed`` after each change."""
    deadline = time.monotonic() + timeout
    while not done():
        changed.clear()
        try:
            await asyncio.wait_for(changed.wait(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            return done()
    return True


async def repeat_every(step: Callable[[], Awaitable[object]], interval_s: Callable[[], float], *,
                       failed: str, bug: str) -> None:
    """Run ``step`` forever, ``interval_s()`` apart: a background scan or tick. Redis away
    is logged as ``failed`` and a bug as ``bug`` (with its traceback); neither stops it."""
    while True:
        try:
            await step()
        except RedisError as exc:
            log.warning(failed, error=str(exc))
        except Exception:
            log.exception(bug)
        await asyncio.sleep(interval_s())
