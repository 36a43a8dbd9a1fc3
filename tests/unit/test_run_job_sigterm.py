"""``run_job``: SIGTERM stops a command's job like Ctrl-C, and says so even when the job
swallowed the cancel (Python 3.11's wait_for can) and ran to its end."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from hotline_link.core.tasks import run_job


async def _job(swallow: bool) -> str:
    os.kill(os.getpid(), signal.SIGTERM)  # handled by run_job's handler: the task is cancelled
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        if not swallow:
            raise
    return "ran to its end"


def test_sigterm_cancels_the_job():
    with pytest.raises(KeyboardInterrupt):
        run_job(_job(swallow=False))


def test_a_swallowed_cancel_still_ends_as_stopped():
    with pytest.raises(KeyboardInterrupt):
        run_job(_job(swallow=True))


def test_a_job_left_alone_returns_its_result():
    async def quiet() -> str:
        return "done"
    assert run_job(quiet()) == "done"
