"""Knowledge entries in Redis, shared by every server instance of a deployment: each entry
a hash (its current version), a history list (each previous version: who, when, what
changed), the set of ids and a revision counter. Every write is a WATCH/MULTI step on the
entry's hash, so two instances never both store version N+1."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import WatchError

from hotline_link.core.redis_client import as_str
from knowledge.entries import Entry, EntryError, entry_of
from knowledge.redis_keys import KnowledgeKeys
from knowledge.versions import HistoryRecord, file_replaces, from_file, record_of

log = structlog.get_logger(__name__)

HISTORY_KEPT = 200  # versions kept per entry


class EntryExists(Exception):
    pass


class StaleRevision(Exception):
    """The store changed after a check across its entries was made: check again."""


def _entry(entry_id: str, raw: Mapping[Any, Any]) -> Entry | None:
    if not raw:
        return None
    try:
        return entry_of({as_str(k): as_str(v) for k, v in raw.items()})
    except EntryError as exc:
        log.warning("knowledge.bad_record", entry_id=entry_id, error=str(exc)[:200])
        return None


class KnowledgeStore:
    def __init__(self, redis: Redis, keys: KnowledgeKeys | None = None) -> None:
        self.redis = redis
        self.keys = keys or KnowledgeKeys()

    async def get(self, entry_id: str) -> Entry | None:
        return _entry(entry_id, await self.redis.hgetall(self.keys.entry(entry_id)))

    async def all(self) -> list[Entry]:
        ids = sorted(as_str(i) for i in await self.redis.smembers(self.keys.ids))
        pipe = self.redis.pipeline(transaction=False)
        for entry_id in ids:
            pipe.hgetall(self.keys.entry(entry_id))
        found = [_entry(i, raw) for i, raw in zip(ids, await pipe.execute(), strict=True)]
        return [e for e in found if e is not None]

    async def revision(self) -> int:
        return int(await self.redis.get(self.keys.revision) or 0)

    async def history(self, entry_id: str) -> list[HistoryRecord]:
        """The entry's changes, newest first."""
        out = []
        for raw in await self.redis.lrange(self.keys.history(entry_id), 0, -1):
            try:
                out.append(HistoryRecord.loads(as_str(raw)))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("knowledge.bad_history", entry_id=entry_id, error=str(exc)[:200])
        return out

    async def change(self, entry_id: str, make: Callable[[Entry | None], tuple[Entry, str] | None],
                     revision: int | None = None) -> tuple[Entry | None, Entry] | None:
        """Apply ``make`` to the stored entry (None: there is none) atomically. ``make``
        answers the new version and the kind of change (created, updated, loaded), or None
        to leave it; raising leaves it too. Returns (before, after), or None if unchanged.
        ``revision``: the store's revision a check across entries was made at; any change
        since (or meanwhile) is ``StaleRevision``, and the caller checks again."""
        key = self.keys.entry(entry_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key, self.keys.revision)
                    if revision is not None and int(await pipe.get(self.keys.revision) or 0) != revision:
                        await pipe.reset()
                        raise StaleRevision(entry_id)
                    before = _entry(entry_id, await pipe.hgetall(key))
                    made = make(before)
                    if made is None:
                        await pipe.reset()
                        return None
                    after, change = made
                    pipe.multi()
                    pipe.delete(key)
                    pipe.hset(key, mapping=dict[Any, Any](after.cells()))
                    pipe.sadd(self.keys.ids, entry_id)
                    pipe.lpush(self.keys.history(entry_id), record_of(before, after, change).dumps())
                    pipe.ltrim(self.keys.history(entry_id), 0, HISTORY_KEPT - 1)
                    pipe.incr(self.keys.revision)
                    await pipe.execute()
                    return before, after
                except WatchError:
                    if revision is not None:  # another entry changed: the caller's check is stale
                        raise StaleRevision(entry_id) from None
                    continue

    async def create(self, entry: Entry, revision: int | None = None) -> Entry:
        def make(before: Entry | None) -> tuple[Entry, str]:
            if before is not None:
                raise EntryExists(entry.id)
            return entry, "created"

        done = await self.change(entry.id, make, revision)
        assert done is not None
        return done[1]

    async def load(self, entry: Entry) -> str:
        """The data file's ``entry``: stored if there is none or the file's version is
        higher than the one last taken from the file. Returns created, replaced or kept."""
        def make(before: Entry | None) -> tuple[Entry, str] | None:
            return (from_file(before, entry), "loaded") if file_replaces(before, entry) else None

        done = await self.change(entry.id, make)
        if done is None:
            return "kept"
        return "created" if done[0] is None else "replaced"
