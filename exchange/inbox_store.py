"""The receiver's inbox in this deployment's Redis: ``inbox.step`` made durable and safe
for several server instances at once.

For each incoming stream (the peer's ticket) the state is one JSON value
(``hl:exchange:in:stream:<platform>:<ticket>``, kept as long as tickets). ``receive`` loads
it, lets ``inbox.step`` decide, and writes in one MULTI/EXEC (``redis_state.transact``):
the new state, every message that is now applied onto the stream ``hl:exchange:applied``
(in the form the boundary admitted), and the audit. Held messages are stored whole, since
holding one acknowledges it: the sender forgets it. A message the boundary refused still
takes its seq, but is never applied, and is held (if it comes early) without its content.

The plugin applies the entries of ``hl:exchange:applied`` through a consumer group: each
entry goes to one consumer (``claim``), is deleted once its effect is done (``done``), and
an entry whose consumer died is claimed again after ``CLAIM_IDLE_MS``: at least once
across crashes, once across instances. An entry no one can read goes to
``hl:exchange:applied-dead`` with the reason, and never stops a consumer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from exchange import audit, boundary, inbox
from exchange.errors import BadMessage
from exchange.messages import BounceBody, Envelope, HandoverBody, StatusBody, SuperviseBody, parse_envelope
from exchange.receipts import Outcome, Receipt
from exchange.redis_keys import APPLIED, APPLIED_DEAD, APPLIED_GROUP, inbox_stream_key
from exchange.redis_state import CorruptState, load_record, transact
from hotline_link.core.redis_client import as_str, as_str_entries
from tickets.store import TICKET_TTL_S

log = structlog.get_logger(__name__)

CLAIM_IDLE_MS = 60_000  # an applied entry pending this long on a consumer: that consumer died
DEAD_KEPT = 1_000  # unreadable applied entries kept for the operator


# --- the stored state --------------------------------------------------------------------


class _Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class _RefusalRecord(_Record):
    reason: boundary.Refusal
    message: str
    field: str = ""


class _HeldRecord(_Record):
    envelope: dict[str, Any]  # the admitted form (or, refused at the boundary, without content)
    refused: _RefusalRecord | None = None
    forced: list[str] = []


class _StreamRecord(_Record):
    next_seq: int = Field(ge=1)
    applied: list[tuple[int, str]]
    held: list[_HeldRecord]


@dataclass(frozen=True)
class _Verdict:
    """What the boundary said of a message, kept with it while it is held."""

    refused: boundary.Refused | None
    forced: tuple[str, ...] = ()


def _verdict(verdict: boundary.Admitted | boundary.Refused) -> _Verdict:
    if isinstance(verdict, boundary.Refused):
        return _Verdict(verdict)
    return _Verdict(None, verdict.forced)


def _load(key: str, raw: object) -> tuple[inbox.Stream, dict[str, _Verdict]]:
    if raw is None:
        return inbox.Stream(), {}
    record = load_record(key, raw, _StreamRecord)
    held: list[Envelope] = []
    verdicts: dict[str, _Verdict] = {}
    for index, kept in enumerate(record.held):
        try:
            envelope = parse_envelope(json.dumps(kept.envelope, ensure_ascii=False).encode())
        except BadMessage as exc:
            raise CorruptState(key, f"held.{index}.envelope: {exc}") from None
        held.append(envelope)
        refused = kept.refused
        verdicts[envelope.message_id] = _Verdict(
            boundary.Refused(refused.reason, refused.message, refused.field) if refused else None,
            tuple(kept.forced))
    return inbox.Stream(record.next_seq, tuple(record.applied), tuple(held)), verdicts


def _dump(stream: inbox.Stream, verdicts: dict[str, _Verdict]) -> str:
    held = []
    for envelope in stream.held:
        verdict = verdicts[envelope.message_id]
        refused = verdict.refused
        held.append({"envelope": envelope.model_dump(mode="json"), "forced": list(verdict.forced),
                     "refused": {"reason": refused.reason.value, "message": refused.message,
                                 "field": refused.field} if refused else None})
    return json.dumps({"next_seq": stream.next_seq, "applied": [list(pair) for pair in stream.applied],
                       "held": held}, ensure_ascii=False, separators=(",", ":"))


def without_content(envelope: Envelope) -> Envelope:
    """``envelope`` with every text emptied (a restricted case's form): what this side keeps
    of a message its boundary refused while the message waits for its turn, so content
    that must not cross is never stored here (控制知悉范围)."""
    body = envelope.body
    if isinstance(body, HandoverBody):
        body = body.model_copy(update={"restricted": True, "category": "", "summary": "", "division_code": "",
                                       "emergency": False, "caller": ""})
    elif isinstance(body, StatusBody):
        body = body.model_copy(update={"unit": None, "detail": ""})
    elif isinstance(body, BounceBody):
        body = body.model_copy(update={"reason": boundary.RESTRICTED_REASON})
    elif isinstance(body, SuperviseBody):
        body = body.model_copy(update={"note": ""})
    return envelope.model_copy(update={"body": body})


# --- the store ---------------------------------------------------------------------------


class InboxStore:
    """The receiver's inbox of ``platform`` (this deployment)."""

    def __init__(self, redis: Redis, platform: str, *, window_s: float = inbox.REPLAY_WINDOW_S,
                 limits: inbox.Limits = inbox.LIMITS) -> None:
        self.redis = redis
        self.platform = platform
        self.window_s = window_s
        self.limits = limits
        self.audit = audit.Audit(redis)
        self._autoclaim_from = "0-0"  # where the next sweep of dead consumers' entries goes on

    async def receive(self, envelope: Envelope, verdict: boundary.Admitted | boundary.Refused,
                      now: float) -> Receipt:
        """Take ``envelope`` (its signature checked, ``verdict`` = ``boundary.admit`` of it)
        at ``now``: the answer for the sender. Safe to call from several instances at once,
        for the same message too: it is applied once."""
        if isinstance(verdict, boundary.Refused) and verdict.reason is boundary.Refusal.NOT_ADDRESSED:
            raise ValueError("a message not addressed to this platform never reaches the inbox")
        if envelope.to_platform != self.platform:
            raise ValueError(f"message {envelope.message_id} is addressed to {envelope.to_platform}, "
                             f"this inbox is {self.platform}'s")
        if isinstance(verdict, boundary.Admitted) and verdict.envelope.message_id != envelope.message_id:
            raise ValueError("the verdict is another message's")
        incoming = verdict.envelope if isinstance(verdict, boundary.Admitted) else without_content(envelope)
        key = inbox_stream_key(*envelope.stream)

        async def step(pipe: Pipeline) -> tuple[Receipt, tuple[inbox.Action, ...]]:
            stream, verdicts = _load(key, await pipe.get(key))
            after, actions = inbox.step(stream, incoming, now, self.window_s, self.limits)
            receipt = Receipt.of(envelope.message_id, verdict, actions, after.next_seq)
            verdicts[incoming.message_id] = _verdict(verdict)
            pipe.multi()
            if after != stream:
                pipe.set(key, _dump(after, verdicts), ex=TICKET_TTL_S)
            for action in actions:
                if isinstance(action, inbox.Apply):
                    self._apply(pipe, action.envelope, verdicts[action.envelope.message_id], now,
                                repeat=repeats(stream, action.envelope.message_id, Outcome.APPLIED))
            if not any(isinstance(a, inbox.Apply) and a.envelope.message_id == incoming.message_id
                       for a in actions):
                reason = _reason(receipt.reason, receipt.detail)
                if receipt.retry:
                    audit.record_retry(pipe, "in", incoming, receipt.outcome.value, now, reason)
                else:
                    audit.record(pipe, "in", incoming, receipt.outcome.value, now, reason,
                                 repeat=repeats(stream, incoming.message_id, receipt.outcome))
            return receipt, actions

        receipt, actions = await transact(self.redis, [key], step)
        applied = [a.envelope.seq for a in actions if isinstance(a, inbox.Apply)]
        log.info("exchange.received", message_id=envelope.message_id, type=envelope.type,
                 stream=f"{envelope.from_platform}:{envelope.ticket}", seq=envelope.seq,
                 outcome=receipt.outcome.value, reason=receipt.reason, applied=applied,
                 expected_seq=receipt.expected_seq)
        return receipt

    @staticmethod
    def _apply(pipe: Pipeline, envelope: Envelope, verdict: _Verdict, now: float, *, repeat: bool) -> None:
        """One message's turn has come: onto the applied stream unless the boundary refused it."""
        if verdict.refused is not None:
            audit.record(pipe, "in", envelope, Outcome.REFUSED_AT_BOUNDARY.value, now,
                         _reason(verdict.refused.reason.value, verdict.refused.message), repeat=repeat)
            return
        pipe.xadd(APPLIED, {"envelope": json.dumps(envelope.model_dump(mode="json"), ensure_ascii=False),
                            "forced": ",".join(verdict.forced)})
        forced = f"forced {', '.join(verdict.forced)}" if verdict.forced else ""
        audit.record(pipe, "in", envelope, Outcome.APPLIED.value, now, forced, repeat=repeat)

    async def expected_seq(self, stream_key: tuple[str, str]) -> int:
        """The next seq this side expects of a stream (peer platform, peer ticket): the
        answer to a sender resyncing after either side lost state."""
        key = inbox_stream_key(*stream_key)
        stream, _ = _load(key, await self.redis.get(key))
        return stream.next_seq

    # --- applying: the consumer group ---------------------------------------------------

    async def ensure_group(self) -> None:
        """The consumer group of the applied stream (created once; later calls do nothing)."""
        try:
            await self.redis.xgroup_create(APPLIED, APPLIED_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def claim(self, consumer: str, count: int, block_ms: int, *,
                    idle_ms: int = CLAIM_IDLE_MS) -> list[tuple[str, Envelope]]:
        """Up to ``count`` applied messages for ``consumer`` to apply: first those a consumer
        took and left pending for ``idle_ms`` (it died), then new ones, waiting up to
        ``block_ms`` (0: not at all) when there are none. Each stays pending on ``consumer``
        until ``done``."""
        try:
            reply = await self.redis.xautoclaim(APPLIED, APPLIED_GROUP, consumer, min_idle_time=idle_ms,
                                                start_id=self._autoclaim_from, count=count)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("exchange.applied_group_missing", consumer=consumer)  # Redis was wiped
            await self.ensure_group()
            return []
        self._autoclaim_from = as_str(reply[0])
        rows = as_str_entries(reply[1])
        if rows:
            log.info("exchange.applied_reclaimed", consumer=consumer, entries=[rid for rid, _ in rows])
        if len(rows) < count:
            wait = block_ms if block_ms > 0 and not rows else None
            rows += _read_entries(await self.redis.xreadgroup(APPLIED_GROUP, consumer, {APPLIED: ">"},
                                                              count=count - len(rows), block=wait))
        claimed: list[tuple[str, Envelope]] = []
        for entry_id, fields in rows:
            try:
                claimed.append((entry_id, parse_envelope(fields["envelope"].encode())))
            except (KeyError, BadMessage) as exc:
                await self._bury(entry_id, fields, str(exc) if isinstance(exc, BadMessage) else "no envelope")
        return claimed

    async def done(self, entry_id: str) -> None:
        """The entry's effect is done: acknowledged and deleted."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(APPLIED, APPLIED_GROUP, entry_id)
        pipe.xdel(APPLIED, entry_id)
        await pipe.execute()

    async def deliveries(self, entry_id: str) -> int:
        """How many times the group handed out ``entry_id`` (XPENDING's count); 0 if done."""
        rows = await self.redis.xpending_range(APPLIED, APPLIED_GROUP, min=entry_id, max=entry_id, count=1)
        return int(rows[0]["times_delivered"]) if rows else 0

    async def give_up(self, entry_id: str, envelope: Envelope, reason: str, now: float) -> None:
        """An entry whose effect could not be done in ``exchange_max_deliveries`` tries:
        refused in the audit, kept in the dead list for the operator, and no longer pending."""
        pipe = self.redis.pipeline(transaction=True)
        audit.record(pipe, "in", envelope, Outcome.REFUSED.value, now, reason)
        pipe.lpush(APPLIED_DEAD, json.dumps({"entry_id": entry_id, "reason": reason, "fields": {
            "envelope": json.dumps(envelope.model_dump(mode="json"), ensure_ascii=False)}}, ensure_ascii=False))
        pipe.ltrim(APPLIED_DEAD, 0, DEAD_KEPT - 1)
        pipe.xack(APPLIED, APPLIED_GROUP, entry_id)
        pipe.xdel(APPLIED, entry_id)
        await pipe.execute()
        log.error("exchange.applied_given_up", entry_id=entry_id, message_id=envelope.message_id, reason=reason)

    async def waiting(self) -> tuple[int, int]:
        """The applied entries not done yet (waiting for their link, or being applied) and
        the dead list's length, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.xlen(APPLIED)
        pipe.llen(APPLIED_DEAD)
        pending, dead = await pipe.execute()
        return int(pending), int(dead)

    async def dead(self) -> list[dict[str, Any]]:
        """The applied entries no consumer could read, newest first."""
        return [json.loads(raw) for raw in await self.redis.lrange(APPLIED_DEAD, 0, -1)]

    async def _bury(self, entry_id: str, fields: dict[str, str], reason: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.lpush(APPLIED_DEAD, json.dumps({"entry_id": entry_id, "reason": reason, "fields": fields},
                                            ensure_ascii=False))
        pipe.ltrim(APPLIED_DEAD, 0, DEAD_KEPT - 1)
        pipe.xack(APPLIED, APPLIED_GROUP, entry_id)
        pipe.xdel(APPLIED, entry_id)
        await pipe.execute()
        log.error("exchange.applied_unreadable", entry_id=entry_id, reason=reason)


def _read_entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """XREADGROUP's entries of the one stream read, whichever protocol the client speaks."""
    per_stream = reply.values() if isinstance(reply, dict) else [entries for _name, entries in reply or ()]
    return [row for entries in per_stream for row in as_str_entries(entries)]


def repeats(before: inbox.Stream, message_id: str, outcome: Outcome) -> bool:
    """Does this outcome of ``message_id`` repeat one recorded when this side first took it?
    A duplicate does (it was applied before), and so does any outcome of a message the
    stream held before this step (recorded as held): the report counts a message once."""
    return outcome is Outcome.DUPLICATE or any(e.message_id == message_id for e in before.held)


def _reason(reason: str, detail: str) -> str:
    return f"{reason}: {detail}" if reason and detail else reason or detail
