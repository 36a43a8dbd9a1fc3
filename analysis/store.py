"""The analysis state in Redis (keys in ``analysis.redis_keys``): the alert state of each
watched key per platform, the alerts raised (a sorted set by time, 30 days), each
ticket's disputes heard on the bus, the scanner's leader lease and the report claims."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog
from redis.asyncio import Redis

from analysis import redis_keys as keys
from analysis.alerts import State
from analysis.figures import Disputes

log = structlog.get_logger(__name__)

ALERTS_KEPT_S = 30 * 86400
DISPUTES_TTL_S = 400 * 86400
STATE_TTL_S = 7 * 86400  # a key watched but not looked at for a week is forgotten
_LEAD = ("if redis.call('GET', KEYS[1]) == ARGV[1] or "
         "redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then "
         "redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end return 0")
_RESIGN = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
DISPUTE_FIELDS = ("bounced", "refused", "lead_dispatches")


class AnalysisStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def lead(self, instance: str, lease_ms: int) -> bool:
        """Whether ``instance`` leads the deployment's scans (takes or renews the lease)."""
        return bool(await self.redis.eval(_LEAD, 1, keys.LEAD, instance, lease_ms))

    async def resign(self, instance: str) -> None:
        """Give the lease up if ``instance`` holds it, so another instance (or the next
        start) leads at once instead of after the lease runs out."""
        await self.redis.eval(_RESIGN, 1, keys.LEAD, instance)

    async def states(self, site: str) -> dict[str, State]:
        raw = await self.redis.hgetall(keys.alert_state_key(site))
        out = {}
        for key, value in raw.items():
            try:
                out[str(key)] = State.loads(str(value))
            except (ValueError, KeyError, TypeError):
                log.warning("analysis.bad_state", site=site, key=str(key)[:100])
        return out

    async def save_states(self, site: str, changed: Mapping[str, State], quiet: Iterable[str],
                          alerts: Sequence[Mapping[str, Any]] = (), now: float = 0.0) -> None:
        """A scan's outcome in one transaction: the keys' states and the alerts they raise
        are kept together or not at all (never a surge marked raised with its alert lost)."""
        key = keys.alert_state_key(site)
        pipe = self.redis.pipeline(transaction=True)
        for alert in alerts:
            pipe.zadd(keys.ALERTS, {json.dumps(alert, ensure_ascii=False, sort_keys=True): alert["raised_at"]})
        if alerts:
            pipe.zremrangebyscore(keys.ALERTS, "-inf", f"({now - ALERTS_KEPT_S}")
        if changed:
            pipe.hset(key, mapping={k: s.dumps() for k, s in changed.items()})
        gone = list(quiet)
        if gone:
            pipe.hdel(key, *gone)
        pipe.expire(key, STATE_TTL_S)
        await pipe.execute()

    async def alerts(self, since: float, limit: int = 500) -> list[dict[str, Any]]:
        """The alerts raised at or after ``since``, newest first."""
        out = []
        for raw in await self.redis.zrevrangebyscore(keys.ALERTS, "+inf", since, start=0, num=limit):
            try:
                out.append(json.loads(str(raw)))
            except ValueError:
                continue
        return out

    async def note_dispute(self, ticket_id: str, field: str) -> None:
        key = keys.disputes_key(ticket_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby(key, field, 1)
        pipe.expire(key, DISPUTES_TTL_S)
        await pipe.execute()

    async def disputes(self, ticket_ids: Sequence[str]) -> dict[str, Disputes]:
        pipe = self.redis.pipeline(transaction=False)
        for ticket_id in ticket_ids:
            pipe.hmget(keys.disputes_key(ticket_id), *DISPUTE_FIELDS)
        out = {}
        for ticket_id, row in zip(ticket_ids, await pipe.execute(), strict=True):
            if any(row):
                out[ticket_id] = Disputes(*(int(v or 0) for v in row))
        return out

    async def backfilled(self) -> bool:
        return bool(await self.redis.exists(keys.BACKFILLED))

    async def mark_backfilled(self, now: float) -> None:
        await self.redis.set(keys.BACKFILLED, str(now))

    async def claim_report(self, name: str, instance: str) -> bool:
        return bool(await self.redis.set(keys.report_claim_key(name), instance, nx=True, ex=400 * 86400))

    async def release_report(self, name: str) -> None:
        await self.redis.delete(keys.report_claim_key(name))
