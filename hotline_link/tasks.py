"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio
from typing import Iterable


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object] | None]) -> None:
    """Cancel until done: Python 3.11's ``wait_for`` can swallow a cancellation that lands
    just as the awaited thing completes, and a loop would then carry on forever."""
    pending = [t for t in tasks if t is not None]
    while pending := [t for t in pending if not t.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.5)
