"""The cases' index backfilled from the audit: a deployment upgraded from the version before
the index (``hl:exchange:cases``) lists the cases it exchanged before it, as far as the
audit still holds them. The edge of ``exchange.audit_cases`` (which decides).

One pass SCANs the audit's indexes (``about_key`` and ``about_stream_key``, kept as long as
tickets; never KEYS), a batch of keys at a time: their entries, then the tickets of ours the
incoming handovers opened (the applier's ``opened_key``, the push intake's ticket by push
id) and whether each is linked, then one ZADD NX of the batch's cases. It only reads, and
writes as the live steps do (ZADD NX: a case already indexed keeps its time), so it is safe
while the server runs and messages flow, and running it again enters nothing new.

The plugin runs it once per deployment, in the background at start (``run_once``), guarded
by ``CASES_BACKFILLED`` holding the index's version once a pass ran to its end; operators
run it on demand with ``hotline-link backfill-cases``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from exchange.audit_cases import Found, TakenIn, case_entries, found_in
from exchange.case_index import enter_missing
from exchange.redis_keys import ABOUT_PATTERN, CASES_BACKFILLED, linked_key, opened_key
from hotline_link.core.redis_client import as_str_entries, as_str_list, as_str_or_none
from tickets.store import TICKET_TTL_S

log = structlog.get_logger(__name__)

INDEX_VERSION = "1"  # the cases' index a completed backfill made whole; a new version runs again
SCAN_COUNT = 200  # audit indexes asked of SCAN per round trip


class ReceivedPushes(Protocol):
    """The push intake's tickets by push id (``tickets.push.PushService``)."""

    async def received_tickets(self, push_ids: Sequence[str]) -> Mapping[str, str]: ...


@dataclass
class Counts:
    scanned: int = 0  # audit indexes read
    indexed: int = 0  # cases entered now
    already: int = 0  # cases the index held: their time kept
    bad: int = 0  # audit entries (or indexes) that could not be read: skipped
    not_taken: int = 0  # incoming handovers no linked ticket of ours is known for (not applied yet, given up)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class CaseBackfill:
    def __init__(self, redis: Redis, pushes: ReceivedPushes, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.pushes = pushes
        self.clock = clock

    async def run_once(self) -> Counts | None:
        """``run`` unless a pass of this index version already ran to its end here: None then."""
        if as_str_or_none(await self.redis.get(CASES_BACKFILLED)) == INDEX_VERSION:
            return None
        return await self.run()

    async def run(self) -> Counts:
        """One pass over the audit; its counts, logged. Redis away raises (nothing half
        written matters: a pass again enters only what is still missing)."""
        counts = Counts()
        since = self.clock() - TICKET_TTL_S  # older cases are dropped by the index's next write
        seen: set[str] = set()  # SCAN may return a key twice
        cursor = 0
        while True:
            cursor, reply = await self.redis.scan(cursor, match=ABOUT_PATTERN, count=SCAN_COUNT)
            keys = [key for key in as_str_list(reply) if key not in seen]
            seen.update(keys)
            if keys:
                await self._batch(keys, since, counts)
            if cursor == 0:
                break
        await self.redis.set(CASES_BACKFILLED, INDEX_VERSION)
        log.info("exchange.cases_backfilled", version=INDEX_VERSION, **counts.as_dict())
        return counts

    async def _batch(self, keys: Sequence[str], since: float, counts: Counts) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.xrange(key)
        replies = await pipe.execute(raise_on_error=False)
        found = Found()
        for key, reply in zip(keys, replies, strict=True):
            if isinstance(reply, ResponseError):  # not a stream (WRONGTYPE): nothing of it to read
                log.warning("exchange.cases_backfill_unreadable", key=key, error=str(reply)[:200])
                counts.bad += 1
                continue
            if isinstance(reply, Exception):
                raise reply
            counts.scanned += 1
            one = found_in(as_str_entries(reply))
            for skipped in one.skipped:
                log.warning("exchange.cases_backfill_skipped", key=key, entry_id=skipped.entry_id, why=skipped.why)
            counts.bad += len(one.skipped)
            found.handed_out += one.handed_out
            found.taken_in += one.taken_in
        taken = await self._taken(found.taken_in)
        counts.not_taken += len({came.message_id for came in found.taken_in} - taken.keys())
        entries = case_entries(found, taken, since)
        added = await enter_missing(self.redis, entries)
        counts.indexed += added
        counts.already += len(entries) - added

    async def _taken(self, taken_in: Sequence[TakenIn]) -> dict[str, str]:
        """The ticket of ours each incoming handover (by message id) opened or joined, for
        those whose stream is linked to it: the applier took them (link and index entry are
        one transaction), so none is one the applier is still to index."""
        by_id = {came.message_id: came for came in taken_in}
        pushed = await self.pushes.received_tickets([m for m, came in by_id.items() if came.by_push])
        others = [m for m, came in by_id.items() if not came.by_push]
        pipe = self.redis.pipeline(transaction=False)
        for message_id in others:
            pipe.get(opened_key(message_id))
        opened = dict(zip(others, await pipe.execute(), strict=True)) if others else {}
        candidates = {**pushed, **{m: t for m, raw in opened.items() if (t := as_str_or_none(raw))}}
        pipe = self.redis.pipeline(transaction=False)
        for message_id, ticket_id in candidates.items():
            pipe.sismember(linked_key(ticket_id), by_id[message_id].stream)
        linked = await pipe.execute() if candidates else []
        return {m: t for (m, t), is_linked in zip(candidates.items(), linked, strict=True) if is_linked}
