"""Keeping the self-service prompts in Asterisk's sounds dir what the knowledge base says.

At start, and whenever a knowledge entry answering an IVR key changes (``KnowledgeChanged``
with an ``ivr_key`` or a ``previous_ivr_key``), the self-service prompts are re-synthesised
into ``<sounds>/hl/ivr/`` with ``install_prompts`` (which skips a prompt whose text is
unchanged, by its ``.sha256``), in a thread: the event loop never waits on espeak-ng. A
failure (espeak-ng missing, a full disk) is logged and the old prompt keeps playing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import structlog

from hotline_link.core.bus import BusEvent, BusWorker, EventBus
from hotline_link.core.events import KnowledgeChanged
from ivr.answers import IvrEntry, answer_prompts, missing_keys
from ivr.prompts import SOUNDS_SUBDIR

log = structlog.get_logger(__name__)

RESYNC_S = 600.0  # validity days begin at midnight: a new day's answer plays within ten minutes
Install = Callable[[Mapping[str, str], Path], list[Path]]  # ivr.prompts.install_prompts


def _touches_ivr(event: BusEvent) -> bool:
    if not event.is_(KnowledgeChanged):
        return False
    changed = event.as_(KnowledgeChanged)
    return bool(changed.ivr_key or changed.previous_ivr_key)


class AnswerPrompts:
    def __init__(self, bus: EventBus, answers: Callable[[], Awaitable[Mapping[str, IvrEntry]]], sounds: Path,
                 install: Install) -> None:
        self.answers = answers  # KnowledgeService.ivr_answers
        self.sounds = sounds  # Asterisk's sounds dir
        self.sounds_dir = sounds / SOUNDS_SUBDIR
        self.install = install
        self._lock = asyncio.Lock()
        self._events = BusWorker(bus, "ivr.answer_prompts", _touches_ivr, self._on_change, maxsize=1000)

    async def _on_change(self, event: BusEvent) -> None:
        changed = event.as_(KnowledgeChanged)
        await self.sync(reason=f"entry {changed.entry_id} v{changed.version}")

    async def sync(self, reason: str = "start") -> list[Path]:
        """Re-synthesise the self-service prompts whose text changed; the files written
        (none on failure, which is logged)."""
        if not self.sounds.is_dir():  # no Asterisk on this host (a unit test, a server apart)
            log.info("ivr.answer_prompts_skipped", reason=reason, detail=f"no sounds directory {self.sounds}")
            return []
        async with self._lock:  # one synthesis at a time: two would write the same files
            try:
                entries = await self.answers()
            except Exception as exc:
                log.error("ivr.answer_prompts_failed", reason=reason, stage="read", error=str(exc)[:300])
                return []
            if missing := missing_keys(entries):
                log.warning("ivr.answer_fallback", keys=missing,
                            detail="no knowledge entry answers these keys: they send the caller to an agent")
            texts = answer_prompts(entries)
            try:
                written = await asyncio.to_thread(self.install, texts, self.sounds_dir)
            except Exception as exc:  # espeak-ng or sox missing, a full disk: the old prompt plays on
                log.error("ivr.answer_prompts_failed", reason=reason, stage="synthesise", error=str(exc)[:300],
                          kind=type(exc).__name__)
                return []
            if written:
                log.info("ivr.answer_prompts_installed", reason=reason, prompts=[p.stem for p in written])
            return written

    async def keep_synced(self, every_s: float = RESYNC_S) -> None:
        """Sync at start, then every ``every_s``: an entry whose ``valid_from`` or
        ``valid_to`` day comes changes what a key says with no edit to announce it."""
        reason = "start"
        while True:
            await self.sync(reason)
            await asyncio.sleep(every_s)
            reason = "validity"

    def start(self) -> None:
        self._events.start()

    async def stop(self) -> None:
        await self._events.stop()
