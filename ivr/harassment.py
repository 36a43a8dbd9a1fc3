"""Harassment screening (恶意滋扰): a number that calls too often, or that an agent or a
supervisor flagged, hears a warning instead of reaching an agent. Reversible and logged.

The policy (``HarassmentPolicy``, ``verdict``, ``flag_record``) is pure; ``HarassmentGuard``
keeps its state in Redis, by the caller's identity (``CallerNumber.identity``: one caller
is one number however it is presented, +8613812341234 or 13812341234):
``hl:harassment:calls:{site}:{identity}`` a sorted set of call times (the sliding window,
expiring with it) and ``hl:harassment:flags`` a hash identity -> JSON {by, reason, at, site}.

The route hook calls ``screen`` on every inbound call; 110 (``EXEMPT_SITES``) is counted and
logged but never warned, so a flagged number can still report an emergency. An anonymous
or withheld number is never screened nor flagged.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from hotline_link.core.bus import EventBus
from hotline_link.core.events import HarassmentFlagged, HarassmentUnflagged, HarassmentWarned
from hotline_link.core.logs import mask_number
from hotline_link.core.numbers import CallerNumber
from hotline_link.core.redis_client import as_str_hash
from ivr.errors import BadNumber, BadReason, NotFlagged
from ivr.schema import HarassmentFlag

log = structlog.get_logger(__name__)

FLAGS_KEY = "hl:harassment:flags"
# an emergency line is never answered with a warning: its calls are counted and logged only
EXEMPT_SITES = frozenset({"110"})
MAX_REASON_CHARS = 120


@dataclass(frozen=True)
class HarassmentPolicy:
    max_calls: int  # more calls than this within the window: warn
    window_s: int


@dataclass(frozen=True)
class Flag:
    number: str  # the caller's identity
    by: str  # "agent 1001", "supervisor", "admin"
    reason: str
    at: float
    site: str = ""

    @property
    def ref(self) -> str:
        return number_ref(self.number)

    def public(self) -> HarassmentFlag:
        """What the HTTP API shows: the number masked, and a ref that DELETE accepts."""
        return HarassmentFlag(number=mask_number(self.number), ref=self.ref, by=self.by,
                              reason=self.reason, at=self.at, site=self.site)


@dataclass(frozen=True)
class Verdict:
    warn: bool
    reason: str = ""  # "flagged" or "too_many_calls"
    calls_in_window: int = 0


def number_ref(number: str) -> str:
    """A stable reference to a number that shows nothing of it (for lists on screens)."""
    return hashlib.sha256(f"hl-harassment:{number}".encode()).hexdigest()[:16]


def verdict(policy: HarassmentPolicy, calls_in_window: int, flagged: bool) -> Verdict:
    """``calls_in_window`` counts this call too."""
    if flagged:
        return Verdict(True, "flagged", calls_in_window)
    if calls_in_window > policy.max_calls:
        return Verdict(True, "too_many_calls", calls_in_window)
    return Verdict(False, "", calls_in_window)


def window_start(policy: HarassmentPolicy, now: float) -> float:
    return now - policy.window_s


def flag_record(number: str, reason: str, by: str, now: float, site: str = "") -> Flag:
    """Validate a flag request: a real number and a short non-empty reason. The flag is
    kept by the caller's identity."""
    caller = CallerNumber.parse(number)
    if caller.is_anonymous:
        raise BadNumber("number: a caller number of 3 to 20 digits is required "
                        "(anonymous callers cannot be flagged)")
    if not isinstance(reason, str) or not reason.strip():
        raise BadReason("reason: say why the number is flagged")
    if len(reason) > MAX_REASON_CHARS:
        raise BadReason(f"reason: at most {MAX_REASON_CHARS} characters")
    return Flag(caller.identity, by, reason.strip(), now, site)


class HarassmentGuard:
    def __init__(self, redis: Redis, policy: HarassmentPolicy, bus: EventBus,
                 exempt_sites: frozenset[str] = EXEMPT_SITES) -> None:
        self.redis = redis
        self.policy = policy
        self.bus = bus
        self.exempt_sites = exempt_sites

    @staticmethod
    def _calls_key(site: str, number: str) -> str:
        return f"hl:harassment:calls:{site}:{number}"

    async def screen(self, site: str, number: str | CallerNumber, now: float | None = None, *,
                     call_id: str = "") -> bool:
        """Record this call from ``number`` to ``site``; True: play the warning. An
        anonymous caller (withheld, malformed, fewer than 3 digits) is never screened.

        A call screened again (intake routes a waiting caller round after round) counts
        once: it is known by ``call_id``, else by the ``call_id`` the route hook bound to
        the call's log context (``structlog.contextvars``)."""
        caller = number if isinstance(number, CallerNumber) else CallerNumber.parse(number)
        if caller.is_anonymous:
            return False
        call_id = call_id or str(structlog.contextvars.get_contextvars().get("call_id", ""))
        now = time.time() if now is None else now
        key = self._calls_key(site, caller.identity)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", window_start(self.policy, now))
        if call_id:
            pipe.zadd(key, {call_id: now}, nx=True)
        else:
            pipe.zadd(key, {f"{now:.6f}-{secrets.token_hex(4)}": now})
        pipe.zcard(key)
        pipe.expire(key, self.policy.window_s + 60)
        pipe.hexists(FLAGS_KEY, caller.identity)
        try:
            _, _, calls, _, flagged = await pipe.execute()
        except (RedisError, OSError) as exc:
            # fail open: a caller is never refused because the screen cannot remember
            log.error("harassment.screen_failed", site=site, reason=str(exc))
            return False
        result = verdict(self.policy, int(calls), bool(flagged))
        if result.warn and site in self.exempt_sites:
            log.warning("harassment.exempt", number=caller.masked, site=site,
                        reason=result.reason, calls_in_window=result.calls_in_window)
            return False
        if result.warn:
            log.warning("harassment.warned", number=caller.masked, site=site,
                        reason=result.reason, calls_in_window=result.calls_in_window,
                        window_s=self.policy.window_s)
            self.bus.emit(HarassmentWarned(number=caller.masked, site=site, reason=result.reason,
                                           calls_in_window=result.calls_in_window))
        return result.warn

    async def flag(self, number: str, reason: str, by: str, site: str = "") -> Flag:
        record = flag_record(number, reason, by, time.time(), site)
        payload = {k: v for k, v in asdict(record).items() if k != "number"}
        await self.redis.hset(FLAGS_KEY, record.number, json.dumps(payload, ensure_ascii=False))
        log.warning("harassment.flagged", number=mask_number(record.number), by=by,
                    reason=record.reason, site=site)
        self.bus.emit(HarassmentFlagged(number=mask_number(record.number), ref=record.ref, by=by,
                                        reason=record.reason))
        return record

    async def flags(self) -> list[Flag]:
        rows = as_str_hash(await self.redis.hgetall(FLAGS_KEY))
        out = []
        for number, raw in rows.items():
            try:
                data = json.loads(raw)
                out.append(Flag(number, str(data.get("by", "")), str(data.get("reason", "")),
                                float(data.get("at", 0)), str(data.get("site", ""))))
            except (ValueError, TypeError, AttributeError):
                log.warning("harassment.bad_flag_record", number=mask_number(number))
        return sorted(out, key=lambda f: f.at)

    async def _resolve(self, number_or_ref: str) -> str:
        caller = CallerNumber.parse(number_or_ref)
        if not caller.is_anonymous and await self.redis.hexists(FLAGS_KEY, caller.identity):
            return caller.identity
        if re.fullmatch(r"[0-9a-f]{16}", number_or_ref or ""):
            for flag in await self.flags():
                if flag.ref == number_or_ref:
                    return flag.number
        raise NotFlagged("that number is not flagged")

    async def unflag(self, number_or_ref: str, by: str) -> str:
        """Lift a flag (by the number or its ref) and forget the number's recent calls, so
        it reaches agents again at once. Returns the number."""
        number = await self._resolve(number_or_ref)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(FLAGS_KEY, number)
        async for key in self.redis.scan_iter(match=f"hl:harassment:calls:*:{number}", count=500):
            pipe.delete(key)
        await pipe.execute()
        log.warning("harassment.unflagged", number=mask_number(number), by=by)
        self.bus.emit(HarassmentUnflagged(number=mask_number(number), ref=number_ref(number), by=by))
        return number

    async def migrate_flags(self) -> int:
        """Re-key flags kept under a number as it was presented (before flags were kept by
        identity: +8613812341234, 008613812341234) by the caller's identity, so screening
        finds them. A flag already under the identity wins. Idempotent; returns how many
        moved. The call windows (``_calls_key``) are not moved: they expire in minutes."""
        moved = 0
        for field, payload in as_str_hash(await self.redis.hgetall(FLAGS_KEY)).items():
            identity = CallerNumber.parse(field).identity
            if not identity or identity == field:
                continue
            pipe = self.redis.pipeline(transaction=True)
            pipe.hsetnx(FLAGS_KEY, identity, payload)
            pipe.hdel(FLAGS_KEY, field)
            await pipe.execute()
            moved += 1
        if moved:
            log.warning("harassment.flags_migrated", moved=moved)
        return moved
