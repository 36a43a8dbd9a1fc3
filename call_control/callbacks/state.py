"""A callback request (回电) as an explicit state machine. Pure: no I/O, the clock is in
the events.

A request is one number to call back on one platform (site): asked for at the IVR (key 2),
on the web, or made for a missed call (漏接电话回拨). ``step(request, event)`` returns the
request after the event and the actions the service carries out (originate, release the
agent's seat, note the step, close the request). An event that cannot happen in the
request's state, or that names an earlier attempt's channel, changes nothing and asks for
nothing.

    pending --Offer--> offering --Ringing--> agent_ringing --AgentAnswered--> connecting
    offering | agent_ringing --AgentNoAnswer | OfferRefused | Timeout--> pending (no attempt counted)
    connecting --Connected--> done
    connecting --Unanswered | Timeout--> retry (due after the spacing) | failed (attempts used)
    pending | retry --Skip--> skipped;  retry --Offer--> offering (as pending)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from enum import Enum
from typing import Any


class Stage(str, Enum):
    PENDING = "pending"  # waiting for a free agent (and the calling hours)
    OFFERING = "offering"  # an agent's seat is claimed; the Originate is being sent
    AGENT_RINGING = "agent_ringing"  # Asterisk took the Originate: the agent's phone rings
    CONNECTING = "connecting"  # the agent answered; the citizen is being dialled
    RETRY = "retry"  # the citizen was busy or did not answer: tried again once due
    DONE = "done"  # the citizen answered
    FAILED = "failed"  # every attempt unanswered
    SKIPPED = "skipped"  # not called: answered meanwhile, opted out (missed calls only)

    @property
    def final(self) -> bool:
        return self in FINAL


WAITING = frozenset({Stage.PENDING, Stage.RETRY})  # offered once due
IN_FLIGHT = frozenset({Stage.OFFERING, Stage.AGENT_RINGING, Stage.CONNECTING})
OPEN = WAITING | IN_FLIGHT
FINAL = frozenset({Stage.DONE, Stage.FAILED, Stage.SKIPPED})
SOURCES = ("ivr", "web", "missed")


def callable_number(digits: str) -> bool:
    """A number a callback may ring: a citizen's phone (a mobile or a fixed line, 7 to 12
    digits), never a short service number (110, 12345, 95598) or an international one; a
    web form's number must not make an agent call anywhere."""
    return digits.isdigit() and 7 <= len(digits) <= 12 and not digits.startswith("00")


@dataclass(frozen=True)
class Policy:
    attempts: int = 3  # citizen attempts (an attempt: the agent answered and the citizen was dialled)
    retry_s: float = 300.0  # between two citizen attempts
    agent_retry_s: float = 30.0  # after an agent did not answer: offered again (to another agent)
    offer_timeout_s: float = 45.0  # no word from Asterisk this long after the Originate: the agent leg is lost
    connect_timeout_s: float = 180.0  # no word after the agent answered: the attempt is unanswered


@dataclass(frozen=True)
class Request:
    id: str
    site: str
    number: str  # the citizen's identity: what is dialled (never shown: ``masked`` is)
    masked: str
    source: str  # the first request's: ivr, web or missed
    call_id: str = ""  # the call that asked (ivr) or was missed (missed); "" from the web
    ticket_id: str = ""  # "" for a missed call until it is offered (the ticket is opened then)
    created_at: float = 0.0
    due_at: float = 0.0  # when it may be offered (waiting) or is overdue (in flight)
    stage: Stage = Stage.PENDING
    deadline: float = 0.0  # a missed call's: called back by then (0: none)
    missed_at: float = 0.0  # when the missed call ended (a later answered call skips it)
    attempts: int = 0  # citizen attempts made
    agent: str = ""  # the agent of the attempt under way
    channel_id: str = ""  # the Originate's ChannelId of the attempt under way (the call id)
    offered_at: float = 0.0
    declined: tuple[str, ...] = ()  # agents who did not answer this request lately
    sources: tuple[str, ...] = ()  # every source merged in
    tickets: tuple[str, ...] = ()  # other tickets asking the same (merged)
    reason: str = ""  # the last outcome's detail (DIALSTATUS, why skipped...)
    updated_at: float = 0.0

    @property
    def missed_only(self) -> bool:
        """Made for missed calls only: nobody asked, so the skip rules apply."""
        return all(s == "missed" for s in (self.sources or (self.source,)))

    def dumps(self) -> str:
        data = asdict(self)
        data["stage"] = self.stage.value
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def loads(cls, raw: str | bytes) -> Request:
        """ValueError (or KeyError, TypeError) for a record that is not a request."""
        data: dict[str, Any] = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a callback request")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["stage"] = Stage(known.get("stage", "pending"))
        for name in ("declined", "sources", "tickets"):
            known[name] = tuple(str(v) for v in known.get(name) or ())
        return cls(**known)


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """A free agent's seat was claimed for the request; ``channel_id`` names the call."""

    agent: str
    channel_id: str
    now: float


@dataclass(frozen=True)
class Ringing:
    """Asterisk took the Originate (the agent's phone rings)."""

    channel_id: str
    now: float


@dataclass(frozen=True)
class OfferRefused:
    """The Originate was not sent or Asterisk refused it (AMI away, bad channel)."""

    channel_id: str
    reason: str
    now: float


@dataclass(frozen=True)
class AgentAnswered:
    channel_id: str
    now: float


@dataclass(frozen=True)
class AgentNoAnswer:
    """``OriginateResponse`` with ``Response: Failure``: the agent's phone was not answered."""

    channel_id: str
    reason: str
    now: float


@dataclass(frozen=True)
class Connected:
    channel_id: str
    now: float


@dataclass(frozen=True)
class Unanswered:
    """The citizen did not answer (``status``: the dialplan's DIALSTATUS: BUSY, NOANSWER...)."""

    channel_id: str
    status: str
    now: float


@dataclass(frozen=True)
class Skip:
    reason: str  # answered, opted_out
    now: float


@dataclass(frozen=True)
class Timeout:
    """The request came due while in flight: no report from Asterisk in time."""

    now: float


@dataclass(frozen=True)
class Reschedule:
    """Not now (outside the calling hours): offered at ``at``."""

    at: float
    now: float


Event = Offer | Ringing | OfferRefused | AgentAnswered | AgentNoAnswer | Connected | Unanswered | Skip | Timeout \
    | Reschedule


# --- actions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Originate:
    """Send the AMI Originate of the attempt (the request holds agent and channel id)."""


@dataclass(frozen=True)
class ReleaseSeat:
    agent: str
    channel_id: str


@dataclass(frozen=True)
class Note:
    """Put the step on the ticket's timeline, count it, tell the bus."""

    step: str
    reason: str = ""
    agent: str = ""  # the agent the step was about, when the request no longer names one


@dataclass(frozen=True)
class Close:
    """The request is over: the number may be asked for anew."""


Action = Originate | ReleaseSeat | Note | Close
Outcome = tuple[Request, tuple[Action, ...]]


def _unchanged(request: Request) -> Outcome:
    return request, ()


def _back_to_queue(request: Request, policy: Policy, now: float, step: str, reason: str) -> Outcome:
    """The agent leg did not come up: the seat is freed and the request offered again, to
    another agent if one is free; no attempt is counted."""
    declined = tuple(dict.fromkeys((*request.declined, request.agent))) if request.agent else request.declined
    after = replace(request, stage=Stage.PENDING if request.attempts == 0 else Stage.RETRY, agent="",
                    channel_id="", due_at=now + policy.agent_retry_s, declined=declined, reason=reason,
                    updated_at=now)
    return after, (ReleaseSeat(request.agent, request.channel_id), Note(step, reason, request.agent))


def _unanswered(request: Request, policy: Policy, now: float, status: str) -> Outcome:
    """An attempt at the citizen went unanswered (counted when the agent answered)."""
    attempts = max(request.attempts, 1)
    base = replace(request, attempts=attempts, agent="", channel_id="", reason=status, updated_at=now,
                   declined=())
    if attempts >= policy.attempts:
        return replace(base, stage=Stage.FAILED), (Note("failed", status), Close())
    return replace(base, stage=Stage.RETRY, due_at=now + policy.retry_s), (Note("unanswered", status),)


def step(request: Request, event: Event, policy: Policy = Policy()) -> Outcome:
    """The request after ``event``, and what to do."""
    stage = request.stage
    if stage.final:
        return _unchanged(request)
    if isinstance(event, Offer):
        if stage not in WAITING or not event.agent or not event.channel_id:
            return _unchanged(request)
        return (replace(request, stage=Stage.OFFERING, agent=event.agent, channel_id=event.channel_id,
                        offered_at=event.now, due_at=event.now + policy.offer_timeout_s, updated_at=event.now),
                (Note("offered"), Originate()))
    if isinstance(event, Reschedule):
        if stage not in WAITING:
            return _unchanged(request)
        return replace(request, due_at=event.at, updated_at=event.now), ()
    if isinstance(event, Skip):
        if stage not in WAITING:
            return _unchanged(request)
        return (replace(request, stage=Stage.SKIPPED, reason=event.reason, updated_at=event.now),
                (Note("skipped", event.reason), Close()))
    if isinstance(event, Timeout):
        if stage in (Stage.OFFERING, Stage.AGENT_RINGING) and event.now >= request.due_at:
            return _back_to_queue(request, policy, event.now, "agent_no_answer", "no_report")
        if stage is Stage.CONNECTING and event.now >= request.due_at:
            return _unanswered(request, policy, event.now, "NOREPORT")
        return _unchanged(request)
    # the rest name the attempt's channel: another's (an earlier attempt's) changes nothing
    if not request.channel_id or event.channel_id != request.channel_id:
        return _unchanged(request)
    if isinstance(event, Ringing):
        if stage is not Stage.OFFERING:
            return _unchanged(request)
        return replace(request, stage=Stage.AGENT_RINGING, updated_at=event.now), ()
    if isinstance(event, (OfferRefused, AgentNoAnswer)):
        if stage not in (Stage.OFFERING, Stage.AGENT_RINGING):
            return _unchanged(request)
        what = "offer_refused" if isinstance(event, OfferRefused) else "agent_no_answer"
        return _back_to_queue(request, policy, event.now, what, event.reason)
    if isinstance(event, AgentAnswered):
        if stage not in (Stage.OFFERING, Stage.AGENT_RINGING):
            return _unchanged(request)
        return (replace(request, stage=Stage.CONNECTING, attempts=request.attempts + 1,
                        due_at=event.now + policy.connect_timeout_s, updated_at=event.now),
                (Note("agent_answered"),))
    if isinstance(event, Connected):
        if stage is not Stage.CONNECTING:
            return _unchanged(request)
        return (replace(request, stage=Stage.DONE, reason="", updated_at=event.now),
                (Note("connected"), Close()))
    if isinstance(event, Unanswered):
        if stage is Stage.CONNECTING:
            return _unanswered(request, policy, event.now, event.status)
        if stage in (Stage.OFFERING, Stage.AGENT_RINGING):  # the agent_answered report was lost
            return _unanswered(replace(request, attempts=request.attempts + 1), policy, event.now, event.status)
        return _unchanged(request)
    return _unchanged(request)


def merge(existing: Request, new: Request) -> Outcome:
    """A second request for a number with one open: one request, which keeps the first's
    place, attempts and ticket; the other's source and ticket are added to it, a missed
    call's deadline kept if earlier, and a waiting request becomes due at the sooner time."""
    if existing.stage.final:
        return _unchanged(existing)
    sources = tuple(dict.fromkeys((*(existing.sources or (existing.source,)), *(new.sources or (new.source,)))))
    ticket_id, tickets = existing.ticket_id, existing.tickets
    if not ticket_id:
        ticket_id = new.ticket_id
    elif new.ticket_id and new.ticket_id != ticket_id and new.ticket_id not in tickets:
        tickets = (*tickets, new.ticket_id)
    deadlines = [d for d in (existing.deadline, new.deadline) if d > 0]
    due_at = min(existing.due_at, new.due_at) if existing.stage in WAITING else existing.due_at
    merged = replace(existing, sources=sources, ticket_id=ticket_id, tickets=tickets,
                     deadline=min(deadlines) if deadlines else 0.0, missed_at=existing.missed_at or new.missed_at,
                     call_id=existing.call_id or new.call_id, due_at=due_at, updated_at=new.created_at)
    return merged, (Note("merged", new.source),)


def pick_agent(idle: Sequence[str], declined: Iterable[str]) -> str | None:
    """The agent to offer to, of the free ones in the pool's order (longest idle first):
    the first who has not just let this request ring out, else (all have) the first."""
    passed = set(declined)
    return next((a for a in idle if a not in passed), idle[0] if idle else None)


@dataclass(frozen=True)
class PastCall:
    """A later call of the number, as its history tells it (``tickets.number_history``)."""

    call_id: str
    started_at: float
    answered: bool


def missed_verdict(request: Request, later_calls: Iterable[PastCall], opted_out: bool) -> str | None:
    """Why a missed-call callback is not made (``opted_out``; ``answered``: the number
    called again after the missed call and was answered), or None: call. A request
    somebody asked for (IVR, web) is always made."""
    if not request.missed_only:
        return None
    if opted_out:
        return "opted_out"
    if any(c.answered and c.started_at >= request.missed_at and c.call_id != request.call_id for c in later_calls):
        return "answered"
    return None

