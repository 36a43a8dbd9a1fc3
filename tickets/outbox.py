"""At-least-once delivery of pushes to the other platform, through Redis.

A job is a hash ``hl:outbox:job:{id}`` (url, body, attempts) plus its due time in the
sorted set ``hl:outbox:due``. A worker leases a due job (a Lua script moves its due time a
lease ahead, so of several server instances one delivers it, and a crashed worker's job
comes due again); success deletes it; failure backs off; a permanent refusal (4xx other
than 408/429, a redirect, a URL the rules refuse) or ``MAX_ATTEMPTS`` failures move it to
``hl:outbox:dead`` with the reason, and the supervisors are alerted (``push.dead``). Nothing
is lost by a peer being down or by a restart; the receiver is idempotent on ``push_id``.

A signed body goes only where it was addressed: redirects are not followed, ``https`` is
required except to a loopback address when ``allow_http_loopback`` (the sandbox), and at
most ``MAX_REPLY_BYTES`` of a reply are read. Jobs live ``JOB_TTL_S``, dead letters
``DEAD_TTL_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping

import aiohttp
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from hotline_link.core.bus import EventBus
from hotline_link.core.events import PushDead, PushDelivered, PushQueued, PushRetry
from hotline_link.core.net import url_refusal
from hotline_link.core.redis_client import as_str_hash
from hotline_link.core.tasks import cancel_and_wait
from tickets.redis_keys import OUTBOX_DEAD as DEAD
from tickets.redis_keys import OUTBOX_DEAD_AT as DEAD_AT
from tickets.redis_keys import OUTBOX_DUE as DUE
from tickets.redis_keys import outbox_job_key as job_key
from tickets.signing import sign

log = structlog.get_logger(__name__)

LEASE_S = 30.0
MAX_BACKOFF_S = 60.0
MAX_ATTEMPTS = 30  # about 25 minutes of retries at the capped back-off
MAX_REPLY_BYTES = 4096
JOB_TTL_S = 7 * 86400
DEAD_TTL_S = 30 * 86400

# Lease the due members of a sorted set (score = when due) in one step: they move to
# ARGV[2] (now + a lease), so of several instances scanning at once each member goes to one;
# shared with linkage.deadlines
LEASE_DUE = """
local due = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do redis.call('zadd', KEYS[1], ARGV[2], id) end
return due
"""


def backoff_s(attempts: int) -> float:
    return min(MAX_BACKOFF_S, 0.5 * 2 ** max(0, attempts - 1))


def permanent(status: int) -> bool:
    """A refusal that retrying cannot change: a 4xx but 408/425/429, or a redirect."""
    return (400 <= status < 500 and status not in (408, 425, 429)) or 300 <= status < 400


class Outbox:
    def __init__(self, redis: Redis, bus: EventBus, secret: str, timeout_s: float = 5.0,
                 secrets: Mapping[str, str] | None = None, allow_http_loopback: bool = True) -> None:
        self.redis = redis
        self.allow_http_loopback = allow_http_loopback
        self.bus = bus
        self.secret = secret
        self.secrets = dict(secrets or {})  # other HMAC secrets by name (a job's secret_ref)
        self.timeout_s = timeout_s
        self._lease = redis.register_script(LEASE_DUE)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add_secrets(self, secrets: Mapping[str, str]) -> None:
        """More HMAC secrets by name (a plugin that sends through this outbox adds its own)."""
        self.secrets.update(secrets)

    async def enqueue(self, job_id: str, url: str, body: dict[str, object], secret_ref: str = "") -> None:
        """Queue a signed POST; ``secret_ref`` names the secret to sign with (default: the
        push secret shared with the other platform)."""
        pipe = self.redis.pipeline()
        pipe.hset(job_key(job_id), mapping={"url": url, "body": json.dumps(body, ensure_ascii=False),
                                            "attempts": 0, "secret_ref": secret_ref})
        pipe.expire(job_key(job_id), JOB_TTL_S)
        pipe.zadd(DUE, {job_id: time.time()})
        await pipe.execute()
        self._wake.set()
        self.bus.emit(PushQueued(push_id=job_id, url=url))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])

    async def pending(self) -> int:
        return int(await self.redis.zcard(DUE))

    async def _run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as http:
            while True:
                try:
                    leased = await self._lease(keys=[DUE], args=[time.time(), time.time() + LEASE_S, 20])
                except RedisError as exc:
                    log.warning("outbox.redis_unavailable", error=str(exc))
                    leased = []
                # side by side: one slow peer must not hold up the others' pushes
                await asyncio.gather(*(self._deliver(http, job_id) for job_id in leased))
                if not leased:
                    self._wake.clear()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), 0.5)

    async def _deliver(self, http: aiohttp.ClientSession, job_id: str) -> None:
        job = as_str_hash(await self.redis.hgetall(job_key(job_id)))
        if not job:
            await self.redis.zrem(DUE, job_id)
            return
        body = job["body"].encode()
        stamp = f"{time.time():.3f}"
        secret = self.secrets.get(job["secret_ref"], "") if job.get("secret_ref") else self.secret
        headers = {"Content-Type": "application/json", "X-HL-Timestamp": stamp,
                   "X-HL-Signature": sign(secret, stamp, body)}
        refusal = url_refusal(job.get("url", ""), self.allow_http_loopback)
        if not secret:  # a job whose secret is not configured is never sent unsigned
            status, text = 400, f"no secret {job.get('secret_ref') or 'push_secret'} configured"
        elif refusal:
            status, text = 400, f"{refusal}: not sent"
        else:
            try:
                async with http.post(job["url"], data=body, headers=headers, allow_redirects=False) as resp:
                    status = resp.status
                    reply = await resp.content.read(MAX_REPLY_BYTES)
                    text = reply.decode("utf-8", "replace")[:200]
                    if 300 <= status < 400:
                        text = "redirect refused: a signed body goes only where it was addressed"
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                status, text = 0, type(exc).__name__
        if 200 <= status < 300:
            pipe = self.redis.pipeline()
            pipe.zrem(DUE, job_id)
            pipe.delete(job_key(job_id))
            await pipe.execute()
            log.info("push.delivered", push_id=job_id, status=status)
            self.bus.emit(PushDelivered(push_id=job_id, status=status))
            return
        attempts = int(job.get("attempts", 0) or 0) + (0 if permanent(status) else 1)
        if permanent(status) or attempts >= MAX_ATTEMPTS:
            reason = text if permanent(status) else f"gave up after {attempts} attempts: {text}"
            await self._bury(job_id, status, reason)
            return
        await self.redis.hincrby(job_key(job_id), "attempts", 1)
        await self.redis.zadd(DUE, {job_id: time.time() + backoff_s(attempts)})
        log.warning("push.retry", push_id=job_id, status=status, error=text, attempts=attempts)
        self.bus.emit(PushRetry(push_id=job_id, status=status, attempts=attempts))

    async def _bury(self, job_id: str, status: int, reason: str) -> None:
        """A dead letter (kept ``DEAD_TTL_S``), and the supervisors told (``push.dead``)."""
        now = time.time()
        pipe = self.redis.pipeline()
        pipe.zrem(DUE, job_id)
        pipe.hset(DEAD, job_id, json.dumps({"status": status, "reason": reason, "at": now}, ensure_ascii=False))
        pipe.zadd(DEAD_AT, {job_id: now})
        await pipe.execute()
        expired = await self.redis.zrangebyscore(DEAD_AT, "-inf", now - DEAD_TTL_S)
        if expired:
            pipe = self.redis.pipeline()
            pipe.hdel(DEAD, *expired)
            pipe.zrem(DEAD_AT, *expired)
            await pipe.execute()
        log.error("push.refused", push_id=job_id, status=status, reason=reason)
        self.bus.emit(PushDead(push_id=job_id, status=status, reason=reason))
