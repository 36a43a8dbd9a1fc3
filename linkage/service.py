"""The closed loop over Redis: dispatch to a unit (by its webhook through the outbox),
the unit's feedback (accept, arrival, result), deadlines and their scan, repeat calls, the
satisfaction callback result, and the event log the report reads.

A ticket's dispatch is the hash ``{prefix}dispatch:{ticket_id}``: unit, level, mode
(system or phone), state (queued, dispatched, accepted, arrived, resolved, supervisor) and
the times of each step. Every step goes through ``Journal.note`` (timeline, bus, log).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from redis.asyncio import Redis

from hotline_link.core.bus import BusEvent, BusWorker, EventBus
from hotline_link.core.errors import HotlineError
from hotline_link.core.redis_client import as_str_hash, as_str_or_none
from hotline_link.core.settings import Settings, read_secret_file
from ivr.prompts import synthesize
from linkage.deadlines import Deadline, DeadlineScanner, DeadlineStore
from linkage.errors import (
    AlreadyDispatched,
    LinkageError,
    NoCallback,
    NotDispatched,
    NotYourTicket,
    UnknownUnit,
    WrongStep,
)
from linkage.journal import Clock, Journal
from linkage.phone import (
    SOUNDS_SUBDIR,
    Originate,
    PhoneAsks,
    PhoneTimings,
    Step,
    callback_prompt,
    dispatch_numbers,
    dispatch_prompt,
    overdue_prompt,
    shipped_categories,
    summary_sound_name,
)
from linkage.policy import SUPERVISED, LinkageConfig, load_config
from linkage.repeats import crosses_threshold, normalise_number, number_key, place_key
from linkage.units import Unit, UnitDirectory, units_for
from tickets.outbox import Outbox
from tickets.recommend import Recommender
from tickets.store import TICKET_TTL_S, Ticket, TicketStore

log = structlog.get_logger(__name__)

OPEN_STATES = ("queued", "dispatched", "accepted", "arrived", "supervisor")
HELD_STATES = ("queued", "dispatched", "accepted", "arrived")  # a unit holds the case
SUMMARY_CHARS = 60  # of a ticket's summary read on its dispatch call (about 15 s of speech)
CALLBACK_RESULTS = ("满意", "基本满意", "不满意", "未回访")
# bus events between the platforms the report counts (mode of each handover)
HANDOVER_MODES = {"transfer.answered": "一键转接", "conference.dialling": "三方通话", "ticket.pushed_in": "系统推送"}


def unit_secrets(settings: Settings) -> dict[str, str]:
    """The units' webhook secrets (``unit_secret_*`` keys of the secrets file)."""
    if not settings.secrets_file.exists():
        return {}
    return {k: v for k, v in read_secret_file(settings.secrets_file).items() if k.startswith("unit_secret_")}


def _platform_of(data: dict[str, Any], centers: frozenset[str]) -> str:
    ticket = str(data.get("ticket_id") or "")
    head = ticket.split("-", 1)[0]
    if head in centers:
        return head
    call_id = str(data.get("call_id") or "")
    return next((c for c in centers if call_id.startswith(f"hl{c}-")), "")


class LinkageService:
    def __init__(self, redis: Redis, bus: EventBus, tickets: TicketStore, outbox: Outbox, *,
                 units: UnitDirectory, config: LinkageConfig, centers: frozenset[str],
                 prefix: str = "hl:linkage:", clock: Clock = time.time, tick_s: float = 0.2) -> None:
        self.redis = redis
        self.bus = bus
        self.tickets = tickets
        self.outbox = outbox
        self.units = units
        self.config = config
        self.centers = centers
        self.prefix = prefix
        self.clock = clock
        self.journal = Journal(redis, bus, prefix, clock)
        self.deadlines = DeadlineStore(redis, prefix)
        self.scanner = DeadlineScanner(self.deadlines, config, self.journal, clock, tick_s)
        self.scanner.on_overdue = self._overdue_call
        # repeat calls and the handovers the report counts
        self._events = BusWorker(bus, "linkage.bus", lambda e: e.name == "call.answered"
                                 or e.name in HANDOVER_MODES, self._handle)
        self._recommender: asyncio.Future[Recommender] | None = None
        self.phone: PhoneAsks | None = None  # dispatch by phone, once attach_phone gave it AMI
        # when a 回访 call may go out: the next moment within the calling hours
        self.callback_window: Callable[[float], float] = config.calendar.next_working
        self.spoken_categories = shipped_categories()  # a dispatch call says these (set-up time prompts)
        self.sounds_dir: Path | None = None  # Asterisk's sounds: where a dispatch call's summary is written

    def attach_phone(self, originate: Originate, timings: PhoneTimings = PhoneTimings()) -> PhoneAsks:
        """Calls to the units' duty phones (and 回访 calls) through ``originate(site, action)``."""
        self.phone = PhoneAsks(self.redis, self.bus, originate, self.journal.note, self._phone_finished,
                               prefix=self.prefix, clock=self.clock, timings=timings)
        return self.phone

    @classmethod
    def for_settings(cls, settings: Settings, redis: Redis, bus: EventBus, tickets: TicketStore,
                     outbox: Outbox) -> LinkageService:
        units = units_for(settings.linkage_jurisdiction)
        service = cls(redis, bus, tickets, outbox, units=units, config=load_config(settings.linkage_config or None),
                      centers=frozenset(s.id for s in settings.sites if s.intake))
        service.sounds_dir = settings.sounds_path()
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

    async def recommender(self) -> Recommender:
        """The catalog recommender of the units' jurisdiction, built once off the loop."""
        if self._recommender is None:
            self._recommender = asyncio.ensure_future(
                asyncio.to_thread(Recommender.for_jurisdiction, self.units.jurisdiction))
        return await self._recommender

    # --- dispatch ---------------------------------------------------------------------

    def _key(self, ticket_id: str) -> str:
        return f"{self.prefix}dispatch:{ticket_id}"

    async def record(self, ticket_id: str) -> dict[str, str] | None:
        row = as_str_hash(await self.redis.hgetall(self._key(ticket_id)))
        return row or None

    async def _save(self, ticket_id: str, **fields: object) -> None:
        pipe = self.redis.pipeline()
        pipe.hset(self._key(ticket_id), mapping={k: str(v) for k, v in fields.items()})
        pipe.expire(self._key(ticket_id), TICKET_TTL_S)
        await pipe.execute()

    def proposal(self, ticket: Ticket, entry_id: str, responsible_unit: str) -> list[Unit]:
        """The units the catalog recommendation points at: by entry, else by unit name."""
        return list(self.units.for_entry(entry_id)) or list(self.units.named(responsible_unit))

    async def dispatch(self, ticket: Ticket, unit_id: str, by: str) -> tuple[dict[str, str], bool]:
        """(the dispatch, whether it is new). Dispatching the unit that holds the case again
        is a no-op; a resolved case, or one the supervisor took, may go to a unit anew."""
        unit = self.units.get(unit_id)
        if unit is None:
            raise UnknownUnit(f"no unit {unit_id!r} in the {self.units.jurisdiction} units directory")
        existing = await self.record(ticket.id)
        if existing and existing["state"] in HELD_STATES:
            if existing["unit"] == unit.id:
                return existing, False
            raise AlreadyDispatched(f"ticket {ticket.id} is with {existing['unit']} ({existing['state']})")
        if existing:  # the earlier round's steps stay on the timeline and in the event log
            await self.redis.delete(self._key(ticket.id))
        now = self.clock()
        start = self.config.dispatch_start(unit.level, now)
        if start > now and ticket.emergency:  # a level-3 unit off duty: the supervisor takes it
            await self._save(ticket.id, unit=unit.id, unit_name=unit.name, level=unit.level, mode="none",
                             state="supervisor", dispatched_at=now, site=ticket.site, by=by)
            await self.deadlines.flag(ticket.id, {"flag": "off_duty_emergency", "unit": unit.id, "at": now})
            await self.journal.note("linkage.supervisor_alert", ticket.id, unit=unit.id, site=ticket.site,
                                    reason="emergency for a level-3 unit outside working hours")
            return await self.record(ticket.id) or {}, True
        mode = "system" if unit.by_system else "phone"
        prompt = ""  # made before anything is saved: a crash in between leaves no dispatch without its call
        if mode == "phone" and self.phone is not None:
            prompt = dispatch_prompt(ticket.id, ticket.category, self.spoken_categories,
                                     await self._speak_summary(ticket))
        accept_due = self.config.due(unit.level, "accept", start)
        await self._save(ticket.id, unit=unit.id, unit_name=unit.name, level=unit.level, mode=mode,
                         state="queued" if start > now else "dispatched", dispatched_at=now, start=start,
                         accept_due=accept_due, site=ticket.site, by=by)
        await self.deadlines.arm(Deadline(ticket.id, "accept", unit.id, unit.level, accept_due))
        if mode == "system":
            await self.outbox.enqueue(f"dispatch-{ticket.id}-{unit.id}", unit.webhook_url, {
                "kind": "dispatch", "dispatch_id": f"{ticket.id}/{unit.id}", "ticket_id": ticket.id,
                "unit": unit.id, "level": unit.level, "category": ticket.category, "summary": ticket.summary,
                "division_code": ticket.division_code, "emergency": ticket.emergency,
                "start": start, "accept_due": accept_due}, secret_ref=unit.secret_ref)
        await self.tickets.update(ticket, handling_unit=unit.name)
        await self.journal.note("linkage.dispatched", ticket.id, unit=unit.id, unit_name=unit.name,
                                level=unit.level, mode=mode, site=ticket.site, by=by,
                                queued_until=start if start > now else None, accept_due=accept_due)
        log.info("linkage.dispatched", ticket_id=ticket.id, unit=unit.id, mode=mode, queued=start > now)
        if prompt and self.phone is not None:  # a level-3 unit off duty: at the next working period
            await self.phone.schedule_ask("dispatch", ticket.id, ticket.site,
                                          dispatch_numbers(unit.duty_phone, unit.backup_phone), prompt,
                                          at=start, unit=unit.id)
        await self._place_repeat(ticket)
        return await self.record(ticket.id) or {}, True

    def _summary_file(self, ticket_id: str) -> Path | None:
        if self.sounds_dir is None:
            return None
        return self.sounds_dir / SOUNDS_SUBDIR / f"{summary_sound_name(ticket_id)}.wav"

    def _forget_summary(self, ticket_id: str) -> None:
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

    async def _overdue_call(self, deadline: Deadline, step: str) -> None:
        """督办 calls the unit (by phone when it has no webhook; a webhook unit gets a
        ``supervise`` message through the outbox); 提级 calls the command centre."""
        record = await self.record(deadline.ticket_id)
        unit = self.units.get(deadline.unit)
        if record is None or unit is None or record.get("state") not in HELD_STATES:
            return
        site = record.get("site", "")
        if step == SUPERVISED and unit.by_system:
            await self.outbox.enqueue(f"supervise-{deadline.ticket_id}-{deadline.stage}", unit.webhook_url, {
                "kind": "supervise", "dispatch_id": f"{deadline.ticket_id}/{unit.id}", "ticket_id": deadline.ticket_id,
                "unit": unit.id, "stage": deadline.stage, "due": deadline.due}, secret_ref=unit.secret_ref)
            return
        if self.phone is None:
            return
        if step == SUPERVISED and deadline.stage == "accept":  # key 1 accepts: the dispatch ask, anew
            if await self.phone.active(deadline.ticket_id) is not None:
                return  # its tries still go on: replacing them would drop a key 1 on the way
            await self.phone.start_ask("dispatch", deadline.ticket_id, site,
                                       dispatch_numbers(unit.duty_phone, unit.backup_phone, 1),
                                       overdue_prompt("reminder", deadline.ticket_id, "accept"), unit=unit.id)
        elif step == SUPERVISED:
            await self.phone.start_ask("reminder", deadline.ticket_id, site,
                                       dispatch_numbers(unit.duty_phone, unit.backup_phone, 1),
                                       overdue_prompt("reminder", deadline.ticket_id, deadline.stage),
                                       unit=unit.id, stage=deadline.stage)
        else:
            phone = self.config.escalation_phone
            await self.phone.start_ask("escalation", deadline.ticket_id, site, [phone, phone],
                                       overdue_prompt("escalation", deadline.ticket_id, deadline.stage),
                                       unit=unit.id, stage=deadline.stage)

    async def _phone_finished(self, ask: dict[str, Any], step: Step) -> None:
        """The last word of a phone ask: a dispatch accepted by key 1 (the unit's own accept
        path, so its deadlines start) or, every number tried, the supervisor alerted."""
        ticket_id = ask["ticket_id"]
        if ask["kind"] == "callback":
            ticket = await self.tickets.get(ticket_id)
            answer = step.answer if step.action == "done" else "未回访"  # two tries unanswered
            if ticket is not None:
                with contextlib.suppress(NoCallback):  # already answered another way
                    await self.callback(ticket, answer, by="phone")
            return
        if ask["kind"] in ("reminder", "escalation"):
            await self.journal.note(f"linkage.{ask['kind']}_{step.answer or 'unanswered'}", ticket_id,
                                    unit=ask["unit"], site=ask["site"], stage=ask.get("stage"))
            return
        if ask["kind"] == "dispatch":
            self._forget_summary(ticket_id)  # the dispatch call is over
            if step.action == "done":
                await self.feedback(ticket_id, ask["unit"], "accept", {})
                return
            record = await self.record(ticket_id)
            if record is None or record["state"] not in ("queued", "dispatched") or record["unit"] != ask["unit"]:
                return  # accepted meanwhile (the API, the feedback line) or dispatched elsewhere
            await self.deadlines.flag(ticket_id, {"flag": "phone_unanswered", "unit": ask["unit"], "at": self.clock()})
            await self.journal.note("linkage.supervisor_alert", ticket_id, unit=ask["unit"], site=ask["site"],
                                    reason="the unit's duty and backup phones did not accept the dispatch")
            log.warning("linkage.phone_unanswered", ticket_id=ticket_id, unit=ask["unit"])

    # --- feedback (反馈回写) ------------------------------------------------------------

    async def feedback(self, ticket_id: str, unit_id: str, step: str, body: dict[str, Any]) -> dict[str, str]:
        record = await self.record(ticket_id)
        if record is None or record["state"] == "supervisor":
            raise NotDispatched(f"ticket {ticket_id} is not dispatched to a unit")
        if record["unit"] != unit_id:
            raise NotYourTicket(f"ticket {ticket_id} is dispatched to another unit")
        handler = {"accept": self._accept, "arrival": self._arrival, "result": self._result}.get(step)
        if handler is None:
            raise LinkageError(f"step must be accept, arrival or result, not {step!r}")
        await handler(ticket_id, record, body)
        await self._stop_asking(ticket_id, step)
        return await self.record(ticket_id) or {}

    async def _stop_asking(self, ticket_id: str, step: str) -> None:
        """The unit reported: its dispatch call's tries (any step accepts) and a reminder
        about what it reported end; a reminder about arrival ends with the result too."""
        if self.phone is None:
            return
        if await self.phone.cancel(ticket_id, "dispatch", reason=f"unit reported {step}"):
            self._forget_summary(ticket_id)
        reminder = await self.phone.active(ticket_id, "reminder")
        if reminder is not None and (step == "result" or (step == "arrival" and reminder.get("stage") == "arrive")):
            await self.phone.cancel(ticket_id, "reminder", reason=f"unit reported {step}")

    async def _accept(self, ticket_id: str, record: dict[str, str], body: dict[str, Any]) -> None:
        if record["state"] != "dispatched" and record["state"] != "queued":
            if record["state"] in ("accepted", "arrived", "resolved"):
                return  # feedback is at-least-once too: accepting twice changes nothing
            raise WrongStep(f"ticket {ticket_id} is {record['state']}")
        now = self.clock()
        level, unit = int(record["level"]), record["unit"]
        await self.deadlines.clear(ticket_id, "accept")
        arrive_due = self.config.due(level, "arrive", now)
        result_due = self.config.due(level, "result", now)
        await self._save(ticket_id, state="accepted", accepted_at=now, arrive_due=arrive_due, result_due=result_due)
        await self.deadlines.arm(Deadline(ticket_id, "arrive", unit, level, arrive_due))
        await self.deadlines.arm(Deadline(ticket_id, "result", unit, level, result_due))
        await self.journal.note("linkage.accepted", ticket_id, unit=unit, site=record.get("site", ""),
                                on_time=now <= float(record["accept_due"]), arrive_due=arrive_due,
                                result_due=result_due)

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
        if record["state"] in ("arrived", "resolved"):
            return
        if record["state"] != "accepted":
            raise WrongStep(f"ticket {ticket_id} is {record['state']}: accept it first")
        situation = self._text(body, "situation", True)
        at = self._when(body, record)
        await self.deadlines.clear(ticket_id, "arrive")
        on_time = at <= float(record["arrive_due"])
        await self._save(ticket_id, state="arrived", arrived_at=at, situation=situation)
        await self.journal.note("linkage.arrived", ticket_id, unit=record["unit"], site=record.get("site", ""),
                                arrived_at=at, on_time=on_time, situation=situation)

    async def _result(self, ticket_id: str, record: dict[str, str], body: dict[str, Any]) -> None:
        if record["state"] == "resolved":
            await self._repeated_result(ticket_id, record, body)
            return
        if record["state"] not in ("accepted", "arrived"):
            raise WrongStep(f"ticket {ticket_id} is {record['state']}: accept it first")
        resolved = body.get("resolved")
        if not isinstance(resolved, bool):
            raise LinkageError("field 'resolved' (true or false) is required")
        summary = self._text(body, "summary", False)
        now = self.clock()
        await self.deadlines.clear(ticket_id, "arrive")
        await self.deadlines.clear(ticket_id, "result")
        await self.deadlines.unflag(ticket_id)
        await self._save(ticket_id, state="resolved", result_at=now, resolved=resolved, summary=summary)
        await self.journal.note("linkage.resolved", ticket_id, unit=record["unit"], site=record.get("site", ""),
                                resolved=resolved, on_time=now <= float(record["result_due"]), summary=summary)
        await self._ask_satisfaction(ticket_id)

    async def _repeated_result(self, ticket_id: str, record: dict[str, str], body: dict[str, Any]) -> None:
        """The same result again is a no-op (a retry). One that says the opposite (a unit
        that pressed 2 for 3) is refused and shown on the timeline: the recorded result
        stands until the supervisor dispatches the case anew."""
        reported, recorded = body.get("resolved"), record.get("resolved") == "True"
        if not isinstance(reported, bool) or reported == recorded:
            return
        await self.deadlines.flag(ticket_id, {"flag": "result_conflict", "unit": record["unit"], "at": self.clock()})
        await self.journal.note("linkage.result_conflict", ticket_id, unit=record["unit"],
                                site=record.get("site", ""), recorded=recorded, reported=reported)
        raise WrongStep(f"ticket {ticket_id} is already reported {'resolved' if recorded else 'not resolved'}; "
                        "the supervisor may dispatch it anew")

    # --- 回访 -------------------------------------------------------------------------

    async def opt_out(self, number: str) -> None:
        """The caller asked never to be called back (回访)."""
        if number := normalise_number(number):
            await self.redis.sadd(f"{self.prefix}callback-optout", number)

    async def opt_in(self, number: str) -> None:
        """Undo ``opt_out``: the number may be called back again."""
        if number := normalise_number(number):
            await self.redis.srem(f"{self.prefix}callback-optout", number)

    async def opted_out(self, number: str) -> bool:
        number = normalise_number(number)
        return bool(number) and bool(await self.redis.sismember(f"{self.prefix}callback-optout", number))

    async def _ask_satisfaction(self, ticket_id: str) -> None:
        """回访 by phone once the unit reported its result: the caller is called within the
        calling hours (``callback_window``: by default the working calendar's) and asked
        1 满意 / 2 基本满意 / 3 不满意; two tries unanswered record 未回访. Never for a
        restricted ticket, an anonymous caller or a number that opted out."""
        ticket = await self.tickets.get(ticket_id)
        if self.phone is None or ticket is None:
            return
        number = normalise_number(ticket.caller)
        reason = ("restricted" if ticket.restricted else "anonymous" if not number else
                  "opted_out" if await self.opted_out(number) else "")
        if reason:
            await self.journal.note("linkage.callback_skipped", ticket_id, site=ticket.site, reason=reason)
            return
        await self.phone.schedule_ask("callback", ticket_id, ticket.site, [number, number], callback_prompt(),
                                      at=self.callback_window(self.clock()))

    async def callback(self, ticket: Ticket, result: str, by: str) -> None:
        """Record the satisfaction callback's answer (满意/基本满意/不满意, or 未回访)."""
        if result not in CALLBACK_RESULTS:
            raise LinkageError(f"result must be one of {', '.join(CALLBACK_RESULTS)}")
        record = await self.record(ticket.id)
        if record is None or record["state"] != "resolved":
            raise NoCallback(f"ticket {ticket.id} has no result yet")
        if ticket.restricted or not normalise_number(ticket.caller):
            raise NoCallback("no callback for a restricted ticket or an anonymous caller")
        if record.get("callback"):
            raise NoCallback(f"ticket {ticket.id} already has its callback ({record['callback']})")
        await self._save(ticket.id, callback=result)
        await self.journal.note("linkage.callback", ticket.id, unit=record["unit"], site=ticket.site,
                                result=result, by=by)

    # --- repeat calls -----------------------------------------------------------------

    async def _is_open(self, ticket_id: str) -> bool:
        if await self.tickets.get(ticket_id) is None:
            return False
        state = await self.redis.hget(self._key(ticket_id), "state")
        return state is None or state in OPEN_STATES

    async def _link_repeat(self, open_ticket: str, basis: str, call_id: str = "", new_ticket: str = "") -> None:
        count_key = f"{self.prefix}repeat-count:{open_ticket}"
        after = int(await self.redis.hincrby(count_key, "repeats", 1))
        await self.redis.expire(count_key, TICKET_TTL_S)
        if call_id:  # the repeat call shows on the open ticket's timeline
            await self.redis.sadd(f"hl:ticket-calls:{open_ticket}", call_id)
        ticket = await self.tickets.get(open_ticket)
        site = ticket.site if ticket else ""
        unit = await self.redis.hget(self._key(open_ticket), "unit")  # the report counts repeats per unit
        await self.journal.note("linkage.repeat", open_ticket, basis=basis, call_id=call_id or None,
                                new_ticket=new_ticket or None, repeats=after, site=site, unit=unit)
        if crosses_threshold(after - 1, after, self.config.repeat_threshold) and \
                await self.redis.hsetnx(count_key, "joint", "1"):
            await self.deadlines.flag(open_ticket, {"flag": "joint", "calls": after + 1, "at": self.clock()})
            await self.journal.note("linkage.joint", open_ticket, calls=after + 1, site=site, unit=unit)
            log.warning("linkage.joint", ticket_id=open_ticket, calls=after + 1)

    async def repeats(self, ticket_id: str) -> int:
        return int(await self.redis.hget(f"{self.prefix}repeat-count:{ticket_id}", "repeats") or 0)

    async def on_call_answered(self, site: str, call_id: str, caller: str) -> None:
        key = number_key(self.prefix, site, caller)
        if key is None or site not in self.centers:
            return
        own = await self.tickets.open_for_call(site, call_id, caller=caller)
        earlier = as_str_or_none(await self.redis.get(key))
        if earlier and earlier != own.id and await self._is_open(earlier):
            await self._link_repeat(earlier, "number", call_id, own.id)
        else:
            await self.redis.set(key, own.id, ex=int(self.config.repeat_window_s))

    async def _place_repeat(self, ticket: Ticket) -> None:
        key = place_key(self.prefix, ticket.site, ticket.division_code, ticket.category)
        if key is None:
            return
        earlier = as_str_or_none(await self.redis.get(key))
        if earlier and earlier != ticket.id and await self._is_open(earlier):
            await self._link_repeat(earlier, "place", new_ticket=ticket.id)
        elif not earlier or earlier != ticket.id:
            await self.redis.set(key, ticket.id, ex=int(self.config.repeat_window_s))

    # --- bus: repeat calls and the handovers the report counts -------------------------

    async def _handle(self, event: BusEvent) -> None:
        data = event.data
        if event.name == "call.answered":
            await self.on_call_answered(str(data.get("site", "")), str(data.get("call_id", "")),
                                        str(data.get("caller", "")))
            return
        if event.name == "ticket.pushed_in":
            source, target = str(data.get("source_platform", "")), str(data.get("site", ""))
        else:
            source, target = _platform_of(data, self.centers), str(data.get("target", ""))
        await self.journal.log_only("linkage.handover", self.clock(), source=source, target=target,
                                    mode=HANDOVER_MODES[event.name], bounced=bool(data.get("bounced")),
                                    ticket_id=data.get("ticket_id"))
