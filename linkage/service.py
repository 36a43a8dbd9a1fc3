"""The closed loop's service: it builds the parts below over one Redis key prefix, wires
them, starts and stops them, and is what the plugin publishes (``LINKAGE``). The HTTP
resources, the feedback line and the phone asks reach the loop through it.

- ``linkage.lifecycle``: a dispatch's states and the steps between them (pure); every
  part asks it instead of comparing states;
- ``records`` (``linkage.records``): each ticket's dispatch record;
- ``journal`` (``linkage.journal``): every step on the ticket's timeline, the bus and the
  event log the report reads;
- ``dispatcher`` (``linkage.dispatching``): dispatch to a unit, by webhook or duty phone;
- ``unit_feedback`` (``linkage.feedback``): the units' accept, arrival and result;
- ``callbacks`` (``linkage.callbacks``): 回访, and callers opting out of it;
- ``deadlines``, ``scanner`` (``linkage.deadlines``): deadlines and the overdue scan (督办,
  提级); ``supervision`` (``linkage.supervision``): the calls and alerts they lead to;
- ``repeat_calls`` (``linkage.repeat_calls``): repeat calls and joint handling;
- the handovers between the platforms the report counts (``linkage.handovers``), heard
  on the bus with the answered calls the repeat calls follow;
- ``phone`` (``linkage.phone``): the calls to duty phones and callers, once attached.
"""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from hotline_link.core.bus import BusEvent, BusWorker, EventBus
from hotline_link.core.events import CallAnswered
from hotline_link.core.settings import Settings, read_secret_file
from linkage.callbacks import Callbacks
from linkage.deadlines import DeadlineScanner, DeadlineStore
from linkage.dispatching import Dispatcher
from linkage.feedback import UnitFeedback
from linkage.handovers import HANDOVER, handover_of, is_handover
from linkage.journal import Clock, Journal
from linkage.phone import Originate, PhoneAsks, PhoneTimings, Step
from linkage.policy import LinkageConfig, load_config
from linkage.records import DispatchRecords
from linkage.redis_keys import PREFIX, LinkageKeys
from linkage.repeat_calls import RepeatCalls
from linkage.supervision import Supervision
from linkage.units import UnitDirectory, units_for
from tickets.outbox import Outbox
from tickets.store import Ticket, TicketStore


def unit_secrets(settings: Settings) -> dict[str, str]:
    """The units' webhook secrets (``unit_secret_*`` keys of the secrets file)."""
    if not settings.secrets_file.exists():
        return {}
    return {k: v for k, v in read_secret_file(settings.secrets_file).items() if k.startswith("unit_secret_")}


class LinkageService:
    def __init__(self, redis: Redis, bus: EventBus, tickets: TicketStore, outbox: Outbox, *,
                 units: UnitDirectory, config: LinkageConfig, centers: frozenset[str],
                 prefix: str = PREFIX, clock: Clock = time.time, tick_s: float = 0.2) -> None:
        self.redis = redis
        self.bus = bus
        self.tickets = tickets
        self.outbox = outbox
        self.units = units
        self.config = config
        self.centers = centers
        self.prefix = prefix
        self.keys = LinkageKeys(prefix)
        self.clock = clock
        self.journal = Journal(redis, bus, prefix, clock)
        self.records = DispatchRecords(redis, self.keys)
        self.deadlines = DeadlineStore(redis, prefix)
        self.repeat_calls = RepeatCalls(redis, self.keys, self.records, tickets, self.journal, self.deadlines,
                                        config=config, centers=centers, clock=clock)
        self.callbacks = Callbacks(redis, self.keys, self.records, tickets, self.journal, clock=clock,
                                   window=config.calendar.next_working)
        self.dispatcher = Dispatcher(self.records, self.journal, self.deadlines, tickets, outbox, self.repeat_calls,
                                     units=units, config=config, clock=clock)
        self.unit_feedback = UnitFeedback(self.records, self.journal, self.deadlines, config=config, clock=clock,
                                          ask_satisfaction=self.callbacks.ask_satisfaction,
                                          forget_summary=self.dispatcher.forget_summary, tickets=tickets)
        self.supervision = Supervision(self.records, self.journal, self.deadlines, outbox, units=units,
                                       config=config, clock=clock)
        self.scanner = DeadlineScanner(self.deadlines, config, self.journal, clock, tick_s)
        self.scanner.on_overdue = self.supervision.on_overdue
        # repeat calls and the handovers the report counts
        self._events = BusWorker(bus, "linkage.bus", lambda e: e.is_(CallAnswered) or is_handover(e),
                                 self._handle)
        self._phone: PhoneAsks | None = None

    @property
    def phone(self) -> PhoneAsks | None:
        """Dispatch by phone, 督办 and 回访 calls, once ``attach_phone`` gave them AMI (None: none)."""
        return self._phone

    @phone.setter
    def phone(self, phone: PhoneAsks | None) -> None:
        self._phone = phone
        for part in (self.dispatcher, self.unit_feedback, self.callbacks, self.supervision):
            part.phone = phone

    def attach_phone(self, originate: Originate, timings: PhoneTimings = PhoneTimings()) -> PhoneAsks:
        """Calls to the units' duty phones (and 回访 calls) through ``originate(site, action)``."""
        phone = PhoneAsks(self.redis, self.bus, originate, self.journal.record, self._phone_finished,
                          prefix=self.prefix, clock=self.clock, timings=timings)
        self.phone = phone
        return phone

    @classmethod
    def for_settings(cls, settings: Settings, redis: Redis, bus: EventBus, tickets: TicketStore,
                     outbox: Outbox) -> LinkageService:
        units = units_for(settings.linkage_jurisdiction)
        service = cls(redis, bus, tickets, outbox, units=units, config=load_config(settings.linkage_config or None),
                      centers=frozenset(s.id for s in settings.sites if s.intake))
        service.dispatcher.sounds_dir = settings.sounds_path()
        return service

    def start(self) -> None:
        self.scanner.start()
        if self.phone is not None:
            self.phone.start()
        self._events.start()

    async def stop(self) -> None:
        """Write what the bus queued (for at most 2 s), then stop."""
        await self.scanner.stop()
        if self.phone is not None:
            await self.phone.stop()
        await self._events.stop(drain_s=2.0)

    # --- the loop's steps, as the HTTP API, the feedback line and the demo take them -----

    async def record(self, ticket_id: str) -> dict[str, str] | None:
        """The ticket's dispatch record, or None when it was never dispatched."""
        return await self.records.get(ticket_id)

    async def dispatch(self, ticket: Ticket, unit_id: str, by: str,
                       role: str = "lead") -> tuple[dict[str, str], bool]:
        return await self.dispatcher.dispatch(ticket, unit_id, by, role)

    async def assisting(self, ticket_id: str) -> list[dict[str, str]]:
        """The records of the ticket's assisting units (joint handling)."""
        return await self.records.assisting_records(ticket_id)

    async def feedback(self, ticket_id: str, unit_id: str, step: str, body: dict[str, Any]) -> dict[str, str]:
        return await self.unit_feedback.feedback(ticket_id, unit_id, step, body)

    async def callback(self, ticket: Ticket, result: str, by: str) -> None:
        await self.callbacks.callback(ticket, result, by)

    async def repeats(self, ticket_id: str) -> int:
        return await self.repeat_calls.count(ticket_id)

    # --- what the phone asks and the bus bring in ---------------------------------------

    async def _phone_finished(self, ask: dict[str, Any], step: Step) -> None:
        """The last word of a phone ask: a 回访 answer; a 督办 or 提级 call acknowledged or
        not; a dispatch accepted by key 1 (the unit's own accept path, so its deadlines
        start) or, every number tried, the supervisor alerted."""
        kind = ask["kind"]
        if kind == "callback":
            await self.callbacks.phone_answered(ask, step)
        elif kind in ("reminder", "escalation"):
            await self.supervision.overdue_call_answered(ask, step)
        elif kind == "dispatch":
            if not ask.get("own_slot"):  # an assisting unit's call shares the lead's summary sound
                self.dispatcher.forget_summary(ask["ticket_id"])  # the dispatch call is over
            if step.action == "done":
                await self.feedback(ask["ticket_id"], ask["unit"], "accept", {})
            else:
                await self.supervision.dispatch_unanswered(ask)

    async def _handle(self, event: BusEvent) -> None:
        if event.is_(CallAnswered):
            answered = event.as_(CallAnswered)
            await self.repeat_calls.on_call_answered(answered.site, answered.call_id, answered.caller)
            return
        await self.journal.log_only(HANDOVER, self.clock(), **handover_of(event, self.centers))
