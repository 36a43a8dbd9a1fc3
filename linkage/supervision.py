"""What overdue deadlines and unanswered dispatch calls lead to, beyond the record the
deadline scan writes (``linkage.deadlines``): 督办 calls the unit again (a ``supervise``
message to a unit with a webhook), 提级 calls the command centre, and when no duty phone
accepted a dispatch the supervisor is alerted. Only while the lifecycle says a unit holds
the case (``linkage.lifecycle``): a deadline or a call outliving it changes nothing.
"""

from __future__ import annotations

from typing import Any

import structlog

from hotline_link.core.events import (
    LinkageEscalationAcknowledged,
    LinkageEscalationUnanswered,
    LinkageReminderAcknowledged,
    LinkageReminderUnanswered,
    LinkageSupervisorAlert,
    OverdueCallAnswered,
)
from linkage import lifecycle
from linkage.deadlines import Deadline, DeadlineStore
from linkage.journal import Clock, Journal
from linkage.lifecycle import Action, Kind, Loop, LoopEvent
from linkage.phone import PhoneAsks, Step, dispatch_numbers, overdue_prompt
from linkage.policy import SUPERVISED, LinkageConfig
from linkage.records import DispatchRecords
from linkage.units import UnitDirectory
from tickets.outbox import Outbox

log = structlog.get_logger(__name__)

# a 督办 reminder's or 提级 notice's last word: (ask kind, answer) -> its timeline event
OVERDUE_CALL_ANSWERS: dict[tuple[str, str], type[OverdueCallAnswered]] = {
    ("reminder", "acknowledged"): LinkageReminderAcknowledged,
    ("reminder", "unanswered"): LinkageReminderUnanswered,
    ("escalation", "acknowledged"): LinkageEscalationAcknowledged,
    ("escalation", "unanswered"): LinkageEscalationUnanswered}


class Supervision:
    def __init__(self, records: DispatchRecords, journal: Journal, deadlines: DeadlineStore, outbox: Outbox, *,
                 units: UnitDirectory, config: LinkageConfig, clock: Clock) -> None:
        self.records = records
        self.journal = journal
        self.deadlines = deadlines
        self.outbox = outbox
        self.units = units
        self.config = config
        self.clock = clock
        self.phone: PhoneAsks | None = None

    async def on_overdue(self, deadline: Deadline, what: str) -> None:
        """督办 (``what``: supervised) calls the unit (by phone when it has no webhook; a
        webhook unit gets a ``supervise`` message through the outbox); 提级 calls the command
        centre."""
        assisting = deadline.unit if deadline.assisting else None  # an assisting unit's own deadline
        record = await self.records.get(deadline.ticket_id, assisting)
        unit = self.units.get(deadline.unit)
        transition = lifecycle.step(Loop.of(deadline.ticket_id, record, assisting=assisting is not None),
                                    LoopEvent(Kind.OVERDUE))
        if record is None or unit is None or Action.CALL_OVERDUE not in transition.actions:
            return
        site = record.get("site", "")
        own = {} if assisting is None else {"own_slot": assisting}
        job = f"supervise-{deadline.ticket_id}-{deadline.stage}" + ("" if assisting is None else f"-{assisting}")
        if what == SUPERVISED and unit.by_system:
            await self.outbox.enqueue(job, unit.webhook_url, {
                "kind": "supervise", "dispatch_id": f"{deadline.ticket_id}/{unit.id}", "ticket_id": deadline.ticket_id,
                "unit": unit.id, "stage": deadline.stage, "due": deadline.due}, secret_ref=unit.secret_ref)
            return
        if self.phone is None:
            return
        if what == SUPERVISED and deadline.stage == "accept":  # key 1 accepts: the dispatch ask, anew
            if await self.phone.active(deadline.ticket_id, "dispatch", assisting or "") is not None:
                return  # its tries still go on: replacing them would drop a key 1 on the way
            await self.phone.start_ask("dispatch", deadline.ticket_id, site,
                                       dispatch_numbers(unit.duty_phone, unit.backup_phone, 1),
                                       overdue_prompt("reminder", deadline.ticket_id, "accept"), unit=unit.id,
                                       **own)
        elif what == SUPERVISED:
            await self.phone.start_ask("reminder", deadline.ticket_id, site,
                                       dispatch_numbers(unit.duty_phone, unit.backup_phone, 1),
                                       overdue_prompt("reminder", deadline.ticket_id, deadline.stage),
                                       unit=unit.id, stage=deadline.stage, **own)
        else:
            phone = self.config.escalation_phone
            await self.phone.start_ask("escalation", deadline.ticket_id, site, [phone, phone],
                                       overdue_prompt("escalation", deadline.ticket_id, deadline.stage),
                                       unit=unit.id, stage=deadline.stage, **own)

    async def overdue_call_answered(self, ask: dict[str, Any], step: Step) -> None:
        """A 督办 reminder's or 提级 notice's last word, on the timeline."""
        kind = OVERDUE_CALL_ANSWERS[(ask["kind"], step.answer or "unanswered")]
        await self.journal.record(kind(ticket_id=ask["ticket_id"], unit=ask["unit"], site=ask["site"],
                                       stage=ask.get("stage")))

    async def dispatch_unanswered(self, ask: dict[str, Any]) -> None:
        """Every number of a dispatch call tried, none accepted: the supervisor is alerted,
        unless the unit accepted meanwhile (the API, the feedback line) or the case went to
        another unit."""
        ticket_id = ask["ticket_id"]
        loop = await self.records.loop(ticket_id, ask.get("own_slot") or None)
        if Action.ALERT_UNANSWERED not in lifecycle.step(loop, LoopEvent(Kind.UNANSWERED, unit=ask["unit"])).actions:
            return
        await self.deadlines.flag(ticket_id, {"flag": "phone_unanswered", "unit": ask["unit"], "at": self.clock()})
        await self.journal.record(LinkageSupervisorAlert(
            ticket_id=ticket_id, unit=ask["unit"], site=ask["site"],
            reason="the unit's duty and backup phones did not accept the dispatch"))
        log.warning("linkage.phone_unanswered", ticket_id=ticket_id, unit=ask["unit"])
