"""Fixtures of the unit tests that need a real Redis: a private redis-server on a free port,
started for one test and gone after it (nothing shared with the sandbox's Redis); and two
deployments joined by the exchange channel, each on a redis-server of its own."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from tests.conftest import _unavailable
from tests.helpers import free_tcp_port
from tests.unit.exchange_deployments import Clock, Deployment, served_pair


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A redis-server on a free port, its files in ``directory``: its URL while it runs."""
    if shutil.which("redis-server") is None:
        _unavailable("redis-server is not installed (Debian package redis-server)")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_tcp_port()
    server = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                               "--appendonly", "no", "--dir", str(directory)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        for line in server.stdout:  # blocks until redis says it is ready (or exits)
            if "Ready to accept connections" in line:
                break
        else:
            pytest.fail(f"redis-server on port {port} did not start")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """The URL of a redis-server of this test's own."""
    with redis_server(tmp_path) as url:
        yield url


@pytest.fixture
def peer_redis_url(tmp_path: Path) -> Iterator[str]:
    """Another redis-server of this test's own: the other deployment's, in two-deployment tests."""
    with redis_server(tmp_path / "peer-redis") as url:
        yield url


@pytest.fixture
async def private_redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client (decode_responses, as the server's) of this test's own redis-server."""
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def receiver_redis(redis_url: str) -> AsyncIterator[Redis]:
    """The receiving deployment's Redis: another database of the test's redis-server."""
    client = Redis.from_url(redis_url.removesuffix("/0") + "/1", decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session of this test's own."""
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
async def deployments(redis_url: str, peer_redis_url: str,
                      session: aiohttp.ClientSession) -> AsyncIterator[tuple[Deployment, Deployment]]:
    """(12345's deployment, 110's), each on its own redis-server, served and connected,
    on a test clock."""
    async with served_pair(redis_url, peer_redis_url, session, Clock()) as pair:
        yield pair
