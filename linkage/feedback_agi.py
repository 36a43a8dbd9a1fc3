"""The FastAGI ``feedback`` route: the units' feedback line (反馈回写 by phone).

``AGI(agi://.../feedback,${SITE},check)`` after the unit keyed ``FB_TICKET`` and ``FB_PIN``:
answers ``FB_RESULT`` (ok, refused or locked) and, when ok, ``FB_NOTE`` (the name the voice
note is recorded under). ``AGI(...,report)`` with ``FB_STEP`` (1 on scene, 2 done, 3 done but not resolved) checks
again and records the step through ``LinkageService.feedback``: the unit's own accept path
when it had not accepted yet, then arrival or result. A voice note the dialplan recorded
is attached to the ticket (``linkage.voice_note`` on its timeline, the file served by
``GET /api/tickets/{id}/voice-notes/{name}``). ``FB_RESULT`` then reads ok, refused,
locked, bad_step or wrong_step. PIN tries are counted per unit in Redis before the PIN is
compared (a right one gives its try back); past ``MAX_FAILURES`` wrong ones within
``LOCK_WINDOW_S`` the unit's line is locked and the supervisor alerted once.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import structlog
from redis.exceptions import RedisError

from hotline_link.asterisk.agi.server import AgiSession
from hotline_link.core.events import LinkageFeedbackRefused, LinkageSupervisorAlert, LinkageVoiceNote
from hotline_link.core.logs import mask_number
from hotline_link.core.redis_client import as_str_or_none
from hotline_link.core.settings import Settings, read_secret_file
from hotline_link.core.tasks import cancel_and_wait, repeat_every
from linkage.errors import LinkageError
from linkage.feedback_line import (
    LOCK_WINDOW_S,
    MIN_NOTE_BYTES,
    NOTE_NAME_RE,
    Check,
    check,
    keyed_digits,
    note_name,
    step_of_key,
    ticket_of_digits,
    unit_to_try,
)
from linkage.feedback_line import unit_pins as pins_of
from linkage.lifecycle import DispatchState
from linkage.service import LinkageService
from linkage.units import UnitDirectory
from tickets.store import TICKET_TTL_S

log = structlog.get_logger(__name__)

NotesDir = Callable[[str], Path]  # site -> where that site's Asterisk records voice notes


def unit_pins(settings: Settings, units: UnitDirectory) -> dict[str, str]:
    """{unit id: PIN} from the secrets file (``unit_pin_<unit id>`` keys)."""
    secrets = read_secret_file(settings.secrets_file) if settings.secrets_file.exists() else {}
    pins = pins_of(secrets, [unit.id for unit in units.units])
    log.info("feedback.pins_loaded", units=len(pins))
    return pins


SWEEP_EVERY_S = 86400.0


def _remove_older(directory: Path, oldest: float) -> int:
    removed = 0
    for path in directory.glob("*.wav") if directory.is_dir() else ():
        try:
            if path.stat().st_mtime < oldest:
                path.unlink()
                removed += 1
        except OSError as exc:
            log.warning("feedback.note_not_removed", note=path.stem, error=str(exc))
    return removed


def backoff_s(failures: int) -> float:
    """How long a calling number waits before its next PIN is checked, after ``failures``
    wrong ones in the lock window: a unit that mistypes once or twice is not slowed; from
    the third, 2, 4, 8, then 16 s each."""
    return 0.0 if failures < 3 else min(16.0, 2.0 ** (failures - 2))


class FeedbackLine:
    def __init__(self, linkage: LinkageService, pins: Mapping[str, str], notes_dir: NotesDir,
                 backoff: Callable[[int], float] = backoff_s) -> None:
        self.linkage = linkage
        self.pins = pins
        self.notes_dir = notes_dir
        self.backoff = backoff
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Voice notes are kept as long as tickets: older ones are removed once a day."""
        self._sweeper = asyncio.create_task(repeat_every(
            self.sweep_notes, lambda: SWEEP_EVERY_S, failed="feedback.sweep_failed", bug="feedback.sweep_bug"),
            name="feedback-notes-sweep")

    async def stop(self) -> None:
        await cancel_and_wait([self._sweeper])

    async def sweep_notes(self) -> int:
        """Remove the voice notes older than a ticket is kept (``TICKET_TTL_S``)."""
        oldest = time.time() - TICKET_TTL_S
        removed = 0
        for site in self.linkage.centers:
            removed += await asyncio.to_thread(_remove_older, self.notes_dir(site), oldest)
        if removed:
            log.info("feedback.notes_swept", removed=removed)
        return removed

    def attempts_key(self, unit: str) -> str:
        return self.linkage.keys.feedback_attempts(unit)

    def caller_failures_key(self, number: str) -> str:
        """Wrong PINs per calling number (hashed: no number in a key name)."""
        return self.linkage.keys.feedback_caller_failures(number)

    def notes_key(self, ticket_id: str) -> str:
        return self.linkage.keys.voice_notes(ticket_id)

    async def __call__(self, session: AgiSession) -> None:
        args = session.request.args
        site, action = (*args, "", "")[:2]
        if site not in self.linkage.centers or action not in ("check", "report"):
            log.warning("feedback.bad_request", site=site, action=action)
            return
        caller = mask_number(session.request.caller)
        failures_key = self.caller_failures_key(session.request.caller)
        try:
            delay = self.backoff(int(await self.linkage.redis.get(failures_key) or 0))
            if delay > 0:  # the caller hears silence: guessing from one number gets slow
                await asyncio.sleep(delay)
            result = await self._check(session, site)
            await self._count_caller(failures_key, result)
            with structlog.contextvars.bound_contextvars(ticket_id=result.ticket_id, site=site, caller=caller):
                if not result.ok:
                    await self._refused(session, result, site)
                elif action == "check":
                    name = note_name(result.ticket_id, self.linkage.clock(), secrets.token_hex(3))
                    await session.set_variable("FB_NOTE", name)
                    await session.set_variable("FB_RESULT", "ok")
                    log.info("feedback.checked", unit=result.unit, state=result.state)
                else:
                    await self._report(session, result, site)
        except RedisError as exc:  # the dialplan says the line is unavailable; nothing recorded
            log.error("feedback.failed", site=site, error=str(exc))

    async def _count_caller(self, key: str, result: Check) -> None:
        if result.ok:
            await self.linkage.redis.delete(key)
        elif result.reason in ("bad_pin", "locked", "bad_ticket", "not_dispatched"):
            pipe = self.linkage.redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, LOCK_WINDOW_S)
            await pipe.execute()

    async def _check(self, session: AgiSession, site: str) -> Check:
        """Counts the try first (INCR, one step), compares the PIN, and gives a right PIN's
        try back: concurrent calls cannot test more wrong PINs than the lock allows."""
        ticket_id = ticket_of_digits(site, await session.get_variable("FB_TICKET"))
        record = await self.linkage.record(ticket_id) if ticket_id else None
        pin = await session.get_variable("FB_PIN")
        unit = unit_to_try(ticket_id, record)
        attempts = 0
        if unit and keyed_digits(pin):
            pipe = self.linkage.redis.pipeline()
            pipe.incr(self.attempts_key(unit))
            pipe.expire(self.attempts_key(unit), LOCK_WINDOW_S)
            attempts = int((await pipe.execute())[0])
        result = check(ticket_id, record, self.pins, pin, attempts)
        if result.ok:
            await self.linkage.redis.decr(self.attempts_key(unit))
        return result

    async def _refused(self, session: AgiSession, result: Check, site: str) -> None:
        if result.reason in ("bad_pin", "locked"):  # a dispatched ticket: the attempt shows on it
            await self.linkage.journal.record(LinkageFeedbackRefused(
                ticket_id=result.ticket_id, site=site, unit=result.unit or None, reason=result.reason))
        if result.reason == "locked" and await self.linkage.redis.set(
                self.linkage.keys.feedback_lock_alert(result.unit), "1", nx=True, ex=LOCK_WINDOW_S):
            await self.linkage.deadlines.flag(result.ticket_id, {"flag": "feedback_locked", "unit": result.unit,
                                                                 "at": self.linkage.clock()})
            await self.linkage.journal.record(LinkageSupervisorAlert(
                ticket_id=result.ticket_id, unit=result.unit, site=site,
                reason="the unit's feedback line is locked after repeated wrong PINs"))
        # a locked line sounds like a wrong PIN: a guesser learns nothing from the answer
        await session.set_variable("FB_RESULT", "refused")
        log.warning("feedback.refused", reason=result.reason, unit=result.unit or None)

    async def _report(self, session: AgiSession, result: Check, site: str) -> None:
        choice = step_of_key(await session.get_variable("FB_STEP"))
        if choice is None:
            await session.set_variable("FB_RESULT", "bad_step")
            return
        step = choice.step
        note = await self._note(await session.get_variable("FB_NOTE"), result.ticket_id, site)
        try:
            if DispatchState(result.state).awaiting_accept:  # calling in on the case accepts it
                await self.linkage.feedback(result.ticket_id, result.unit, "accept", {})
            await self.linkage.feedback(result.ticket_id, result.unit, step, choice.body(note is not None))
        except LinkageError as exc:
            await session.set_variable("FB_RESULT", "wrong_step")
            log.warning("feedback.wrong_step", step=step, reason=str(exc))
            if note is not None:
                await self._discard(site, note[0])
            return
        if note is not None:
            await self._attach(result, site, step, *note)
        await session.set_variable("FB_RESULT", "ok")
        log.info("feedback.recorded", unit=result.unit, step=step, resolved=choice.resolved,
                 voice_note=note is not None)

    async def _note(self, name: str, ticket_id: str, site: str) -> tuple[str, float] | None:
        """(name, seconds) of the voice note if one was recorded and kept (long enough to
        hold speech)."""
        name = name.strip()
        if not name or not NOTE_NAME_RE.fullmatch(name) or not name.startswith(f"{ticket_id}-"):
            return None
        path = self.notes_dir(site) / f"{name}.wav"
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except OSError:
            return None
        if size < MIN_NOTE_BYTES:
            await self._discard(site, name)  # the unit pressed # at once: no note
            return None
        return name, round(max(0, size - 44) / 16000, 1)  # 8 kHz 16-bit mono after the header

    async def _discard(self, site: str, name: str) -> None:
        try:
            await asyncio.to_thread((self.notes_dir(site) / f"{name}.wav").unlink, missing_ok=True)
        except OSError as exc:  # e.g. owned by Asterisk's user: left for the operator's sweep
            log.warning("feedback.note_not_removed", note=name, error=str(exc))

    async def _attach(self, result: Check, site: str, step: str, name: str, seconds: float) -> None:
        pipe = self.linkage.redis.pipeline()
        pipe.hset(self.notes_key(result.ticket_id), name, site)
        pipe.expire(self.notes_key(result.ticket_id), TICKET_TTL_S)
        await pipe.execute()
        await self.linkage.journal.record(LinkageVoiceNote(ticket_id=result.ticket_id, site=site, unit=result.unit,
                                                           step=step, note=name, seconds=seconds))

    async def note_path(self, ticket_id: str, name: str) -> Path | None:
        """Where an attached voice note lies, or None when the ticket has no such note."""
        if not NOTE_NAME_RE.fullmatch(name):
            return None
        site = as_str_or_none(await self.linkage.redis.hget(self.notes_key(ticket_id), name))
        if not site:
            return None
        path = self.notes_dir(site) / f"{name}.wav"
        return path if path.is_file() else None
