"""The knowledge base's service: loads the jurisdiction's data file into the store, searches
(its own entries, and the other platform's shareable ones on request), and edits entries,
each edit a new version with its history and a ``KnowledgeChanged`` on the bus."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TypeVar

import structlog

from hotline_link.core.bus import EventBus
from hotline_link.core.events import KnowledgeChanged
from hotline_link.core.zone import HOTLINE_ZONE
from knowledge.entries import Entry, EntryError, duplicate_ivr_key, entry_of, ivr_answers
from knowledge.errors import BadEntry, EntryConflict, NoSuchEntry
from knowledge.peer import PeerHit, PeerSearch, PeerUnavailable
from knowledge.search import Hit, Index, tokenizer
from knowledge.store import EntryExists, KnowledgeStore, StaleRevision
from knowledge.versions import FILE_EDITOR, HistoryRecord, next_version

log = structlog.get_logger(__name__)

T = TypeVar("T")
IVR_KEY_TRIES = 5  # checks of an IVR key against a store that keeps changing meanwhile
EDITABLE = ("question", "answer", "category", "platform", "valid_from", "valid_to", "source", "shareable",
            "ivr_key", "ivr_label")


@dataclass(frozen=True)
class SearchOutcome:
    hits: list[Hit]
    peer_hits: list[PeerHit]
    peer_error: str | None


class KnowledgeService:
    def __init__(self, store: KnowledgeStore, bus: EventBus, *, clock: Callable[[], float], jurisdiction: str,
                 platforms: Collection[str] = (), peer: PeerSearch | None = None,
                 peer_missing: str = "no peer deployment is configured") -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.jurisdiction = jurisdiction
        self.platforms = frozenset(platforms)  # the platforms this deployment serves (empty: every one)
        self.peer = peer
        self.peer_missing = peer_missing
        self._index: tuple[int, Index] | None = None
        self._index_lock = asyncio.Lock()

    def today(self) -> date:
        return datetime.fromtimestamp(self.clock(), HOTLINE_ZONE).date()

    def ours(self, entry: Entry) -> bool:
        """Whether this deployment keeps ``entry`` of the data file: its platform is one we
        serve, or both (the other platform's deployment keeps the rest)."""
        return not self.platforms or entry.platform == "both" or entry.platform in self.platforms

    # --- the data file -----------------------------------------------------------------

    async def load_file(self, entries: Collection[Entry]) -> dict[str, int]:
        """Store the file's entries of our platforms; one whose row's version was already
        taken is kept (a supervisor's edit survives until the file's row is bumped)."""
        counts = {"created": 0, "replaced": 0, "kept": 0, "other_platform": 0}
        now = self.clock()
        for entry in entries:
            if not self.ours(entry):
                counts["other_platform"] += 1
                continue
            before = await self.store.get(entry.id)
            outcome = await self.store.load(replace(entry, updated_at=now, updated_by=FILE_EDITOR))
            counts[outcome] += 1
            if outcome != "kept":
                self._emit(before, replace(entry, updated_by=FILE_EDITOR), "loaded")
        log.info("knowledge.loaded", jurisdiction=self.jurisdiction, **counts)
        return counts

    # --- search ---------------------------------------------------------------------------

    async def index(self) -> Index:
        """The index of the stored entries, rebuilt (off the event loop) when they changed."""
        revision = await self.store.revision()
        if self._index is not None and self._index[0] == revision:
            return self._index[1]
        async with self._index_lock:
            if self._index is None or self._index[0] != revision:
                entries = await self.store.all()
                self._index = (revision, await asyncio.to_thread(Index, entries))
            return self._index[1]

    async def warm_up(self) -> None:
        """Build jieba's dictionary off the event loop (about a second), before a search needs it."""
        await asyncio.to_thread(tokenizer)

    async def search(self, query: str, *, limit: int = 10, category: str | None = None,
                     platform: str | None = None, shareable_only: bool = False,
                     include_peer: bool = False) -> SearchOutcome:
        """Entries valid today for ``query``, best first; with ``include_peer`` the other
        platform's shareable ones too (asked at the same time; its failure is ``peer_error``)."""
        asking = asyncio.ensure_future(self._ask_peer(query, limit, category)) if include_peer else None
        try:
            index = await self.index()
            today = self.today()
            keep = [e.valid_on(today) and (category is None or e.category == category)
                    and (platform is None or e.serves(platform)) and (e.shareable or not shareable_only)
                    for e in index.entries]
            hits = await asyncio.to_thread(index.search, query, limit=limit, keep=keep)
        except BaseException:
            if asking is not None:
                asking.cancel()
            raise
        peer_hits: list[PeerHit] = []
        peer_error: str | None = None
        if asking is not None:
            found = await asking
            if isinstance(found, str):
                peer_error = found
            else:
                own = {h.entry.id for h in hits}
                peer_hits = [h for h in found if h.id not in own]  # an entry both keep: ours
        return SearchOutcome(hits, peer_hits, peer_error)

    async def _ask_peer(self, query: str, limit: int, category: str | None) -> list[PeerHit] | str:
        if self.peer is None:
            return self.peer_missing
        try:
            return await self.peer.search(query, limit, category)
        except PeerUnavailable as exc:
            log.info("knowledge.peer_unavailable", reason=str(exc))
            return str(exc)

    # --- reading --------------------------------------------------------------------------

    async def get(self, entry_id: str) -> Entry:
        entry = await self.store.get(entry_id)
        if entry is None:
            raise NoSuchEntry(f"no knowledge entry {entry_id[:70]!r}")
        return entry

    async def history(self, entry_id: str) -> list[HistoryRecord]:
        await self.get(entry_id)
        return await self.store.history(entry_id)

    async def entries(self, category: str | None = None) -> list[Entry]:
        return [e for e in await self.store.all() if category is None or e.category == category]

    async def ivr_answers(self) -> dict[str, Entry]:
        """The IVR self-service menu's answers: key (1-4) -> the entry valid today."""
        return ivr_answers(await self.store.all(), self.today())

    # --- editing --------------------------------------------------------------------------

    async def create(self, fields: Mapping[str, str], by: str, entry_id: str | None = None) -> Entry:
        entry = self._checked({**fields, "id": entry_id or f"KB-{uuid.uuid4().hex[:12]}", "version": "1"}, by)
        try:
            stored = await self._with_ivr_key_free(entry, lambda revision: self.store.create(entry, revision))
        except EntryExists:
            raise EntryConflict(f"knowledge entry {entry.id!r} exists; edit it with PUT") from None
        self._emit(None, stored, "created")
        return stored

    async def update(self, entry_id: str, fields: Mapping[str, str], by: str,
                     expected_version: int | None = None) -> Entry:
        """A full update: every editable field as given; the version goes up by one."""
        before = await self.get(entry_id)
        edited = self._checked({**fields, "id": entry_id, "version": str(before.version)}, by)
        now = self.clock()

        def make(stored: Entry | None) -> tuple[Entry, str]:
            if stored is None:
                raise NoSuchEntry(f"no knowledge entry {entry_id[:70]!r}")
            if expected_version is not None and stored.version != expected_version:
                raise EntryConflict(f"entry {entry_id} is at version {stored.version}, not {expected_version}: "
                                    "read it again")
            return next_version(stored, edited, by, now), "updated"

        done = await self._with_ivr_key_free(edited, lambda revision: self.store.change(entry_id, make, revision))
        assert done is not None
        self._emit(done[0], done[1], "updated")
        return done[1]

    def _checked(self, cells: Mapping[str, str], by: str) -> Entry:
        try:
            entry = entry_of({**{k: cells.get(k, "") for k in EDITABLE}, "id": cells["id"],
                              "version": cells["version"]})
        except EntryError as exc:
            raise BadEntry(f"field {exc.column!r}: {exc.reason}") from None
        return replace(entry, updated_at=self.clock(), updated_by=by)

    async def _with_ivr_key_free(self, entry: Entry, write: Callable[[int | None], Awaitable[T]]) -> T:
        """``write`` once no other entry answers ``entry``'s IVR key in its period, checked
        and written at the same store revision: two supervisors giving one key at once
        cannot both succeed (the second checks again and is refused)."""
        if not entry.ivr_key:
            return await write(None)
        for _ in range(IVR_KEY_TRIES):
            revision = await self.store.revision()
            await self._ivr_key_free(entry)
            try:
                return await write(revision)
            except StaleRevision:
                continue
        raise EntryConflict("the knowledge base kept changing while this edit was checked: try again")

    async def _ivr_key_free(self, entry: Entry) -> None:
        others = [e for e in await self.store.all() if e.id != entry.id]
        clash = duplicate_ivr_key([*others, entry])
        if clash is not None:
            raise EntryConflict(f"IVR key {entry.ivr_key} is already answered by entry {clash[0].id} "
                                "in the same period: retire it (valid_to) or clear its ivr_key first")

    def _emit(self, before: Entry | None, after: Entry, change: str) -> None:
        previous = before.ivr_key if before is not None else ""
        self.bus.emit(KnowledgeChanged(entry_id=after.id, version=after.version, by=after.updated_by,
                                       ivr_key=after.ivr_key, change=change,
                                       previous_ivr_key=previous if previous != after.ivr_key else ""))
