"""The sender's outbox in this deployment's Redis: ``sequencing.step`` made durable and safe
for several server instances at once.

Each of our tickets has a queue per peer platform (``hl:exchange:out:queue:<to>:<ticket>``,
JSON of ``sequencing.Queue``); each message a hash (``hl:exchange:out:message:<id>``: the
envelope, its queue, where it stands), kept after it is taken so enqueueing the same
message id again gives the same message, not a second one. Only a queue's head is in
flight: its id sits in the sorted set ``hl:exchange:out:due`` by when it is next due.
Every step is one MULTI/EXEC over the queue (``redis_state.transact``): the queue, the
message, its due time and the audit change together or not at all.

``due`` leases the heads whose time has come in one Lua step (``tickets.outbox.LEASE_DUE``),
so two instances never send the same head at once, and a head whose sender died comes
due again when the lease runs out. A transient failure only moves the head's due time
(``retry_later``): nothing is dropped, however long the peer is away. A final refusal
stops the queue (``rejected``) and lists it in ``hl:exchange:out:stopped`` for operators
until one ``resume``s it; other tickets go on.
"""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from exchange import audit, sequencing
from exchange.errors import BadMessage
from exchange.messages import AnyBody, Envelope, make_envelope, new_message_id, parse_envelope, restamped
from exchange.redis_keys import (
    OUTBOX_BACKLOG,
    OUTBOX_DUE,
    OUTBOX_STOPPED,
    outbox_message_key,
    outbox_queue_key,
    stopped_field,
)
from exchange.redis_state import CorruptState, load_record, transact
from hotline_link.core.redis_client import as_str_hash, as_str_list, as_str_or_none
from tickets.outbox import LEASE_DUE, backoff_s
from tickets.store import TICKET_TTL_S

log = structlog.get_logger(__name__)

PENDING, DONE, VOIDED = "pending", "done", "voided"  # where a stored message stands


class _QueueRecord(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    next_seq: int = Field(ge=1)
    pending: list[tuple[str, int]]  # (message id, seq), in seq order
    stopped: str = ""


def _load_queue(key: str, raw: object) -> sequencing.Queue:
    if raw is None:
        return sequencing.Queue()
    record = load_record(key, raw, _QueueRecord)
    return sequencing.Queue(record.next_seq, tuple(sequencing.Pending(mid, seq) for mid, seq in record.pending),
                            record.stopped)


def _dump_queue(queue: sequencing.Queue) -> str:
    return json.dumps({"next_seq": queue.next_seq, "pending": [[p.message_id, p.seq] for p in queue.pending],
                       "stopped": queue.stopped}, ensure_ascii=False, separators=(",", ":"))


def _load_envelope(key: str, raw: str) -> Envelope:
    try:
        return parse_envelope(raw.encode())
    except BadMessage as exc:
        raise CorruptState(key, f"envelope: {exc}") from None


def _envelope_json(envelope: Envelope) -> str:
    return json.dumps(envelope.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))


def _at(now: float | None) -> float:
    return time.time() if now is None else now


class OutboxStore:
    """The sender's outbox of ``platform`` (this deployment)."""

    def __init__(self, redis: Redis, platform: str) -> None:
        self.redis = redis
        self.platform = platform
        self.audit = audit.Audit(redis)
        self._lease = redis.register_script(LEASE_DUE)

    async def enqueue(self, to_platform: str, ticket: str, body: AnyBody, *, peer_ticket: str | None,
                      now: float, message_id: str | None = None) -> Envelope:
        """Queue ``body`` about our ``ticket`` for ``to_platform``: the envelope with the
        ticket's next seq, due now if its queue is idle. The same ``message_id`` again gives
        the stored message (even after the peer took it), never a second seq."""
        mid = message_id or new_message_id()
        queue_key, message_key = outbox_queue_key(to_platform, ticket), outbox_message_key(mid)

        async def step(pipe: Pipeline) -> tuple[Envelope, bool]:
            known = as_str_or_none(await pipe.hget(message_key, "envelope"))
            if known is not None:
                stored = _load_envelope(message_key, known)
                if (stored.to_platform, stored.ticket) != (to_platform, ticket):
                    raise ValueError(f"message {mid} is already queued for {stored.ticket} to {stored.to_platform}")
                return stored, False
            queue, actions = sequencing.step(_load_queue(queue_key, await pipe.get(queue_key)),
                                             sequencing.Enqueue(mid))
            seq = next(a.seq for a in actions if isinstance(a, sequencing.Assign))
            envelope = make_envelope(body, from_platform=self.platform, to_platform=to_platform, ticket=ticket,
                                     seq=seq, sent_at=now, peer_ticket=peer_ticket, message_id=mid)
            pipe.multi()
            pipe.set(queue_key, _dump_queue(queue), ex=TICKET_TTL_S)
            pipe.hset(message_key, mapping={"envelope": _envelope_json(envelope), "state": PENDING, "attempts": 0})
            pipe.expire(message_key, TICKET_TTL_S)
            pipe.zadd(OUTBOX_BACKLOG, {mid: now})
            pipe.expire(OUTBOX_BACKLOG, TICKET_TTL_S)
            if any(isinstance(a, sequencing.Send) for a in actions):
                pipe.zadd(OUTBOX_DUE, {mid: now})
            audit.record(pipe, "out", envelope, "queued", now)
            return envelope, True

        envelope, queued = await transact(self.redis, [queue_key, message_key], step)
        if queued:
            log.info("exchange.queued", message_id=mid, type=envelope.type, ticket=ticket, to_platform=to_platform,
                     seq=envelope.seq)
        return envelope

    async def due(self, now: float, limit: int, lease_s: float) -> list[Envelope]:
        """The in-flight heads due by ``now``, at most ``limit``, each leased for ``lease_s``
        (another instance gets it only once the lease runs out) and stamped as sent ``now``."""
        leased = as_str_list(await self._lease(keys=[OUTBOX_DUE], args=[now, now + lease_s, limit]))
        heads: list[Envelope] = []
        for mid in leased:
            key = outbox_message_key(mid)
            raw = as_str_or_none(await self.redis.hget(key, "envelope"))
            if raw is None:  # expired with its ticket: nothing left to send
                await self.redis.zrem(OUTBOX_DUE, mid)
                log.warning("exchange.message_gone", message_id=mid)
                continue
            try:
                heads.append(restamped(_load_envelope(key, raw), now))
            except CorruptState as exc:  # the others still go; this one comes due again after its lease
                log.error("exchange.message_unreadable", message_id=mid, key=exc.key, error=exc.detail)
        return heads

    async def acked(self, envelope: Envelope, *, now: float | None = None, outcome: str = "acknowledged") -> None:
        """The peer took ``envelope`` (``outcome``: its receipt's, for the audit): forget it
        and put the ticket's next message in flight."""
        at = _at(now)
        queue_key = outbox_queue_key(envelope.to_platform, envelope.ticket)

        async def step(pipe: Pipeline) -> tuple[sequencing.Action, ...]:
            before = _load_queue(queue_key, await pipe.get(queue_key))
            queue, actions = sequencing.step(before, sequencing.Acked(envelope.message_id))
            if not actions:
                return actions  # a late acknowledgement of a message already done
            pipe.multi()
            pipe.set(queue_key, _dump_queue(queue), ex=TICKET_TTL_S)
            for action in actions:
                if isinstance(action, sequencing.Done):
                    pipe.zrem(OUTBOX_DUE, action.message_id)
                    pipe.zrem(OUTBOX_BACKLOG, action.message_id)
                    pipe.hset(outbox_message_key(action.message_id), "state", DONE)
                elif isinstance(action, sequencing.Send):
                    pipe.zadd(OUTBOX_DUE, {action.message_id: at})
            if before.stopped and not queue.stopped:
                pipe.hdel(OUTBOX_STOPPED, stopped_field(envelope.to_platform, envelope.ticket))
            audit.record(pipe, "out", envelope, outcome, at)
            return actions

        actions = await transact(self.redis, [queue_key], step)
        if actions:
            log.info("exchange.acked", message_id=envelope.message_id, ticket=envelope.ticket, seq=envelope.seq,
                     outcome=outcome, next=[a.seq for a in actions if isinstance(a, sequencing.Send)])

    async def rejected(self, envelope: Envelope, reason: str, *, now: float | None = None) -> None:
        """A final refusal that did not take the seq: the ticket's queue stops (its later
        messages would leave a gap) and is listed for operators until ``resume``."""
        at = _at(now)
        queue_key = outbox_queue_key(envelope.to_platform, envelope.ticket)

        async def step(pipe: Pipeline) -> tuple[sequencing.Action, ...]:
            queue, actions = sequencing.step(_load_queue(queue_key, await pipe.get(queue_key)),
                                             sequencing.Rejected(envelope.message_id, reason))
            if not actions:
                return actions  # not the message in flight (taken or stopped already)
            pipe.multi()
            pipe.set(queue_key, _dump_queue(queue), ex=TICKET_TTL_S)
            pipe.zrem(OUTBOX_DUE, envelope.message_id)
            pipe.hset(OUTBOX_STOPPED, stopped_field(envelope.to_platform, envelope.ticket), json.dumps(
                {"to_platform": envelope.to_platform, "ticket": envelope.ticket, "message_id": envelope.message_id,
                 "seq": envelope.seq, "type": envelope.type, "reason": queue.stopped, "at": at},
                ensure_ascii=False))
            audit.record(pipe, "out", envelope, "rejected", at, queue.stopped)
            return actions

        if await transact(self.redis, [queue_key], step):
            log.error("exchange.queue_stopped", message_id=envelope.message_id, ticket=envelope.ticket,
                      to_platform=envelope.to_platform, seq=envelope.seq, reason=reason)

    async def retry_later(self, envelope: Envelope, now: float, attempts: int, *, reason: str = "",
                          after_s: float = 0.0) -> float | None:
        """A transient failure (the peer away, a timeout, a refusal to retry): the same head
        comes due again after a capped back-off, or ``after_s`` if the peer asked for longer
        (``Retry-After``). When it is due; None if it is no longer the head in flight (taken
        meanwhile, or its queue stopped)."""
        queue_key = outbox_queue_key(envelope.to_platform, envelope.ticket)
        message_key = outbox_message_key(envelope.message_id)
        when = now + max(backoff_s(attempts), after_s)

        async def step(pipe: Pipeline) -> bool:
            head = _load_queue(queue_key, await pipe.get(queue_key)).in_flight
            if head is None or head.message_id != envelope.message_id:
                return False
            pipe.multi()
            pipe.zadd(OUTBOX_DUE, {envelope.message_id: when})
            pipe.hset(message_key, "attempts", attempts)
            audit.record_retry(pipe, "out", envelope, "retry", now, f"attempt {attempts}: {reason}" if reason
                               else f"attempt {attempts}")
            return True

        if not await transact(self.redis, [queue_key], step):
            return None
        log.warning("exchange.retry", message_id=envelope.message_id, ticket=envelope.ticket, seq=envelope.seq,
                    attempts=attempts, reason=reason, due_in_s=when - now)
        return when

    async def resume(self, to_platform: str, ticket: str, *, now: float | None = None) -> bool:
        """An operator mended the cause of a stop: the queue's head goes again now. False if
        the queue was not stopped."""
        at = _at(now)
        queue_key = outbox_queue_key(to_platform, ticket)

        async def step(pipe: Pipeline) -> tuple[sequencing.Action, ...]:
            queue, actions = sequencing.step(_load_queue(queue_key, await pipe.get(queue_key)), sequencing.Resume())
            heads = [a for a in actions if isinstance(a, sequencing.Send)]
            if not heads:
                return actions
            message_key = outbox_message_key(heads[0].message_id)
            raw = as_str_or_none(await pipe.hget(message_key, "envelope"))
            pipe.multi()
            pipe.set(queue_key, _dump_queue(queue), ex=TICKET_TTL_S)
            pipe.hdel(OUTBOX_STOPPED, stopped_field(to_platform, ticket))
            pipe.zadd(OUTBOX_DUE, {heads[0].message_id: at})
            if raw is not None:
                audit.record(pipe, "out", _load_envelope(message_key, raw), "resumed", at)
            return actions

        actions = await transact(self.redis, [queue_key], step)
        if actions:
            log.info("exchange.queue_resumed", ticket=ticket, to_platform=to_platform)
        return bool(actions)

    async def skip(self, to_platform: str, ticket: str, *, now: float | None = None) -> str | None:
        """An operator voids the head of a stopped queue (a message the peer can never take):
        it is never sent, the audit says so, and the ticket's later messages go on (renumbered
        when the peer still waits for the voided seq). The voided message's id; None if the
        queue was not stopped."""
        at = _at(now)
        queue_key = outbox_queue_key(to_platform, ticket)

        async def step(pipe: Pipeline) -> str | None:
            before = _load_queue(queue_key, await pipe.get(queue_key))
            queue, actions = sequencing.step(before, sequencing.Skip())
            voided = next((a.message_id for a in actions if isinstance(a, sequencing.Voided)), None)
            if voided is None:
                return None
            stored: dict[str, Envelope] = {}
            for action in actions:
                if isinstance(action, sequencing.Voided | sequencing.Renumber):
                    key = outbox_message_key(action.message_id)
                    raw = as_str_or_none(await pipe.hget(key, "envelope"))
                    if raw is not None:
                        stored[action.message_id] = _load_envelope(key, raw)
            pipe.multi()
            pipe.set(queue_key, _dump_queue(queue), ex=TICKET_TTL_S)
            pipe.hdel(OUTBOX_STOPPED, stopped_field(to_platform, ticket))
            for action in actions:
                if isinstance(action, sequencing.Voided):
                    pipe.zrem(OUTBOX_DUE, action.message_id)
                    pipe.zrem(OUTBOX_BACKLOG, action.message_id)
                    pipe.hset(outbox_message_key(action.message_id), "state", VOIDED)
                    if action.message_id in stored:
                        audit.record(pipe, "out", stored[action.message_id], "voided", at, before.stopped)
                elif isinstance(action, sequencing.Renumber) and action.message_id in stored:
                    moved = stored[action.message_id].model_copy(update={"seq": action.seq})
                    pipe.hset(outbox_message_key(action.message_id), "envelope", _envelope_json(moved))
                elif isinstance(action, sequencing.Send):
                    pipe.zadd(OUTBOX_DUE, {action.message_id: at})
            return voided

        voided = await transact(self.redis, [queue_key], step)
        if voided is not None:
            log.warning("exchange.message_voided", message_id=voided, ticket=ticket, to_platform=to_platform)
        return voided

    async def attempts(self, message_id: str) -> int:
        """How many attempts at a message failed so far (its back-off grows with them)."""
        raw = as_str_or_none(await self.redis.hget(outbox_message_key(message_id), "attempts"))
        return int(raw) if raw and raw.isdigit() else 0

    async def queue(self, to_platform: str, ticket: str) -> sequencing.Queue:
        """One ticket's queue as it stands (for operators and tests)."""
        key = outbox_queue_key(to_platform, ticket)
        return _load_queue(key, await self.redis.get(key))

    async def stopped(self) -> list[dict[str, Any]]:
        """The stopped queues, oldest stop first: which message, why, since when."""
        rows = [json.loads(raw) for raw in as_str_hash(await self.redis.hgetall(OUTBOX_STOPPED)).values()]
        return sorted(rows, key=lambda row: (row["at"], row["ticket"]))

    async def backlog(self) -> int:
        """Messages queued and not yet taken by the peer (for the supervisor page)."""
        return int(await self.redis.zcard(OUTBOX_BACKLOG))

    async def waiting(self) -> tuple[int, float | None, int]:
        """The backlog, when its oldest message was queued (None: nothing waits) and how
        many queues are stopped, in one round trip (the link loop reads them every round)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcard(OUTBOX_BACKLOG)
        pipe.zrange(OUTBOX_BACKLOG, 0, 0, withscores=True)
        pipe.hlen(OUTBOX_STOPPED)
        count, oldest, stopped = await pipe.execute()
        return int(count), (float(oldest[0][1]) if oldest else None), int(stopped)
