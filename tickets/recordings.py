"""Call recordings (全程录音): Asterisk records every call from intake on the caller's channel
(``[hl-record]``, MixMonitor) as ``{call id}-{part}.wav`` in its site's recordings
directory. A ticket's recordings are those of its calls at its own site; they are kept as
long as tickets are (``TICKET_TTL_S``) and served to supervisors and to the agents who
handled the ticket, never to the other platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import wave
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from redis.asyncio import Redis

from hotline_link.core.redis_client import as_str_list
from tickets.redis_keys import ticket_calls_key
from tickets.store import TICKET_TTL_S, Ticket

log = structlog.get_logger(__name__)

# a call id (a linkedid: "hl12345-1765123456.42", or the ChannelId of a call the server
# originated), then the part, counted from 1; no '/' can reach a path
RECORDING_NAME = re.compile(r"^(?P<call>[A-Za-z0-9][A-Za-z0-9_.-]{0,80})-(?P<part>[0-9]{1,3})\.wav$")
SWEEP_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class Recording:
    name: str
    call_id: str
    part: int
    bytes: int
    seconds: float
    started_at: float

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "call_id": self.call_id, "part": self.part, "bytes": self.bytes,
                "seconds": self.seconds, "started_at": self.started_at}


def parse_name(name: str) -> tuple[str, int] | None:
    """(call id, part) of a recording's file name, or None for any other name."""
    match = RECORDING_NAME.match(name)
    return (match["call"], int(match["part"])) if match else None


# callback steps that put the agent on the call (an offer rung out names an agent who never was)
_CALLBACK_ON_CALL = frozenset({"agent_answered", "connected", "unanswered"})


def handlers(events: Iterable[Mapping[str, Any]], agents: Iterable[str]) -> set[str]:
    """The agents a ticket's story puts on its calls: who answered, who transferred or
    conferenced, who took its callback. Not who edited the ticket (any agent of the
    platform may): an edit must not open its recordings."""
    known = set(agents)
    named: set[str] = set()
    for entry in events:
        data = entry.get("data") or {}
        if entry.get("event") == "callback.step" and data.get("step") not in _CALLBACK_ON_CALL:
            continue
        for key in ("answered_by", "agent"):
            value = str(data.get(key) or "").removeprefix("PJSIP/")  # answered_by names the device
            if value in known:
                named.add(value)
    return named


def _seconds(path: Path) -> float:
    """The length of a WAV file; 0.0 when its header is not (yet) readable."""
    try:
        with wave.open(str(path), "rb") as audio:
            rate = audio.getframerate()
            return round(audio.getnframes() / rate, 2) if rate else 0.0
    except (OSError, EOFError, wave.Error):
        return 0.0


def _scan(directory: Path, call_ids: Iterable[str]) -> list[Recording]:
    found = []
    for call_id in call_ids:
        for path in directory.glob(f"{call_id}-*.wav"):
            parsed = parse_name(path.name)
            if parsed is None or parsed[0] != call_id:
                continue
            with contextlib.suppress(OSError):
                stat = path.stat()
                found.append(Recording(path.name, call_id, parsed[1], stat.st_size, _seconds(path),
                                       stat.st_ctime))
    return sorted(found, key=lambda r: (r.started_at, r.call_id, r.part))


def sweep_directory(directory: Path, before: float) -> int:
    """Deletes the recordings in ``directory`` last written before ``before``; how many."""
    removed = 0
    for path in directory.glob("*.wav"):
        with contextlib.suppress(OSError):
            if parse_name(path.name) is not None and path.stat().st_mtime < before:
                path.unlink()
                removed += 1
    return removed


class CallRecordings:
    def __init__(self, redis: Redis, directory_of: Callable[[str], Path], sites: Iterable[str]) -> None:
        self.redis = redis
        self.directory_of = directory_of  # the recordings directory of a site
        self.sites = tuple(sites)
        self._sweeper: asyncio.Task[None] | None = None

    async def for_ticket(self, ticket: Ticket) -> list[Recording]:
        call_ids = [c for c in as_str_list(await self.redis.smembers(ticket_calls_key(ticket.id)))
                    if RECORDING_NAME.match(f"{c}-1.wav")]
        if not call_ids:
            return []
        return await asyncio.to_thread(_scan, self.directory_of(ticket.site), call_ids)

    async def path_of(self, ticket: Ticket, name: str) -> Path | None:
        """The file of one of the ticket's recordings; None for a name that is not one."""
        for recording in await self.for_ticket(ticket):
            if recording.name == name:
                return self.directory_of(ticket.site) / name
        return None

    async def sweep(self, now: float | None = None) -> int:
        """Deletes recordings older than tickets are kept; the number deleted."""
        before = (time.time() if now is None else now) - TICKET_TTL_S
        removed = 0
        for site in self.sites:
            removed += await asyncio.to_thread(sweep_directory, self.directory_of(site), before)
        if removed:
            log.info("recordings.swept", removed=removed)
        return removed

    def start(self) -> None:
        self._sweeper = asyncio.ensure_future(self._sweep_loop())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def _sweep_loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # a bad directory must not end the sweeps
                log.exception("recordings.sweep_failed")
            await asyncio.sleep(SWEEP_EVERY_S)
