"""Fixtures of the unit tests that need a real Redis: a private redis-server on a free port,
started for one test and gone after it (nothing shared with the sandbox's Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from pathlib import Path
from typing import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.conftest import _unavailable
from tests.helpers import free_tcp_port


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[Redis]:
    """A client (decode_responses, as the server's) of a redis-server of this test's own."""
    if shutil.which("redis-server") is None:
        _unavailable("redis-server is not installed (Debian package redis-server)")
    port = free_tcp_port()
    proc = await asyncio.create_subprocess_exec(
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        async def ready() -> None:
            assert proc.stdout is not None
            while b"Ready to accept connections" not in (line := await proc.stdout.readline()):
                assert line, "redis-server exited before it was ready"

        await asyncio.wait_for(ready(), 10)
        client = Redis(host="127.0.0.1", port=port, decode_responses=True)
        yield client
        await client.aclose()
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        await proc.wait()
