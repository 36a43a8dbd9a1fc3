"""What a caller's number did before, per platform: its tickets and its calls (for the
screen pop, ``call_control.screen_pop``).

Two sorted sets per number and platform, the number's identity hashed in the key
(``tickets.redis_keys``): ``hl:number-tickets:...`` (ticket id by opening time), written
wherever a ticket is saved with its caller or a call of a number joins a ticket
(``TicketStore``), and ``hl:number-calls:...`` (call id by start), written as the
timeline records a call's start. Each keeps its newest ``HISTORY_SIZE`` entries and
expires after a quiet spell (every write renews it), so a number costs a few hundred bytes
and nobody's history lasts forever. Nothing is backfilled: a number never seen since the
index exists has no history yet; an entry whose ticket or story is gone is skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from hotline_link.core.events import CallAnswered
from hotline_link.core.numbers import CallerNumber
from hotline_link.core.redis_client import as_str, as_str_entries
from tickets.redis_keys import number_calls_key, number_tickets_key, timeline_call_key

HISTORY_SIZE = 20  # entries kept per number and platform: the newest
TICKETS_TTL_S = 90 * 86400  # a case may stay open for weeks
CALLS_TTL_S = 30 * 86400
# A service number a trunk presents (110, 12345, 95598) or an internal extension is not one
# subscriber's: a history under it would pool unrelated callers.
MIN_HISTORY_DIGITS = 7
STORY_READ = 100  # a past call's first entries read for who answered it (far more than it has)


def history_identity(number: str) -> str | None:
    """The identity a number's history is kept under; None for a number that has none:
    withheld or malformed (anonymous), or too short to be one subscriber's."""
    caller = CallerNumber.parse_written(number)
    if caller.is_anonymous or sum(ch.isdigit() for ch in caller.identity) < MIN_HISTORY_DIGITS:
        return None
    return caller.identity


def _stage(pipe: Pipeline, key: str, member: str, at: float, ttl_s: int, *, first_time: bool) -> None:
    pipe.zadd(key, {member: at}, nx=first_time)
    pipe.zremrangebyrank(key, 0, -HISTORY_SIZE - 1)
    pipe.expire(key, ttl_s)


def stage_ticket(pipe: Pipeline, site: str, caller: str, ticket_id: str, opened_at: float) -> None:
    """Queued on ``pipe``: ``ticket_id`` of platform ``site`` is a ticket of ``caller``
    (nothing for a number without a history)."""
    identity = history_identity(caller)
    if identity is not None:
        _stage(pipe, number_tickets_key(site, identity), ticket_id, opened_at, TICKETS_TTL_S, first_time=False)


def stage_call(pipe: Pipeline, site: str, caller: str, call_id: str, started_at: float) -> None:
    """Queued on ``pipe``: ``caller`` made the call ``call_id`` to ``site``. Every server
    instance hears the start: the first one's time stays."""
    identity = history_identity(caller)
    if identity is not None:
        _stage(pipe, number_calls_key(site, identity), call_id, started_at, CALLS_TTL_S, first_time=True)


@dataclass(frozen=True)
class PastCall:
    """A call a number made, as its story tells it."""

    call_id: str
    started_at: float
    answered_by: str | None  # the device that answered first (PJSIP/1001); None if nobody did


def _answered_by(raw: object) -> str | None:
    for _, fields in as_str_entries(raw):  # type: ignore[arg-type]  # XRANGE's reply
        if fields.get("event") != CallAnswered.NAME:
            continue
        try:
            data = json.loads(fields.get("data", "{}"))
        except ValueError:
            return None
        answered_by = data.get("answered_by") if isinstance(data, dict) else None
        return str(answered_by) if answered_by else None
    return None


class NumberHistory:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def ticket_ids(self, site: str, caller: str) -> list[str]:
        """The number's tickets on ``site``, newest first (at most ``HISTORY_SIZE``)."""
        identity = history_identity(caller)
        if identity is None:
            return []
        return [as_str(member) for member in await self.redis.zrevrange(number_tickets_key(site, identity), 0, -1)]

    async def calls(self, site: str, caller: str, limit: int = HISTORY_SIZE) -> list[PastCall]:
        """The number's newest ``limit`` calls to ``site``, newest first, with who answered
        each, read in two round trips."""
        identity = history_identity(caller)
        if identity is None or limit <= 0:
            return []
        raw = await self.redis.zrevrange(number_calls_key(site, identity), 0, limit - 1, withscores=True)
        started = [(as_str(pair[0]), float(pair[1])) for pair in raw]
        if not started:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for call_id, _ in started:
            pipe.xrange(timeline_call_key(call_id), count=STORY_READ)
        stories = await pipe.execute()
        return [PastCall(call_id, at, _answered_by(story))
                for (call_id, at), story in zip(started, stories, strict=True)]
