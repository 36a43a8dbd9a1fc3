"""The callback queue's service: the edge around ``state.step``. It takes requests (the
IVR's and the web's ``ticket.callback_requested``, and ``call.missed``), offers each due
request to the next free agent of its platform as a call the server originates (the agent
first, then the citizen), follows the call by AMI, and writes every step on the ticket's
timeline, the bus and the linkage event log (the report's callback columns).

Of several server instances one offers a site's callbacks at a time (the leader lease,
``CallbackStore.lead``); AMI events are heard by all, and the store applies each once.

The AMI / dialplan contract (``docs/agents-api.md``, "Callback queue"):

* ``Originate``: ``Channel`` = the agent's dial string (``PJSIP/<agent>``), ``Context`` =
  ``callback-out``, ``Exten`` = the citizen's number, ``Priority`` 1, ``Async`` true,
  ``ChannelId`` = ``ActionID`` = a fresh id (the call id: the agent leg's linkedid, linked
  to the ticket before the Originate), ``Timeout`` = the agent's ring time in ms,
  ``CallerID`` = ``"回电 <masked number>" <number>``, ``Variable`` ``HL_CALLBACK=<request
  id>`` and ``TICKET=<ticket id>``;
* the dialplan: ``UserEvent(HotlineCallback, Callback: <id>, Stage: agent_answered)`` on
  entry (the agent answered), then dials the citizen, then ``Stage: connected`` when the
  citizen answers or ``Stage: unanswered, Status: <DIALSTATUS>``;
* the agent never answering: ``OriginateResponse`` with ``Response: Failure`` (matched by
  its ``ActionID``, else its ``Uniqueid``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import structlog
from redis.asyncio import Redis

from call_control.callbacks import state
from call_control.callbacks.config import CallbacksConfig
from call_control.callbacks.state import (
    IN_FLIGHT,
    WAITING,
    AgentAnswered,
    AgentNoAnswer,
    Close,
    Connected,
    Note,
    Offer,
    OfferRefused,
    Originate,
    PastCall,
    Policy,
    ReleaseSeat,
    Request,
    Reschedule,
    Ringing,
    Skip,
    Timeout,
    Unanswered,
)
from call_control.callbacks.store import CallbackStore
from hotline_link.asterisk.ami.manager import AmiEvent
from hotline_link.core.bus import BusEvent, BusWorker, EventBus
from hotline_link.core.errors import AmiError
from hotline_link.core.events import CallbackStep, CallMissed, TicketCallbackRequested
from hotline_link.core.numbers import CallerNumber
from hotline_link.core.tasks import cancel_and_wait, repeat_every
from seat_pool.selection import idle_longest_first
from seat_pool.store import SeatStore
from seat_pool.waiting import WaitingQueue
from tickets.store import TicketStore
from tickets.timeline import add_story_entry, entry_of

log = structlog.get_logger(__name__)

USER_EVENT = "HotlineCallback"
OUT_CONTEXT = "callback-out"
CALLBACK_CATEGORY = "回电请求"  # as ivr.callback names its tickets
MISSED_SUMMARY = "漏接来电回拨"
MAX_FIELD = 64  # an AMI field longer than this is not one of ours

Originator = Callable[[str, Mapping[str, Any]], Awaitable[Any]]  # (site, action) -> reply
OptedOut = Callable[[str], Awaitable[bool]]  # the citizen's identity -> opted out of calls
Window = Callable[[float], float]  # the next moment within the calling hours (``at`` itself within)
Clock = Callable[[], float]


def callback_leg(ticket_id: str) -> str:
    """The pseudo call id of a ticket's callbacks on its timeline."""
    return f"callback-{ticket_id}"


def policy_of(config: CallbacksConfig) -> Policy:
    return Policy(attempts=config.callback_attempts, retry_s=config.callback_retry_s,
                  agent_retry_s=config.callback_agent_retry_s,
                  offer_timeout_s=config.callback_agent_ring_s + 25.0,
                  connect_timeout_s=config.callback_connect_timeout_s)


def originate_action(request: Request, ring_s: int) -> dict[str, Any]:
    """The AMI Originate of the request's attempt under way (see the module's contract)."""
    return {"Action": "Originate", "ActionID": request.channel_id, "Channel": f"PJSIP/{request.agent}",
            "Context": OUT_CONTEXT, "Exten": request.number, "Priority": "1", "Async": "true",
            "ChannelId": request.channel_id, "Timeout": str(ring_s * 1000),
            "CallerID": f"\"回电 {request.masked}\" <{request.number}>",
            "Variable": [f"HL_CALLBACK={request.id}", f"TICKET={request.ticket_id}"]}


def _field(event: AmiEvent, name: str) -> str:
    value = event.get(name).strip()
    return value if len(value) <= MAX_FIELD and value.isprintable() else ""


class CallbackService:
    def __init__(self, redis: Redis, bus: EventBus, tickets: TicketStore, seats: SeatStore, queue: WaitingQueue,
                 originate: Originator, *, config: CallbacksConfig, agents: Mapping[str, Sequence[str]],
                 opted_out: OptedOut, window: Window | None = None, clock: Clock = time.time,
                 report_log: str = "", store: CallbackStore | None = None, instance: str = "") -> None:
        self.redis = redis
        self.bus = bus
        self.tickets = tickets
        self.seats = seats
        self.queue = queue
        self.originate = originate
        self.config = config
        self.policy = policy_of(config)
        self.agents = {site: tuple(seats_of) for site, seats_of in agents.items()}  # intake sites only
        self.opted_out = opted_out
        self.window = window
        self.clock = clock
        self.report_log = report_log  # the linkage event log's stream ("": none)
        self.store = store or CallbackStore(redis)
        self.instance = instance or uuid.uuid4().hex
        self._events = BusWorker(bus, "callbacks.bus",
                                 lambda e: e.is_(TicketCallbackRequested) or e.is_(CallMissed), self._on_bus)
        self._tasks: list[Any] = []

    @property
    def sites(self) -> frozenset[str]:
        return frozenset(self.agents)

    # --- requests ---------------------------------------------------------------------

    async def request(self, site: str, number: str, *, source: str, ticket_id: str = "", call_id: str = "",
                      missed_at: float = 0.0, deadline: float = 0.0, not_before: float = 0.0) -> Request | None:
        """Queue a callback of ``number`` on ``site`` (merged into the number's open request
        if there is one); None when it cannot be made (no number, a site without agents)."""
        caller = CallerNumber.parse_written(number)
        if site not in self.agents or source not in state.SOURCES:
            log.warning("callback.refused", site=site, reason="not an intake site" if site not in self.agents
                        else "unknown source")
            return None
        if caller.is_anonymous:
            log.info("callback.refused", site=site, ticket_id=ticket_id or None, reason="anonymous")
            return None
        if not state.callable_number(caller.identity):
            log.info("callback.refused", site=site, ticket_id=ticket_id or None, reason="not a citizen's number",
                     caller=caller.masked)
            return None
        now = self.clock()
        new = Request(id=f"cb{uuid.uuid4().hex}", site=site, number=caller.identity, masked=caller.masked,
                      source=source, call_id=call_id, ticket_id=ticket_id, created_at=now,
                      due_at=max(now, not_before),
                      deadline=deadline, missed_at=missed_at, sources=(source,), updated_at=now)
        (after, actions), created = await self.store.add(new, state.merge)
        await self._apply(after, actions)
        log.info("callback.queued" if created else "callback.merged", request_id=after.id, site=site,
                 source=source, ticket_id=after.ticket_id or None)
        return after

    async def _on_bus(self, event: BusEvent) -> None:
        if event.is_(TicketCallbackRequested):
            asked = event.as_(TicketCallbackRequested)
            ticket = await self.tickets.get(asked.ticket_id)
            if ticket is None:
                log.warning("callback.no_ticket", ticket_id=asked.ticket_id)
                return
            await self.request(asked.site, ticket.caller, source="ivr" if asked.call_id else "web",
                               ticket_id=ticket.id, call_id=asked.call_id)
        elif event.is_(CallMissed):
            await self.missed(event.as_(CallMissed))

    async def missed(self, missed: CallMissed) -> Request | None:
        """漏接电话回拨: a callback within ``missed_callback_minutes`` (0: off). Never for a
        withheld number (``request`` refuses it); opted-out numbers and numbers answered
        since are skipped when the request comes due (``state.missed_verdict``)."""
        minutes = self.config.missed_callback_minutes
        if minutes <= 0:
            return None
        return await self.request(missed.site, missed.caller, source="missed", call_id=missed.call_id,
                                  missed_at=missed.ended_at, deadline=missed.ended_at + minutes * 60,
                                  not_before=missed.ended_at + self.config.missed_callback_grace_s)

    async def open_requests(self, site: str) -> list[Request]:
        return await self.store.open_requests(site)

    # --- offering ---------------------------------------------------------------------

    async def tick(self) -> None:
        lease_ms = int(max(3.0, 3 * self.config.callback_tick_s) * 1000)
        for site in sorted(self.agents):
            if await self.store.lead(site, self.instance, lease_ms):
                await self.offer_due(site)

    async def offer_due(self, site: str) -> int:
        """Look at the site's due requests: give up on quiet attempts, offer waiting ones to
        free agents (callers waiting in the queue come first). Returns how many were offered."""
        now = self.clock()
        offered = 0
        for request_id in await self.store.due(site, now):
            request = await self.store.get(request_id)
            if request is None:
                await self.redis.zrem(self.store.due_key(site), request_id)
                continue
            if request.stage in IN_FLIGHT:
                await self._step(request_id, Timeout(now))
                continue
            if request.stage not in WAITING:
                continue
            verdict = await self._verdict(request, now)
            if verdict is not None:
                await self._step(request_id, verdict)
                continue
            if await self.queue.calls(site):
                break  # the inbound callers waiting get the agents first
            result = await self._offer(request, now)
            if result is None:
                break  # no free agent
            offered += result
        return offered

    async def _verdict(self, request: Request, now: float) -> Skip | Reschedule | None:
        if request.missed_only:
            past = await self.tickets.history.calls(request.site, request.number)
            later = [PastCall(c.call_id, c.started_at, bool(c.answered_by)) for c in past]
            reason = state.missed_verdict(request, later, await self.opted_out(request.number))
            if reason is not None:
                return Skip(reason, now)
        if self.window is not None and (at := self.window(now)) > now:
            return Reschedule(at, now)
        return None

    async def _offer(self, request: Request, now: float) -> int | None:
        """Claim a free agent's seat and originate; None when no agent is free, 0 when the
        request changed meanwhile (another instance), 1 when offered."""
        views = await self.seats.view(request.site, self.agents[request.site], unclaimed=True)
        idle = [v.seat for v in idle_longest_first(views)]
        channel_id = uuid.uuid4().hex
        agent = state.pick_agent(idle, request.declined)
        while agent is not None and not await self.seats.claim(request.site, agent, channel_id):
            idle.remove(agent)  # a caller's router (or another instance) claimed it first
            agent = state.pick_agent(idle, request.declined)
        if agent is None:
            return None
        ticket_id = request.ticket_id or await self._open_ticket(request)
        await self.store.link_attempt(channel_id, request.id)
        pipe = self.redis.pipeline(transaction=True)
        self.tickets.stage_call(pipe, channel_id, ticket_id)  # the screen pop finds the ticket by the call id
        await pipe.execute()
        offer = Offer(agent, channel_id, now)
        outcome = await self.store.update(request.id, lambda r: state.step(
            replace(r, ticket_id=r.ticket_id or ticket_id), offer, self.policy))
        if outcome is None or outcome[0].channel_id != channel_id:
            await self.seats.release(request.site, agent, channel_id)
            return 0
        await self._apply(*outcome)
        return 1

    async def _open_ticket(self, request: Request) -> str:
        """A missed call's request gets its ticket when first offered (one skipped never
        opens one): the missed call's own, opened as a callback request if it has none."""
        ticket = await self.tickets.open_for_call(request.site, request.call_id or f"callback-{request.id}",
                                                  category=CALLBACK_CATEGORY, summary=MISSED_SUMMARY,
                                                  caller=request.number)
        if request.call_id:  # the missed call's story is part of the ticket's
            await self.tickets.add_call(ticket.id, request.call_id)
        return ticket.id

    async def _send(self, request: Request) -> None:
        try:
            await self.originate(request.site, originate_action(request, self.config.callback_agent_ring_s))
        except (TimeoutError, AmiError) as exc:
            log.warning("callback.originate_failed", request_id=request.id, agent=request.agent, error=str(exc))
            await self._step(request.id, OfferRefused(request.channel_id, str(exc)[:200], self.clock()))
            return
        await self._step(request.id, Ringing(request.channel_id, self.clock()))

    # --- AMI ---------------------------------------------------------------------------

    async def on_user_event(self, event: AmiEvent) -> None:
        """``UserEvent(HotlineCallback, Callback, Stage[, Status])``; anything else, or a
        field that does not parse, is logged and ignored."""
        if event.get("UserEvent") != USER_EVENT:
            return
        request_id, stage = _field(event, "Callback"), _field(event, "Stage")
        request = await self.store.get(request_id) if request_id else None
        if request is None:
            log.info("callback.unknown_event", site=event.site, stage=stage or None)
            return
        # the event comes from the agent's leg: its linkedid is the attempt's channel id
        channel = _field(event, "Linkedid") or _field(event, "Uniqueid") or request.channel_id
        now = self.clock()
        said: AgentAnswered | Connected | Unanswered
        if stage == "agent_answered":
            said = AgentAnswered(channel, now)
        elif stage == "connected":
            said = Connected(channel, now)
        elif stage == "unanswered":
            said = Unanswered(channel, _field(event, "Status") or "UNKNOWN", now)
        else:
            log.warning("callback.bad_event", site=event.site, request_id=request_id, stage=stage[:20] or None)
            return
        await self._step(request_id, said)

    async def on_originate_response(self, event: AmiEvent) -> None:
        """The agent leg's fate: ``Failure`` (not answered, busy, unreachable) sends the
        request back to the queue; ``Success`` is the agent answering."""
        channel = ""
        for name in ("ActionID", "Uniqueid"):
            candidate = _field(event, name)
            if candidate and (request_id := await self.store.request_of_attempt(candidate)):
                channel = candidate
                break
        else:
            return  # not one of ours
        response = _field(event, "Response").lower()
        now = self.clock()
        if response == "failure":
            await self._step(request_id, AgentNoAnswer(channel, f"reason {_field(event, 'Reason') or '?'}", now))
        elif response == "success":
            await self._step(request_id, AgentAnswered(channel, now))
        else:
            log.warning("callback.bad_originate_response", site=event.site, request_id=request_id)

    # --- carrying out ----------------------------------------------------------------------

    async def _step(self, request_id: str, event: state.Event) -> None:
        outcome = await self.store.update(request_id, lambda r: state.step(r, event, self.policy))
        if outcome is not None:
            await self._apply(*outcome)

    async def _apply(self, request: Request, actions: Sequence[state.Action]) -> None:
        for action in actions:
            if isinstance(action, Note):
                await self._note(request, action)
            elif isinstance(action, ReleaseSeat):
                if action.agent:
                    await self.seats.release(request.site, action.agent, action.channel_id)
            elif isinstance(action, Originate):
                await self._send(request)
            elif isinstance(action, Close):
                log.info("callback.closed", request_id=request.id, site=request.site, stage=request.stage.value,
                         attempts=request.attempts, reason=request.reason or None)

    async def _note(self, request: Request, note: Note) -> None:
        """A step: on the ticket's timeline (its ``callback-<ticket>`` leg), in the linkage
        event log (the report), on the bus (the supervisor's figures)."""
        event = CallbackStep(request_id=request.id, site=request.site, ticket_id=request.ticket_id,
                             source=request.source if request.missed_only else
                             next(s for s in (request.sources or (request.source,)) if s != "missed"),
                             stage=request.stage.value, step=note.step, attempt=request.attempts,
                             agent=note.agent or request.agent, reason=note.reason,
                             pending=await self.store.pending_count(request.site))
        entry = entry_of(BusEvent.of(event), self.clock())
        pipe = self.redis.pipeline(transaction=False)
        if request.ticket_id:
            add_story_entry(pipe, request.ticket_id, callback_leg(request.ticket_id), entry)
        if self.report_log:
            pipe.xadd(self.report_log, entry, maxlen=5_000_000, approximate=True)
        await pipe.execute()
        self.bus.emit(event)

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._events.start()
        self._tasks = [asyncio.create_task(repeat_every(self.tick, lambda: self.config.callback_tick_s,
                                                        failed="callbacks.tick_failed", bug="callbacks.tick_bug"),
                                           name="callbacks-offer")]

    async def stop(self) -> None:
        await self._events.stop(drain_s=1.0)
        await cancel_and_wait(self._tasks)
        self._tasks = []

