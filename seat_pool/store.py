"""Seats in Redis, shared by every hotline-link instance.

Keys: ``hl:seat:{site}:{seat}`` (hash: state, registered, device_state, since) and
``hl:claim:{site}:{seat}`` (the call that claimed the seat, with a TTL). A claim is a
``SET NX``: of two routers racing for one seat exactly one wins.
"""

from __future__ import annotations

import time
from typing import Iterable

from redis.asyncio import Redis

from seat_pool.selection import SeatView, idle_longest_first
from seat_pool.state import SeatState, derive_state, effective_state


def seat_key(site: str, seat: str) -> str:
    return f"hl:seat:{site}:{seat}"


def claim_key(site: str, seat: str) -> str:
    return f"hl:claim:{site}:{seat}"


class SeatStore:
    def __init__(self, redis: Redis, claim_ttl_s: int, wrap_up_s: float = 0.0) -> None:
        self.redis = redis
        self.claim_ttl_s = claim_ttl_s
        self.wrap_up_s = wrap_up_s

    async def update(self, site: str, seat: str, *, registered: bool | None = None,
                     device_state: str | None = None) -> tuple[SeatState, SeatState]:
        """Apply one Asterisk signal; return (old state, new state)."""
        key = seat_key(site, seat)
        current = await self.redis.hgetall(key)
        was_registered = current.get("registered") == "1"
        old_device = current.get("device_state", "UNKNOWN")
        old = SeatState(current["state"]) if "state" in current else SeatState.OFFLINE
        now_registered = was_registered if registered is None else registered
        new_device = old_device if device_state is None else device_state
        new = derive_state(now_registered, new_device)
        mapping = {"registered": "1" if now_registered else "0", "device_state": new_device,
                   "state": new.value}
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

    async def view(self, site: str, seats: Iterable[str]) -> list[SeatView]:
        pipe = self.redis.pipeline()
        names = list(seats)
        for seat in names:
            pipe.hgetall(seat_key(site, seat))
        rows = await pipe.execute()
        out = []
        now = time.time()
        for seat, row in zip(names, rows):
            base = SeatState(row.get("state", SeatState.OFFLINE.value))
            wrap_until = float(row.get("wrap_until", "0") or 0)
            state = effective_state(base, row.get("paused", ""), wrap_until, now,
                                    logged_out=row.get("logged_out") == "1")
            since = max(float(row.get("since", "0") or 0), wrap_until if now >= wrap_until else 0)
            out.append(SeatView(site, seat, state, since))
        return out

    async def set_paused(self, site: str, seat: str, reason: str) -> None:
        """Pause with a reason, or (empty reason) make ready: also ends any wrap-up."""
        mapping = {"paused": reason, "wrap_until": "0"}
        if not reason:
            mapping["since"] = repr(time.time())  # ready now: idle from now on
            mapping["logged_out"] = "0"  # ready is logging in again
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
