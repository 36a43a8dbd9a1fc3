"""Stopping background tasks reliably, and running a command's job so that it can be stopped."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

import structlog
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)
T = TypeVar("T")


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
        except TimeoutError:
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


def run_job(job: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` for a command's job, with SIGTERM taken like Ctrl-C: the job's task
    is cancelled, so its ``finally`` blocks run (SIPp peers stopped, the sandbox left with
    no channel or contact). Raises KeyboardInterrupt when so stopped."""
    stopped = False

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None

        def stop() -> None:
            nonlocal stopped
            stopped = True
            task.cancel()

        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)
        return await job

    try:
        result = asyncio.run(main())
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None
    if stopped:
        # Python 3.11's wait_for can swallow a cancel that lands as its future completes; the
        # job then ran to its end, but it was asked to stop, and says so (seen in full runs)
        raise KeyboardInterrupt
    return result
