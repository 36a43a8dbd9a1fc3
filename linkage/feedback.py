"""The units' feedback (反馈回写): accept (签收), arrival (到场) and result (办结), by the API,
the feedback line or key 1 on a dispatch call. Each step is asked of the lifecycle
(``linkage.lifecycle``), which refuses a wrong one; recording it clears and arms the
deadlines it concerns, the result asks for the 回访, and any step ends the calls still
asking the unit for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hotline_link.core.events import LinkageAccepted, LinkageArrived, LinkageResolved, LinkageResultConflict
from linkage import lifecycle
from linkage.deadlines import Deadline, DeadlineStore
from linkage.errors import LinkageError
from linkage.journal import Clock, Journal
from linkage.lifecycle import FEEDBACK, Action, DispatchState, Loop, LoopEvent
from linkage.phone import PhoneAsks
from linkage.policy import LinkageConfig
from linkage.records import DispatchRecords

STEPS = {kind.value: kind for kind in FEEDBACK}  # what a unit reports: accept, arrival, result


class UnitFeedback:
    def __init__(self, records: DispatchRecords, journal: Journal, deadlines: DeadlineStore, *,
                 config: LinkageConfig, clock: Clock, ask_satisfaction: Callable[[str], Awaitable[None]],
                 forget_summary: Callable[[str], None]) -> None:
        self.records = records
        self.journal = journal
        self.deadlines = deadlines
        self.config = config
        self.clock = clock
        self.ask_satisfaction = ask_satisfaction  # 回访 once the result is in
        self.forget_summary = forget_summary  # a dispatch call's summary sound, once the call is over
        self.phone: PhoneAsks | None = None

    async def feedback(self, ticket_id: str, unit_id: str, step: str, body: dict[str, Any]) -> dict[str, str]:
        record = await self.records.get(ticket_id)
        loop = Loop.of(ticket_id, record)
        kind = STEPS.get(step)
        if kind is None:
            lifecycle.check_reporter(loop, unit_id)
            raise LinkageError(f"step must be accept, arrival or result, not {step!r}")
        transition = lifecycle.step(loop, LoopEvent(kind, unit=unit_id, resolved=body.get("resolved")))
        assert record is not None  # a unit reports on a dispatched ticket only (else step refused it)
        for action in transition.actions:
            match action:
                case Action.RECORD_ACCEPT:
                    await self._accept(ticket_id, record)
                case Action.RECORD_ARRIVAL:
                    await self._arrival(ticket_id, record, body)
                case Action.RECORD_RESULT:
                    await self._result(ticket_id, record, body)
                case Action.FLAG_CONFLICT:
                    await self._conflict(ticket_id, record, body)
                case Action.ASK_SATISFACTION:
                    await self.ask_satisfaction(ticket_id)
                case Action.STOP_ASKING:
                    await self._stop_asking(ticket_id, step)
        if transition.refusal is not None:
            raise transition.refusal
        return await self.records.get(ticket_id) or {}

    async def _stop_asking(self, ticket_id: str, step: str) -> None:
        """The unit reported: its dispatch call's tries (any step accepts) and a reminder
        about what it reported end; a reminder about arrival ends with the result too."""
        if self.phone is None:
            return
        if await self.phone.cancel(ticket_id, "dispatch", reason=f"unit reported {step}"):
            self.forget_summary(ticket_id)
        reminder = await self.phone.active(ticket_id, "reminder")
        if reminder is not None and (step == "result" or (step == "arrival" and reminder.get("stage") == "arrive")):
            await self.phone.cancel(ticket_id, "reminder", reason=f"unit reported {step}")

    async def _accept(self, ticket_id: str, record: dict[str, str]) -> None:
        now = self.clock()
        level, unit = int(record["level"]), record["unit"]
        await self.deadlines.clear(ticket_id, "accept")
        arrive_due = self.config.due(level, "arrive", now)
        result_due = self.config.due(level, "result", now)
        await self.records.save(ticket_id, state=DispatchState.ACCEPTED.stored, accepted_at=now,
                                arrive_due=arrive_due, result_due=result_due)
        await self.deadlines.arm(Deadline(ticket_id, "arrive", unit, level, arrive_due))
        await self.deadlines.arm(Deadline(ticket_id, "result", unit, level, result_due))
        await self.journal.record(LinkageAccepted(
            ticket_id=ticket_id, unit=unit, site=record.get("site", ""), on_time=now <= float(record["accept_due"]),
            arrive_due=arrive_due, result_due=result_due))

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

    async def _arrival(self, ticket_id: str, record: dict[str, str], body: dict[str, Any]) -> None:
        situation = self._text(body, "situation", True)
        at = self._when(body, record)
        await self.deadlines.clear(ticket_id, "arrive")
        on_time = at <= float(record["arrive_due"])
        await self.records.save(ticket_id, state=DispatchState.ARRIVED.stored, arrived_at=at, situation=situation)
        await self.journal.record(LinkageArrived(
            ticket_id=ticket_id, unit=record["unit"], site=record.get("site", ""), arrived_at=at, on_time=on_time,
            situation=situation))

    async def _result(self, ticket_id: str, record: dict[str, str], body: dict[str, Any]) -> None:
        resolved = body.get("resolved")
        if not isinstance(resolved, bool):
            raise LinkageError("field 'resolved' (true or false) is required")
        summary = self._text(body, "summary", False)
        now = self.clock()
        await self.deadlines.clear(ticket_id, "arrive")
        await self.deadlines.clear(ticket_id, "result")
        await self.deadlines.unflag(ticket_id)
        await self.records.save(ticket_id, state=DispatchState.RESOLVED.stored, result_at=now, resolved=resolved,
                                summary=summary)
        await self.journal.record(LinkageResolved(
            ticket_id=ticket_id, unit=record["unit"], site=record.get("site", ""), resolved=resolved,
            on_time=now <= float(record["result_due"]), summary=summary))

    async def _conflict(self, ticket_id: str, record: dict[str, str], body: dict[str, Any]) -> None:
        """A result saying the opposite of the recorded one (a unit that pressed 2 for 3) is
        flagged and shown on the timeline; the lifecycle refuses it, and the recorded result
        stands until the supervisor dispatches the case anew."""
        await self.deadlines.flag(ticket_id, {"flag": "result_conflict", "unit": record["unit"], "at": self.clock()})
        await self.journal.record(LinkageResultConflict(
            ticket_id=ticket_id, unit=record["unit"], site=record.get("site", ""),
            recorded=record.get("resolved") == "True", reported=body.get("resolved")))
