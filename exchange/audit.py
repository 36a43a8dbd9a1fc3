"""The exchange channel's audit (可追溯): every message in and out, and what became of it.

Both stores append, in the same MULTI/EXEC as the step they record, one entry per message
outcome to ``hl:exchange:log`` (a capped stream, for operators) and to the index of the
ticket it is about, kept as long as tickets, so the plugin can list every message about
one of our tickets:

- outgoing messages under our ``ticket``;
- incoming ones under their ``peer_ticket`` (our ticket) when they name it; a handover
  that opens a case here names none, so it goes under its stream (the peer's ticket)
  until ``link`` joins that stream to the ticket we opened.

What is no outcome (a retry, a refusal to retry later) goes only to the small capped
``hl:exchange:retries`` (``record_retry``): a long outage neither floods the log the
linkage report counts nor pushes real outcomes out of it.

The log keeps about a month; what the report counts is also counted, in the same
MULTI/EXEC, into the hash of its local day (``hl:exchange:days:<YYYY-MM-DD>``, kept over a
year; ``linkage.exchange_days``), so a yearly report counts every message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.typing import EncodableT, FieldT

from exchange.messages import Envelope, HandoverBody, StatusBody
from exchange.redis_keys import (
    DAYS_SINCE,
    DAYS_SINCE_MEMBER,
    LOG,
    RETRIES,
    about_key,
    about_stream_key,
    day_key,
    linked_key,
)
from hotline_link.core.redis_client import as_str_entries, as_str_hash, as_str_list
from linkage.exchange_days import day_fields, day_of
from tickets.store import TICKET_TTL_S

LOG_MAXLEN = 100_000  # about the entries of a busy month; the per-ticket index keeps the rest
RETRIES_MAXLEN = 1_000  # the latest attempts to be made again, for an operator looking at a backlog
ABOUT_MAXLEN = 1_000  # one ticket's messages: far more than a case ever has
READ_BATCH = 10_000  # log entries read per XRANGE
DAYS_KEPT_S = 410 * 24 * 3600  # a day's counters: past the longest report (400 days), asked a few days late

Direction = Literal["in", "out"]


def kind_of(envelope: Envelope) -> str:
    """What kind of its type a message is, for the reports that count them: a handover's
    mode, a status's stage; "" for the other types. A label, never content."""
    body = envelope.body
    if isinstance(body, HandoverBody):
        return body.mode
    if isinstance(body, StatusBody):
        return body.stage
    return ""


def entry(direction: Direction, envelope: Envelope, outcome: str, at: float, reason: str = "") -> dict[str, str]:
    """The audit entry of one outcome of ``envelope``: what it was (its type and kind),
    never its body (the body may be content the boundary refused)."""
    return {"direction": direction, "message_id": envelope.message_id, "type": envelope.type,
            "kind": kind_of(envelope), "from": envelope.from_platform, "to": envelope.to_platform,
            "ticket": envelope.ticket, "peer_ticket": envelope.peer_ticket or "", "seq": str(envelope.seq),
            "outcome": outcome, "reason": reason, "at": repr(float(at))}


def index_key(direction: Direction, envelope: Envelope) -> str:
    """Where an entry is indexed: under the ticket of ours it is about."""
    if direction == "out":
        return about_key(envelope.ticket)
    if envelope.peer_ticket:
        return about_key(envelope.peer_ticket)
    return about_stream_key(*envelope.stream)


def record(pipe: Pipeline, direction: Direction, envelope: Envelope, outcome: str, at: float,
           reason: str = "", *, repeat: bool = False) -> None:
    """Queue the entry of an outcome on ``pipe`` (inside the step's MULTI): the log the
    report counts, the ticket's index and, unless it ``repeat``s an outcome this side
    recorded of the message before (a duplicate, a held message now applied), its day's
    counters."""
    written = entry(direction, envelope, outcome, at, reason)
    fields: dict[FieldT, EncodableT] = {k: v for k, v in written.items()}
    pipe.xadd(LOG, fields, maxlen=LOG_MAXLEN, approximate=True)
    key = index_key(direction, envelope)
    pipe.xadd(key, fields, maxlen=ABOUT_MAXLEN, approximate=True)
    pipe.expire(key, TICKET_TTL_S)
    if not repeat:
        count_day(pipe, written, at)


def count_day(pipe: Pipeline, written: Mapping[str, str], at: float) -> None:
    """Queue the day's counters of an entry the report counts (none for other outcomes)."""
    names = day_fields(written)
    if not names:
        return
    key = day_key(day_of(at))
    for name in names:
        pipe.hincrby(key, name, 1)
    pipe.expire(key, DAYS_KEPT_S)
    pipe.zadd(DAYS_SINCE, {DAYS_SINCE_MEMBER: at}, lt=True)


def record_retry(pipe: Pipeline, direction: Direction, envelope: Envelope, outcome: str, at: float,
                 reason: str = "") -> None:
    """Queue the entry of what is no outcome (an attempt to be made again: a retry, a
    refusal to retry later) on ``pipe``: the small retries stream only, so a peer away for a
    day neither floods the log the report counts nor pushes real outcomes out of it."""
    fields: dict[FieldT, EncodableT] = {k: v for k, v in entry(direction, envelope, outcome, at, reason).items()}
    pipe.xadd(RETRIES, fields, maxlen=RETRIES_MAXLEN, approximate=True)


def _entry_id(entry_id: str) -> tuple[int, int]:
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)


class Audit:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def link(self, peer_platform: str, peer_ticket: str, ticket_id: str) -> None:
        """The incoming stream (the peer's ticket) is about our ``ticket_id``: its handover
        and whatever came before the link show under that ticket from now on."""
        pipe = self.redis.pipeline(transaction=True)
        self.stage_link(pipe, peer_platform, peer_ticket, ticket_id)
        await pipe.execute()

    @staticmethod
    def stage_link(pipe: Pipeline, peer_platform: str, peer_ticket: str, ticket_id: str) -> None:
        """``link`` queued on ``pipe``: for a step that writes more in the same transaction
        (a handover taken also enters the cases' index)."""
        pipe.sadd(linked_key(ticket_id), f"{peer_platform}:{peer_ticket}")
        pipe.expire(linked_key(ticket_id), TICKET_TTL_S)

    async def is_linked(self, ticket_id: str, peer_platform: str, peer_ticket: str) -> bool:
        """Did a handover (or the 签收 of ours) join the peer's ticket to our ``ticket_id``?"""
        return bool(await self.redis.sismember(linked_key(ticket_id), f"{peer_platform}:{peer_ticket}"))

    async def refused(self, envelope: Envelope, reason: str, at: float) -> None:
        """An applied message this side will not act on (it names a ticket pair no handover
        linked): recorded as refused with the reason, never a body."""
        pipe = self.redis.pipeline(transaction=True)
        record(pipe, "in", envelope, "refused", at, reason)
        await pipe.execute()

    async def messages_about(self, ticket_id: str) -> list[dict[str, Any]]:
        """Every audited message about our ``ticket_id``, in the order they happened (the
        streams' ids, given by one Redis server's clock, order entries of several keys)."""
        keys = [about_key(ticket_id)]
        for member in sorted(as_str_list(await self.redis.smembers(linked_key(ticket_id)))):
            platform, _, peer_ticket = member.partition(":")
            keys.append(about_stream_key(platform, peer_ticket))
        rows: list[tuple[str, dict[str, str]]] = []
        for key in keys:
            rows += as_str_entries(await self.redis.xrange(key))
        rows.sort(key=lambda row: _entry_id(row[0]))
        return [{**fields, "id": rid, "seq": int(fields["seq"]), "at": float(fields["at"])} for rid, fields in rows]

    async def between(self, start: float, end: float) -> list[dict[str, str]]:
        """The log's entries with ``start <= at < end``, oldest first: what the linkage
        report counts (``linkage.exchange_figures``). The ids are Redis's clock and ``at``
        ours, so the range is read a minute wider and filtered on ``at``."""
        out: list[dict[str, str]] = []
        low, high = f"{max(0, int(start * 1000) - 60_000)}", f"{int(end * 1000) + 60_000}"
        while True:
            rows = as_str_entries(await self.redis.xrange(LOG, low, high, count=READ_BATCH))
            out += [{**fields, "id": rid} for rid, fields in rows if start <= float(fields.get("at", "nan")) < end]
            if len(rows) < READ_BATCH:
                return out
            low = "(" + rows[-1][0]

    async def counted_since(self) -> float | None:
        """The earliest ``at`` counted into a day's counters; None if none ever was."""
        score = await self.redis.zscore(DAYS_SINCE, DAYS_SINCE_MEMBER)
        return None if score is None else float(score)

    async def day_counts(self, days: Sequence[str]) -> dict[str, dict[str, str]]:
        """Each local day's counters (``YYYY-MM-DD`` -> field -> count), in one round trip;
        a day with none is empty."""
        pipe = self.redis.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(day_key(day))
        return {day: as_str_hash(raw) for day, raw in zip(days, await pipe.execute(), strict=True)}

    async def log(self, count: int = 100) -> list[dict[str, str]]:
        """The latest ``count`` entries of the whole log, newest last."""
        rows = as_str_entries(await self.redis.xrevrange(LOG, count=count))
        return [{**fields, "id": rid} for rid, fields in reversed(rows)]

    async def retries(self, count: int = 100) -> list[dict[str, str]]:
        """The latest ``count`` attempts to be made again (``record_retry``), newest last."""
        rows = as_str_entries(await self.redis.xrevrange(RETRIES, count=count))
        return [{**fields, "id": rid} for rid, fields in reversed(rows)]
