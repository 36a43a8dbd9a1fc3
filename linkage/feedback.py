"""The units' feedback (反馈回写): accept (签收), arrival (到场) and result (办结), by the API,
the feedback line or key 1 on a dispatch call. Each step is asked of the lifecycle
(``linkage.lifecycle``), which refuses a wrong one; recording it clears and arms the
deadlines it concerns, the result asks for the 回访, and any step ends the calls still
asking the unit for it.

A unit's own voice, by the API: ``progress`` (处置中, a note, repeatable), ``refuse`` (not
ours, with the reason: its part ends, the supervisor is alerted to dispatch anew) and
``ask_police`` (联动110: published as ``linkage.police_requested``, which the exchange
channel hands to 110). In joint handling an assisting unit reports on its own record
(``DispatchRecords.reporter``); its result asks no 回访.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hotline_link.core.events import (
    LinkageAccepted,
    LinkageArrived,
    LinkagePoliceRequested,
    LinkageProgress,
    LinkageRefused,
    LinkageResolved,
    LinkageResultConflict,
    LinkageSupervisorAlert,
)
from linkage import lifecycle
from linkage.deadlines import Deadline, DeadlineStore
from linkage.errors import LinkageError
from linkage.journal import Clock, Journal
from linkage.lifecycle import UNIT_STEPS, Action, DispatchState, Loop, LoopEvent
from linkage.phone import PhoneAsks
from linkage.policy import LinkageConfig
from linkage.records import DispatchRecords
from tickets.store import TicketStore

# what a unit reports: accept, arrival, result, progress, refuse, ask_police
STEPS = {kind.value: kind for kind in UNIT_STEPS}


@dataclass(frozen=True)
class _Part:
    """The record a step goes to: the lead's (``assisting`` None) or an assisting unit's."""

    ticket_id: str
    assisting: str | None
    record: dict[str, str]

    @property
    def role(self) -> str:
        return "lead" if self.assisting is None else "assisting"


class UnitFeedback:
    def __init__(self, records: DispatchRecords, journal: Journal, deadlines: DeadlineStore, *,
                 config: LinkageConfig, clock: Clock, ask_satisfaction: Callable[[str], Awaitable[None]],
                 forget_summary: Callable[[str], None], tickets: TicketStore | None = None) -> None:
        self.records = records
        self.tickets = tickets  # ask_police reads the ticket (its platform, restricted)
        self.journal = journal
        self.deadlines = deadlines
        self.config = config
        self.clock = clock
        self.ask_satisfaction = ask_satisfaction  # 回访 once the result is in
        self.forget_summary = forget_summary  # a dispatch call's summary sound, once the call is over
        self.phone: PhoneAsks | None = None

    async def feedback(self, ticket_id: str, unit_id: str, step: str, body: dict[str, Any]) -> dict[str, str]:
        assisting = await self.records.reporter(ticket_id, unit_id)
        record = await self.records.get(ticket_id, assisting)
        loop = Loop.of(ticket_id, record, assisting=assisting is not None)
        kind = STEPS.get(step)
        if kind is None:
            lifecycle.check_reporter(loop, unit_id)
            raise LinkageError(f"step must be one of {', '.join(STEPS)}, not {step!r}")
        platform, restricted = record.get("site", "") if record else "", False
        if kind.value == "ask_police" and self.tickets is not None:
            ticket = await self.tickets.get(ticket_id)
            platform, restricted = (ticket.site, ticket.restricted) if ticket is not None else (platform, False)
        transition = lifecycle.step(loop, LoopEvent(kind, unit=unit_id, resolved=body.get("resolved"),
                                                    platform=platform, restricted=restricted))
        assert record is not None  # a unit reports on a dispatched ticket only (else step refused it)
        part = _Part(ticket_id, assisting, record)
        for action in transition.actions:
            match action:
                case Action.RECORD_ACCEPT:
                    await self._accept(part)
                case Action.RECORD_ARRIVAL:
                    await self._arrival(part, body)
                case Action.RECORD_RESULT:
                    await self._result(part, body)
                case Action.FLAG_CONFLICT:
                    await self._conflict(ticket_id, record, body)
                case Action.ASK_SATISFACTION:
                    await self.ask_satisfaction(ticket_id)
                case Action.STOP_ASKING:
                    await self._stop_asking(ticket_id, step, assisting)
                case Action.RECORD_PROGRESS:
                    await self._progress(part, body)
                case Action.RECORD_REFUSAL:
                    await self._refuse(part, body)
                case Action.REQUEST_POLICE:
                    await self._ask_police(part, body)
        if transition.refusal is not None:
            raise transition.refusal
        return await self.records.get(ticket_id, assisting) or {}

    async def _stop_asking(self, ticket_id: str, step: str, assisting: str | None = None) -> None:
        """The unit reported: its dispatch call's tries (any step accepts) and a reminder
        about what it reported end; a reminder about arrival ends with the result too."""
        if self.phone is None:
            return
        own = assisting or ""
        if await self.phone.cancel(ticket_id, "dispatch", reason=f"unit reported {step}", own=own) and not own:
            self.forget_summary(ticket_id)
        reminder = await self.phone.active(ticket_id, "reminder", own)
        ends = step in ("result", "refuse") or (step == "arrival" and reminder is not None
                                                and reminder.get("stage") == "arrive")
        if reminder is not None and ends:
            await self.phone.cancel(ticket_id, "reminder", reason=f"unit reported {step}", own=own)

    async def _accept(self, part: _Part) -> None:
        now = self.clock()
        ticket_id, record, assisting = part.ticket_id, part.record, part.assisting
        level, unit = int(record["level"]), record["unit"]
        await self.deadlines.clear(ticket_id, "accept", assisting)
        arrive_due = self.config.due(level, "arrive", now)
        result_due = self.config.due(level, "result", now)
        await self.records.save(ticket_id, assisting, state=DispatchState.ACCEPTED.stored, accepted_at=now,
                                arrive_due=arrive_due, result_due=result_due)
        mine = assisting is not None
        await self.deadlines.arm(Deadline(ticket_id, "arrive", unit, level, arrive_due, assisting=mine))
        await self.deadlines.arm(Deadline(ticket_id, "result", unit, level, result_due, assisting=mine))
        await self.journal.record(LinkageAccepted(
            ticket_id=ticket_id, unit=unit, site=record.get("site", ""), on_time=now <= float(record["accept_due"]),
            arrive_due=arrive_due, result_due=result_due, role=part.role))

    def _when(self, body: dict[str, Any], record: dict[str, str]) -> float:
        now = self.clock()
        at = body.get("at", now)
        if isinstance(at, bool) or not isinstance(at, (int, float)):
            raise LinkageError("'at' must be a POSIX time in seconds")
        if not float(record["accepted_at"]) - 1 <= at <= now + 60:
            raise LinkageError("'at' must lie between the acceptance and now")
        return float(at)

    @staticmethod
    def _text(body: dict[str, Any], name: str, required: bool) -> str:
        value = body.get(name, "")
        if not isinstance(value, str) or len(value) > 500 or (required and not value.strip()):
            raise LinkageError(f"field {name!r} must be {'a non-empty ' if required else 'a '}string "
                               "of at most 500 characters")
        return value

    async def _arrival(self, part: _Part, body: dict[str, Any]) -> None:
        ticket_id, record, assisting = part.ticket_id, part.record, part.assisting
        situation = self._text(body, "situation", True)
        at = self._when(body, record)
        await self.deadlines.clear(ticket_id, "arrive", assisting)
        on_time = at <= float(record["arrive_due"])
        await self.records.save(ticket_id, assisting, state=DispatchState.ARRIVED.stored, arrived_at=at,
                                situation=situation)
        await self.journal.record(LinkageArrived(
            ticket_id=ticket_id, unit=record["unit"], site=record.get("site", ""), arrived_at=at, on_time=on_time,
            situation=situation, role=part.role))

    async def _result(self, part: _Part, body: dict[str, Any]) -> None:
        ticket_id, record, assisting = part.ticket_id, part.record, part.assisting
        resolved = body.get("resolved")
        if not isinstance(resolved, bool):
            raise LinkageError("field 'resolved' (true or false) is required")
        summary = self._text(body, "summary", False)
        now = self.clock()
        await self._end_deadlines(part)
        await self.records.save(ticket_id, assisting, state=DispatchState.RESOLVED.stored, result_at=now,
                                resolved=resolved, summary=summary)
        await self.journal.record(LinkageResolved(
            ticket_id=ticket_id, unit=record["unit"], site=record.get("site", ""), resolved=resolved,
            on_time=now <= float(record["result_due"]), summary=summary, role=part.role))

    async def _end_deadlines(self, part: _Part) -> None:
        """The unit's part is over: its deadlines go, and the red flag when it is about it
        (an assisting unit's end leaves the lead's flag)."""
        for stage in ("accept", "arrive", "result"):
            await self.deadlines.clear(part.ticket_id, stage, part.assisting)
        flag = (await self.deadlines.flags()).get(part.ticket_id)
        if part.assisting is None or (flag is not None and flag.get("unit") == part.assisting):
            await self.deadlines.unflag(part.ticket_id)

    async def _progress(self, part: _Part, body: dict[str, Any]) -> None:
        note = self._text(body, "note", True)
        await self.records.save(part.ticket_id, part.assisting, progress_at=self.clock(), progress=note)
        await self.journal.record(LinkageProgress(ticket_id=part.ticket_id, unit=part.record["unit"],
                                                  site=part.record.get("site", ""), note=note, role=part.role))

    async def _refuse(self, part: _Part, body: dict[str, Any]) -> None:
        """Not ours: the unit's part ends refused (its deadlines go); the supervisor is
        flagged and alerted to dispatch the case anew (a refused lead frees the ticket)."""
        reason = self._text(body, "reason", True)
        now = self.clock()
        unit, site = part.record["unit"], part.record.get("site", "")
        await self._end_deadlines(part)
        await self.records.save(part.ticket_id, part.assisting, state=DispatchState.REFUSED.stored,
                                refused_at=now, refusal=reason)
        await self.deadlines.flag(part.ticket_id, {"flag": "refused", "unit": unit, "at": now})
        await self.journal.record(LinkageRefused(ticket_id=part.ticket_id, unit=unit, site=site, reason=reason,
                                                 role=part.role))
        await self.journal.record(LinkageSupervisorAlert(
            ticket_id=part.ticket_id, unit=unit, site=site,
            reason=f"the {part.role} unit refused the case ({reason[:100]}): dispatch it anew"))

    async def _ask_police(self, part: _Part, body: dict[str, Any]) -> None:
        """联动110: noted on the unit's record and published; the exchange channel (two
        deployments) hands the ticket to 110."""
        note = self._text(body, "note", False)
        await self.records.save(part.ticket_id, part.assisting, police_asked_at=self.clock())
        await self.journal.record(LinkagePoliceRequested(ticket_id=part.ticket_id, unit=part.record["unit"],
                                                         site=part.record.get("site", ""), note=note))

    async def _conflict(self, ticket_id: str, record: dict[str, str], body: dict[str, Any]) -> None:
        """A result saying the opposite of the recorded one (a unit that pressed 2 for 3) is
        flagged and shown on the timeline; the lifecycle refuses it, and the recorded result
        stands until the supervisor dispatches the case anew."""
        await self.deadlines.flag(ticket_id, {"flag": "result_conflict", "unit": record["unit"], "at": self.clock()})
        await self.journal.record(LinkageResultConflict(
            ticket_id=ticket_id, unit=record["unit"], site=record.get("site", ""),
            recorded=record.get("resolved") == "True", reported=body.get("resolved")))
