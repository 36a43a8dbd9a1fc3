"""Dispatch (派单): a ticket goes to a handling unit, by its webhook (a ``dispatch`` message
through the outbox) or by a call to its duty phone, and its accept deadline starts. A
level-3 unit off duty is asked from its next working period; an emergency for one goes to
the supervisor. Whether the ticket may go, and which of these happens, the lifecycle
(``linkage.lifecycle``) decides. Also: the units a catalog recommendation proposes.

Joint handling (联合调处): ``role="assisting"`` adds a unit beside the lead that holds the
case, with a record, deadlines and calls of its own. A major ticket (``severity``) tells
the leadership contacts of the linkage settings when its lead is dispatched (重大事件:
在下达指令的同时上报): a signed ``major_incident`` message to each one's webhook and a call to
each one's phone, a timeline entry and a supervisor alert.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import structlog

from hotline_link.core.errors import HotlineError
from hotline_link.core.events import LinkageDispatched, LinkageLeadershipNotified, LinkageSupervisorAlert
from ivr.prompts import synthesize
from linkage import lifecycle
from linkage.deadlines import Deadline, DeadlineStore
from linkage.errors import LinkageError, UnknownUnit
from linkage.journal import Clock, Journal
from linkage.lifecycle import Action, DispatchState, Kind, Loop, LoopEvent
from linkage.phone import (
    SOUNDS_SUBDIR,
    PhoneAsks,
    dispatch_numbers,
    dispatch_prompt,
    major_prompt,
    shipped_categories,
    summary_sound_name,
)
from linkage.policy import LinkageConfig
from linkage.records import DispatchRecords
from linkage.repeat_calls import RepeatCalls
from linkage.units import Unit, UnitDirectory
from tickets.outbox import Outbox
from tickets.recommend import Recommender
from tickets.store import Ticket, TicketStore

log = structlog.get_logger(__name__)

SUMMARY_CHARS = 60  # of a ticket's summary read on its dispatch call (about 15 s of speech)
ROLES = ("lead", "assisting")


class Dispatcher:
    def __init__(self, records: DispatchRecords, journal: Journal, deadlines: DeadlineStore, tickets: TicketStore,
                 outbox: Outbox, repeat_calls: RepeatCalls, *, units: UnitDirectory, config: LinkageConfig,
                 clock: Clock) -> None:
        self.records = records
        self.journal = journal
        self.deadlines = deadlines
        self.tickets = tickets
        self.outbox = outbox
        self.repeat_calls = repeat_calls
        self.units = units
        self.config = config
        self.clock = clock
        self.phone: PhoneAsks | None = None  # dispatch by phone, once the service has AMI
        self.spoken_categories = shipped_categories()  # a dispatch call says these (set-up time prompts)
        self.sounds_dir: Path | None = None  # Asterisk's sounds: where a dispatch call's summary is written
        self._recommender: asyncio.Future[Recommender] | None = None

    async def recommender(self) -> Recommender:
        """The catalog recommender of the units' jurisdiction, built once off the loop."""
        if self._recommender is None:
            self._recommender = asyncio.ensure_future(
                asyncio.to_thread(Recommender.for_jurisdiction, self.units.jurisdiction))
        return await self._recommender

    def proposal(self, ticket: Ticket, entry_id: str, responsible_unit: str) -> list[Unit]:
        """The units the catalog recommendation points at: by entry, else by unit name."""
        return list(self.units.for_entry(entry_id)) or list(self.units.named(responsible_unit))

    async def dispatch(self, ticket: Ticket, unit_id: str, by: str,
                       role: str = "lead") -> tuple[dict[str, str], bool]:
        """(the dispatch, whether it is new). Dispatching the unit that holds the case again
        is a no-op; a resolved or refused case, or one the supervisor took, may go to a unit
        anew. ``assisting``: the unit joins the case its lead holds (its own record)."""
        if role not in ROLES:
            raise LinkageError(f"role must be lead or assisting, not {role!r}")
        unit = self.units.get(unit_id)
        if unit is None:
            raise UnknownUnit(f"no unit {unit_id!r} in the {self.units.jurisdiction} units directory")
        existing = await self.records.get(ticket.id)
        now = self.clock()
        start = self.config.dispatch_start(unit.level, now)
        kind = Kind.DISPATCH if start <= now else Kind.TO_SUPERVISOR if ticket.emergency else Kind.QUEUE
        event = LoopEvent(kind, unit=unit.id)
        lead = Loop.of(ticket.id, existing)
        assisting = unit.id if role == "assisting" else None
        if assisting is None:
            transition = lifecycle.step(lead, event)
            current = existing
        else:
            current = await self.records.get(ticket.id, assisting)
            transition = lifecycle.assist(lead, Loop.of(ticket.id, current, assisting=True), event)
            if unit.id == lead.unit:
                current = existing  # the lead itself: its record
        if not transition.actions:
            return current or {}, False
        for action in transition.actions:
            match action:
                case Action.FORGET_ROUND:
                    await self.records.forget(ticket.id, assisting)
                case Action.ALERT_OFF_DUTY:
                    await self._to_supervisor(ticket, unit, now, by, assisting)
                case Action.SEND:
                    await self._send(ticket, unit, transition.state, now, start, by, assisting)
        if assisting is None and ticket.severity == "major":
            await self.notify_leadership(ticket, unit)
        return await self.records.get(ticket.id, assisting) or {}, True

    async def _to_supervisor(self, ticket: Ticket, unit: Unit, now: float, by: str,
                             assisting: str | None = None) -> None:
        """An emergency for a level-3 unit outside its working hours: the supervisor takes it."""
        await self.records.save(ticket.id, assisting, unit=unit.id, unit_name=unit.name, level=unit.level,
                                mode="none", state=DispatchState.SUPERVISOR.stored, dispatched_at=now,
                                site=ticket.site, by=by, role="lead" if assisting is None else "assisting")
        await self.deadlines.flag(ticket.id, {"flag": "off_duty_emergency", "unit": unit.id, "at": now})
        await self.journal.record(LinkageSupervisorAlert(
            ticket_id=ticket.id, unit=unit.id, site=ticket.site,
            reason="emergency for a level-3 unit outside working hours"))

    async def _send(self, ticket: Ticket, unit: Unit, state: DispatchState, now: float, start: float,
                    by: str, assisting: str | None = None) -> None:
        mode = "system" if unit.by_system else "phone"
        role = "lead" if assisting is None else "assisting"
        if assisting is None:  # dispatched anew: a refusal's "dispatch it anew" flag is done with
            await self.deadlines.unflag_kind(ticket.id, "refused")
        prompt = ""  # made before anything is saved: a crash in between leaves no dispatch without its call
        if mode == "phone" and self.phone is not None:
            prompt = dispatch_prompt(ticket.id, ticket.category, self.spoken_categories,
                                     await self._speak_summary(ticket))
        accept_due = self.config.due(unit.level, "accept", start)
        await self.records.save(ticket.id, assisting, unit=unit.id, unit_name=unit.name, level=unit.level,
                                mode=mode, state=state.stored, dispatched_at=now, start=start,
                                accept_due=accept_due, site=ticket.site, by=by, role=role)
        await self.deadlines.arm(Deadline(ticket.id, "accept", unit.id, unit.level, accept_due,
                                          assisting=assisting is not None))
        if mode == "system":
            await self.outbox.enqueue(f"dispatch-{ticket.id}-{unit.id}", unit.webhook_url, {
                "kind": "dispatch", "dispatch_id": f"{ticket.id}/{unit.id}", "ticket_id": ticket.id,
                "unit": unit.id, "level": unit.level, "category": ticket.category, "summary": ticket.summary,
                "division_code": ticket.division_code, "emergency": ticket.emergency,
                "start": start, "accept_due": accept_due, "role": role, "severity": ticket.severity},
                secret_ref=unit.secret_ref)
        if assisting is None:  # the ticket's handling unit is its lead
            await self.tickets.update(ticket, handling_unit=unit.name)
        await self.journal.record(LinkageDispatched(
            ticket_id=ticket.id, unit=unit.id, unit_name=unit.name, level=unit.level, mode=mode, site=ticket.site,
            by=by, queued_until=start if start > now else None, accept_due=accept_due, role=role))
        log.info("linkage.dispatched", ticket_id=ticket.id, unit=unit.id, mode=mode, queued=start > now, role=role)
        if prompt and self.phone is not None:  # a level-3 unit off duty: at the next working period
            own = {} if assisting is None else {"own_slot": unit.id}
            await self.phone.schedule_ask("dispatch", ticket.id, ticket.site,
                                          dispatch_numbers(unit.duty_phone, unit.backup_phone), prompt,
                                          at=start, unit=unit.id, **own)
        if assisting is None:
            await self.repeat_calls.on_dispatched(ticket)

    async def notify_leadership(self, ticket: Ticket, unit: Unit) -> None:
        """A major ticket's lead is dispatched: each leadership contact is told (a signed
        ``major_incident`` message, a call whose key 1 acknowledges), on the timeline, and
        the supervisor alerted. Nothing when the settings name no contact."""
        leaders = self.config.leadership
        if not leaders:
            return
        for leader in leaders:
            if leader.webhook_url:
                await self.outbox.enqueue(f"major-{ticket.id}-{unit.id}-{leader.name}", leader.webhook_url, {
                    "kind": "major_incident", "ticket_id": ticket.id, "site": ticket.site,
                    "category": ticket.category, "summary": ticket.summary,
                    "division_code": ticket.division_code, "emergency": ticket.emergency,
                    "unit": unit.id, "unit_name": unit.name, "contact": leader.name},
                    secret_ref=leader.secret_ref)
            if leader.phone and self.phone is not None:
                await self.phone.start_ask("leadership", ticket.id, ticket.site, [leader.phone, leader.phone],
                                           major_prompt(ticket.id, ticket.category, self.spoken_categories),
                                           unit=unit.id, contact=leader.name, own_slot=leader.name)
        names = [leader.name for leader in leaders]
        await self.journal.record(LinkageLeadershipNotified(ticket_id=ticket.id, site=ticket.site, unit=unit.id,
                                                            contacts=names))
        await self.journal.record(LinkageSupervisorAlert(
            ticket_id=ticket.id, unit=unit.id, site=ticket.site,
            reason=f"major ticket dispatched: leadership told ({'、'.join(names)})"))
        log.warning("linkage.leadership_notified", ticket_id=ticket.id, unit=unit.id, contacts=len(names))

    def _summary_file(self, ticket_id: str) -> Path | None:
        if self.sounds_dir is None:
            return None
        return self.sounds_dir / SOUNDS_SUBDIR / f"{summary_sound_name(ticket_id)}.wav"

    def forget_summary(self, ticket_id: str) -> None:
        """The dispatch call is over (or no longer needed): its summary sound goes."""
        summary = self._summary_file(ticket_id)
        if summary is not None:
            with contextlib.suppress(OSError):
                summary.unlink(missing_ok=True)

    async def _speak_summary(self, ticket: Ticket) -> str:
        """The ticket's summary (where the agent writes the place and what happened) as a
        sound for its dispatch call, synthesised now: it is the case's own text, unknown at
        set-up time. "" (the call goes on without it) when there is no summary, no sounds
        directory, or synthesis fails."""
        text = " ".join(ticket.summary.split())[:SUMMARY_CHARS]
        target = self._summary_file(ticket.id)
        if not text or target is None:
            return ""
        try:
            await asyncio.to_thread(synthesize, f"地点和情况：{text}。", target)
        except (HotlineError, OSError) as exc:
            log.warning("linkage.summary_not_spoken", ticket_id=ticket.id, reason=str(exc)[:200])
            return ""
        return summary_sound_name(ticket.id)
