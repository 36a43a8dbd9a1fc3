"""Callback requests in Redis, shared by every server instance.

Keys (prefix ``hl:callback:``): ``req:{id}`` (the request, JSON), ``number:{site}:{digest}``
(the open request of a number: the identity hashed, so no number is in a key name),
``due:{site}`` (sorted set of the site's open requests by the time to look at them again:
offer one waiting, or give up on an attempt that went quiet), ``attempt:{channel_id}``
(the request of an originated call) and ``lead:{site}`` (the instance that offers the site's
callbacks, with a TTL: the leader lease).

Every change of a request is a WATCH/MULTI step on its key, so two instances hearing the
same AMI event (each has its own AMI connection) apply it once: the second sees the step
already taken and changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import structlog
from redis.asyncio import Redis
from redis.exceptions import WatchError

from call_control.callbacks.state import OPEN, Close, Note, Outcome, Request
from hotline_link.core.redis_client import as_str, as_str_or_none

log = structlog.get_logger(__name__)

PREFIX = "hl:callback:"
OPEN_TTL_S = 30 * 86400  # an open request is looked at long before
FINAL_TTL_S = 7 * 86400  # a finished one stays readable for a week
ATTEMPT_TTL_S = 86400
_LEAD = ("if redis.call('GET', KEYS[1]) == ARGV[1] or "
         "redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then "
         "redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end return 0")


class CallbackStore:
    def __init__(self, redis: Redis, prefix: str = PREFIX) -> None:
        self.redis = redis
        self.prefix = prefix

    def request_key(self, request_id: str) -> str:
        return f"{self.prefix}req:{request_id}"

    def number_key(self, site: str, number: str) -> str:
        return f"{self.prefix}number:{site}:{hashlib.sha256(number.encode()).hexdigest()[:24]}"

    def due_key(self, site: str) -> str:
        return f"{self.prefix}due:{site}"

    def attempt_key(self, channel_id: str) -> str:
        return f"{self.prefix}attempt:{channel_id}"

    def lead_key(self, site: str) -> str:
        return f"{self.prefix}lead:{site}"

    async def get(self, request_id: str) -> Request | None:
        raw = await self.redis.get(self.request_key(request_id))
        if not raw:
            return None
        try:
            return Request.loads(raw)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("callback.bad_record", request_id=request_id, error=str(exc)[:200])
            return None

    async def add(self, new: Request, merge: Callable[[Request, Request], Outcome]) -> tuple[Outcome, bool]:
        """Queue ``new``, or merge it into the number's open request: ((the request, the
        actions), whether it is a new one)."""
        number_key = self.number_key(new.site, new.number)
        for _ in range(5):
            if await self.redis.set(number_key, new.id, nx=True, ex=OPEN_TTL_S):
                pipe = self.redis.pipeline(transaction=True)
                pipe.set(self.request_key(new.id), new.dumps(), ex=OPEN_TTL_S)
                pipe.zadd(self.due_key(new.site), {new.id: new.due_at})
                await pipe.execute()
                return (new, (Note("requested", new.source),)), True
            existing_id = as_str_or_none(await self.redis.get(number_key))
            if existing_id is None:
                continue
            outcome = await self.update(existing_id, lambda r: merge(r, new))
            if outcome is not None and outcome[0].stage in OPEN:
                return outcome, False
            # the index names a request that is gone or over: drop it (if unchanged) and retry
            await self.redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
                                  "end return 0", 1, number_key, existing_id)
        raise RuntimeError("callback request: the number's index kept changing")

    async def update(self, request_id: str, change: Callable[[Request], Outcome]) -> Outcome | None:
        """Apply ``change`` to the request atomically; None if there is no such request.
        A change that leaves the request as it was writes nothing."""
        key = self.request_key(request_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if not raw:
                        return None
                    try:
                        before = Request.loads(raw)
                    except (ValueError, KeyError, TypeError) as exc:
                        log.warning("callback.bad_record", request_id=request_id, error=str(exc)[:200])
                        return None
                    after, actions = change(before)
                    if after == before:
                        await pipe.reset()
                        return after, actions
                    number_key = self.number_key(after.site, after.number)
                    closing = any(isinstance(a, Close) for a in actions)
                    if closing:
                        await pipe.watch(number_key)
                        indexed = as_str_or_none(await pipe.get(number_key))
                    pipe.multi()
                    if closing or after.stage.final:
                        pipe.set(key, after.dumps(), ex=FINAL_TTL_S)
                        pipe.zrem(self.due_key(after.site), after.id)
                        if closing and indexed == after.id:
                            pipe.delete(number_key)
                    else:
                        pipe.set(key, after.dumps(), ex=OPEN_TTL_S)
                        pipe.zadd(self.due_key(after.site), {after.id: after.due_at})
                    await pipe.execute()
                    return after, actions
                except WatchError:
                    continue

    async def open_requests(self, site: str) -> list[Request]:
        """The site's open requests, oldest first."""
        ids = [as_str(m) for m in await self.redis.zrange(self.due_key(site), 0, -1)]
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for request_id in ids:
            pipe.get(self.request_key(request_id))
        found: list[Request] = []
        for request_id, raw in zip(ids, await pipe.execute(), strict=True):
            if not raw:
                await self.redis.zrem(self.due_key(site), request_id)  # expired or deleted: forget it
                continue
            try:
                found.append(Request.loads(raw))
            except (ValueError, KeyError, TypeError):
                log.warning("callback.bad_record", request_id=request_id)
        return sorted(found, key=lambda r: (r.created_at, r.id))

    async def pending_count(self, site: str) -> int:
        return int(await self.redis.zcard(self.due_key(site)))

    async def due(self, site: str, now: float, limit: int = 50) -> list[str]:
        """The site's requests due by ``now`` (soonest first)."""
        return [as_str(m) for m in await self.redis.zrangebyscore(self.due_key(site), "-inf", now, start=0,
                                                                   num=limit)]

    async def link_attempt(self, channel_id: str, request_id: str) -> None:
        await self.redis.set(self.attempt_key(channel_id), request_id, ex=ATTEMPT_TTL_S)

    async def request_of_attempt(self, channel_id: str) -> str | None:
        return as_str_or_none(await self.redis.get(self.attempt_key(channel_id)))

    async def lead(self, site: str, instance: str, lease_ms: int) -> bool:
        """Whether ``instance`` leads ``site`` (takes or renews the lease)."""
        return bool(await self.redis.eval(_LEAD, 1, self.lead_key(site), instance, lease_ms))
