"""Seats in Redis, shared by every hotline-link instance.

Keys: ``hl:seat:{site}:{seat}`` (hash: state, registered, device_state, since) and
``hl:claim:{site}:{seat}`` (the call that claimed the seat, with a TTL). A claim is a
``SET NX``: of two routers racing for one seat exactly one wins.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import structlog
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from hotline_link.core.redis_client import as_str_hash
from seat_pool.selection import SeatView, idle_longest_first
from seat_pool.state import SeatState, derive_state, effective_state

log = structlog.get_logger(__name__)


def seat_key(site: str, seat: str) -> str:
    return f"hl:seat:{site}:{seat}"


def claim_key(site: str, seat: str) -> str:
    return f"hl:claim:{site}:{seat}"


def ready_fields(now: float) -> dict[FieldT, EncodableT]:
    """A seat's fields once it is made ready: no pause, no wrap-up, logged in, idle from now."""
    return {"paused": "", "wrap_until": "0", "since": repr(now), "logged_out": "0"}


def left_unready(fields: dict[str, str], now: float) -> bool:
    """Whether a seat's fields hold it out of the pool: paused, logged out or in wrap-up."""
    held = effective_state(SeatState.IDLE, fields.get("paused", ""), float(fields.get("wrap_until") or 0), now,
                           logged_out=fields.get("logged_out") == "1")
    return held is not SeatState.IDLE


class SeatStore:
    def __init__(self, redis: Redis, claim_ttl_s: int, wrap_up_s: float = 0.0) -> None:
        self.redis = redis
        self.claim_ttl_s = claim_ttl_s
        self.wrap_up_s = wrap_up_s

    async def update(self, site: str, seat: str, *, registered: bool | None = None,
                     device_state: str | None = None) -> tuple[SeatState, SeatState]:
        """Apply one Asterisk signal; return (old state, new state)."""
        key = seat_key(site, seat)
        current = as_str_hash(await self.redis.hgetall(key))
        was_registered = current.get("registered") == "1"
        old_device = current.get("device_state", "UNKNOWN")
        try:
            old = SeatState(current.get("state", SeatState.OFFLINE.value))
        except ValueError:  # a record that does not parse is rewritten from Asterisk's signal
            old = SeatState.OFFLINE
        now_registered = was_registered if registered is None else registered
        new_device = old_device if device_state is None else device_state
        new = derive_state(now_registered, new_device)
        mapping: dict[FieldT, EncodableT] = {"registered": "1" if now_registered else "0",
                                             "device_state": new_device, "state": new.value}
        now = time.time()
        if new is not old or "since" not in current:
            mapping["since"] = repr(now)
        if old is SeatState.TALKING and new is SeatState.IDLE and self.wrap_up_s > 0:
            mapping["wrap_until"] = repr(now + self.wrap_up_s)
        if now_registered and not was_registered:
            mapping["logged_out"] = "0"  # a fresh registration logs a logged-out seat in again
        await self.redis.hset(key, mapping=mapping)
        if new is not SeatState.IDLE:
            await self.redis.delete(claim_key(site, seat))  # the call arrived, or the seat left
        return old, new

    async def view(self, site: str, seats: Iterable[str], unclaimed: bool = False) -> list[SeatView]:
        """Every seat as it is now; with ``unclaimed``, an idle seat another call has
        claimed (and is about to ring) reads as ringing."""
        pipe = self.redis.pipeline()
        names = list(seats)
        for seat in names:
            pipe.hgetall(seat_key(site, seat))
        if unclaimed:
            for seat in names:
                pipe.exists(claim_key(site, seat))
        rows = await pipe.execute()
        claimed = rows[len(names):] if unclaimed else [0] * len(names)
        now = time.time()
        out = []
        for seat, row, taken in zip(names, rows[:len(names)], claimed, strict=True):
            view = _seat_view(site, seat, row, now)
            if taken and view.state is SeatState.IDLE:
                view = SeatView(site, seat, SeatState.RINGING, view.since)
            out.append(view)
        return out

    async def release(self, site: str, seat: str, call_id: str) -> bool:
        """Drop the claim ``call_id`` holds on the seat (never another call's)."""
        return bool(await self.redis.eval(_RELEASE, 1, claim_key(site, seat), call_id))

    async def set_paused(self, site: str, seat: str, reason: str) -> None:
        """Pause with a reason, or (empty reason) make ready: also ends any wrap-up."""
        mapping: dict[FieldT, EncodableT] = (
            {"paused": reason, "wrap_until": "0"} if reason else ready_fields(time.time()))
        await self.redis.hset(seat_key(site, seat), mapping=mapping)
        if reason:
            await self.redis.delete(claim_key(site, seat))

    async def claim(self, site: str, seat: str, call_id: str) -> bool:
        """Claim one seat for a call; False if another call (or instance) has it."""
        return bool(await self.redis.set(claim_key(site, seat), call_id, nx=True, ex=self.claim_ttl_s))

    async def set_logged_out(self, site: str, seat: str) -> None:
        """A supervisor logs the seat out: offline in the pool (no routed call) until its
        softphone registers anew or the seat is made ready."""
        await self.redis.hset(seat_key(site, seat), mapping={"logged_out": "1", "paused": "",
                                                             "since": repr(time.time())})
        await self.redis.delete(claim_key(site, seat))

    async def claim_idle(self, site: str, seats: Iterable[str], call_id: str) -> str | None:
        """Claim the longest-idle seat not already claimed; None if every seat is taken."""
        for candidate in idle_longest_first(await self.view(site, seats)):
            if await self.claim(site, candidate.seat, call_id):
                return candidate.seat
        return None


_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def _seat_view(site: str, seat: str, row: dict[str, str], now: float) -> SeatView:
    """One seat's hash as a view; a row that does not parse (an old schema, a hand edit)
    reads as offline, so one bad record never stops routing for the whole site."""
    try:
        base = SeatState(row.get("state", SeatState.OFFLINE.value))
        wrap_until = float(row.get("wrap_until", "0") or 0)
        since = max(float(row.get("since", "0") or 0), wrap_until if now >= wrap_until else 0)
    except ValueError:
        log.warning("seat.bad_record", site=site, seat=seat)
        return SeatView(site, seat, SeatState.OFFLINE, 0.0)
    state = effective_state(base, row.get("paused", ""), wrap_until, now,
                            logged_out=row.get("logged_out") == "1")
    return SeatView(site, seat, state, since)
