"""One operation at a time per call, across server instances (the double-click case).

A Redis ``SET NX`` with a TTL, released only by its holder (compare-and-delete), so a
crashed holder frees the call after the TTL and never frees someone else's lock."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from call_control.errors import OperationInProgress
from hotline_link.core.redis_client import as_str

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class CallLocks:
    def __init__(self, redis: Redis, ttl_s: int = 60) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._release = redis.register_script(_RELEASE)

    @asynccontextmanager
    async def hold(self, call_id: str, operation: str) -> AsyncIterator[None]:
        key = f"hl:lock:call:{call_id}"
        token = f"{operation}:{secrets.token_hex(8)}"
        if not await self.redis.set(key, token, nx=True, ex=self.ttl_s):
            holder = as_str(await self.redis.get(key) or "another").split(":", 1)[0]
            raise OperationInProgress(f"call {call_id} is busy with a {holder} already")
        try:
            yield
        finally:
            await self._release(keys=[key], args=[token])
