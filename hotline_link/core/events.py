"""The catalog of bus events: one frozen dataclass per event the product publishes.

Producers build one and hand it to ``EventBus.emit``; consumers read a ``BusEvent`` back
as its class with ``BusEvent.as_``. What travels is unchanged: ``payload(event)`` is the
dict that was published before the catalog existed, its keys in the order the fields are
declared (the timeline in Redis, the supervisor stream and the agent WebSocket serialise
it as it is), so a field's place in a class is part of the wire format.

A field made with ``optional()`` is left out of the payload while it holds its default:
the few keys that only some producers of an event send (``ivr.choice``'s ``topic``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

_OMIT_DEFAULT = "hotline_link.omit_default"


def optional(default: Any = None) -> Any:
    """A field sent only when it holds something other than ``default``."""
    return field(default=default, metadata={_OMIT_DEFAULT: True})


@dataclass(frozen=True)
class Event:
    """Base of every catalogued event; ``NAME`` is its name on the bus."""

    NAME: ClassVar[str] = ""


def payload(event: Event) -> dict[str, Any]:
    """The event's data as published: its fields in declaration order, the values as they
    are (not copied), an ``optional`` field left out while it holds its default."""
    out: dict[str, Any] = {}
    for f in fields(event):
        value = getattr(event, f.name)
        if f.metadata.get(_OMIT_DEFAULT) and value == f.default:
            continue
        out[f.name] = value
    return out


# --- calls (call_control) ------------------------------------------------------------


@dataclass(frozen=True)
class CallStarted(Event):
    NAME: ClassVar[str] = "call.started"
    call_id: str
    site: str
    caller: str
    dialled: str
    channel: str
    resynced: bool


@dataclass(frozen=True)
class CallRinging(Event):
    """An agent's phone rings: the screen pop."""

    NAME: ClassVar[str] = "call.ringing"
    call_id: str
    site: str
    agent: str
    caller: str


@dataclass(frozen=True)
class CallAnswered(Event):
    NAME: ClassVar[str] = "call.answered"
    call_id: str
    site: str
    caller: str
    answered_by: str
    wait_s: float


@dataclass(frozen=True)
class CallEnded(Event):
    NAME: ClassVar[str] = "call.ended"
    call_id: str
    site: str
    caller: str
    answered_by: str | None
    cause: str
    reason: str
    duration_s: float


@dataclass(frozen=True)
class CallRouted(Event):
    """The route AGI's decision for a call (agi_scripts)."""

    NAME: ClassVar[str] = "call.routed"
    call_id: str
    site: str
    seat: str | None
    outcome: str


# --- transfers and conferences (call_control) ---------------------------------------


@dataclass(frozen=True)
class TransferStateEvent(Event):
    """A blind transfer in its state ``state`` (the name's suffix)."""

    agent: str
    transfer_id: str
    call_id: str
    target: str
    ticket_id: str
    state: str
    reason: str | None
    # how the agent asked: "api" (the desk, a script), "phone" (the phone's own blind
    # transfer key, a REFER), "attended" (REFER with Replaces after a consult), "consult"
    # (the desk's warm transfer)
    via: str = "api"


@dataclass(frozen=True)
class TransferRequested(TransferStateEvent):
    NAME: ClassVar[str] = "transfer.requested"


@dataclass(frozen=True)
class TransferDialling(TransferStateEvent):
    NAME: ClassVar[str] = "transfer.dialling"


@dataclass(frozen=True)
class TransferRinging(TransferStateEvent):
    NAME: ClassVar[str] = "transfer.ringing"


@dataclass(frozen=True)
class TransferAnswered(TransferStateEvent):
    NAME: ClassVar[str] = "transfer.answered"


@dataclass(frozen=True)
class TransferFailed(TransferStateEvent):
    NAME: ClassVar[str] = "transfer.failed"


@dataclass(frozen=True)
class TransferCallerGone(TransferStateEvent):
    NAME: ClassVar[str] = "transfer.caller_gone"


@dataclass(frozen=True)
class ConferenceEvent(Event):
    """A three-way call's room as it was when ``party`` came, went, or was dialled."""

    party: str
    site: str
    call_id: str
    room: str
    ticket_id: str
    target: str
    state: str
    parties: list[str]


@dataclass(frozen=True)
class ConferenceDialling(ConferenceEvent):
    NAME: ClassVar[str] = "conference.dialling"


@dataclass(frozen=True)
class ConferenceJoined(ConferenceEvent):
    NAME: ClassVar[str] = "conference.joined"


@dataclass(frozen=True)
class ConferenceLeft(ConferenceEvent):
    NAME: ClassVar[str] = "conference.left"


@dataclass(frozen=True)
class ConferenceEnded(ConferenceEvent):
    NAME: ClassVar[str] = "conference.ended"


# --- seats, queue, overflow (seat_pool) ---------------------------------------------


@dataclass(frozen=True)
class SeatChanged(Event):
    NAME: ClassVar[str] = "seat.changed"
    site: str
    seat: str
    old: str
    new: str


@dataclass(frozen=True)
class QueueJoined(Event):
    NAME: ClassVar[str] = "queue.joined"
    call_id: str
    site: str
    emergency: bool
    position: int


@dataclass(frozen=True)
class QueueLeft(Event):
    NAME: ClassVar[str] = "queue.left"
    call_id: str
    site: str
    outcome: str
    waited_s: float
    seat: str | None


@dataclass(frozen=True)
class OverflowChanged(Event):
    NAME: ClassVar[str] = "overflow.changed"
    site: str
    active: bool
    estimated_wait_s: float


@dataclass(frozen=True)
class OverflowAssigned(Event):
    NAME: ClassVar[str] = "overflow.assigned"
    site: str
    call_id: str
    remote_site: str
    seat: str


# --- IVR and the harassment screen (ivr) --------------------------------------------


@dataclass(frozen=True)
class IvrEntered(Event):
    NAME: ClassVar[str] = "ivr.entered"
    call_id: str
    site: str


@dataclass(frozen=True)
class IvrChoice(Event):
    NAME: ClassVar[str] = "ivr.choice"
    call_id: str
    site: str
    choice: str
    topic: str = optional("")


@dataclass(frozen=True)
class IvrLeft(Event):
    NAME: ClassVar[str] = "ivr.left"
    call_id: str
    site: str
    choice: str


@dataclass(frozen=True)
class HarassmentWarned(Event):
    NAME: ClassVar[str] = "harassment.warned"
    number: str
    site: str
    reason: str
    calls_in_window: int


@dataclass(frozen=True)
class HarassmentFlagged(Event):
    NAME: ClassVar[str] = "harassment.flagged"
    number: str
    ref: str
    by: str
    reason: str


@dataclass(frozen=True)
class HarassmentUnflagged(Event):
    NAME: ClassVar[str] = "harassment.unflagged"
    number: str
    ref: str
    by: str


# --- tickets and pushes (tickets, ivr, agi_scripts) ----------------------------------


@dataclass(frozen=True)
class TicketReceived(Event):
    """A case handed over by the other platform reached intake (agi_scripts)."""

    NAME: ClassVar[str] = "ticket.received"
    call_id: str
    site: str
    ticket_id: str
    source_ticket: str
    source_platform: str
    category: str
    summary: str


@dataclass(frozen=True)
class TicketPushedIn(Event):
    NAME: ClassVar[str] = "ticket.pushed_in"
    ticket_id: str
    site: str
    source_ticket: str
    source_platform: str
    bounced: bool


@dataclass(frozen=True)
class TicketUpdated(Event):
    NAME: ClassVar[str] = "ticket.updated"
    ticket_id: str
    call_id: str
    site: str
    by: str
    changes: dict[str, Any]


@dataclass(frozen=True)
class TicketCallbackRequested(Event):
    NAME: ClassVar[str] = "ticket.callback_requested"
    ticket_id: str
    call_id: str
    site: str
    caller: str
    category: str


@dataclass(frozen=True)
class TicketOpened(Event):
    """A ticket opened without a call, from a channel (web, SMS, app, 公众号; tickets.intake):
    the first step of its story."""

    NAME: ClassVar[str] = "ticket.opened"
    ticket_id: str
    call_id: str  # always "": no call opened it
    site: str
    channel: str
    source: str  # the connected system (channel token's name) or agent:<id>
    caller: str  # masked
    category: str
    emergency: bool
    received_at: float


@dataclass(frozen=True)
class TicketIntakeAlert(Event):
    """A report from a channel that must not wait in a list: the recommender found danger
    to life (an emergency cue). Shown to the supervisors at once."""

    NAME: ClassVar[str] = "ticket.intake_alert"
    ticket_id: str
    site: str
    channel: str
    source: str
    reason: str  # the recommender's reasons (the cues it found)


@dataclass(frozen=True)
class PushQueued(Event):
    NAME: ClassVar[str] = "push.queued"
    push_id: str
    url: str


@dataclass(frozen=True)
class PushDelivered(Event):
    NAME: ClassVar[str] = "push.delivered"
    push_id: str
    status: int


@dataclass(frozen=True)
class PushRetry(Event):
    NAME: ClassVar[str] = "push.retry"
    push_id: str
    status: int
    attempts: int


@dataclass(frozen=True)
class PushDead(Event):
    NAME: ClassVar[str] = "push.dead"
    push_id: str
    status: int
    reason: str


# --- the exchange channel between two deployments (exchange) -------------------------


@dataclass(frozen=True)
class ExchangeAlert(Event):
    """Something on the exchange channel a supervisor must look at: a message the peer
    refuses for good (its ticket's queue stopped), a key or address the peer does not take
    (retried meanwhile), or the other platform's 督办 of one of our tickets."""

    NAME: ClassVar[str] = "exchange.alert"
    ticket_id: str  # our ticket the message is about
    site: str  # this deployment's platform
    peer_platform: str
    reason: str  # rejected code, a key refusal (unknown_key...), or supervise
    detail: str


@dataclass(frozen=True)
class ExchangeLinkChanged(Event):
    """The exchange link to the other deployment changed state as this server instance
    sees it: ``up``, ``down`` (no answer), ``refused`` (queues stopped by a final refusal),
    ``key_alert`` (a key, the clock or the peer URL to fix), ``unknown`` (nothing learned)."""

    NAME: ClassVar[str] = "exchange.link"
    site: str  # this deployment's platform
    peer_platform: str
    state: str
    previous: str
    since: float
    error: str  # why, in words ("" when up)


# --- the linkage closed loop (linkage) -----------------------------------------------


@dataclass(frozen=True)
class AskOutcomeEvent(Event):
    """How an outbound linkage call (``ask_id``) ended, from the dialplan."""

    ask_id: str
    site: str
    key: str | None
    status: str | None


@dataclass(frozen=True)
class AskKey(AskOutcomeEvent):
    NAME: ClassVar[str] = "ask.key"


@dataclass(frozen=True)
class AskNokey(AskOutcomeEvent):
    NAME: ClassVar[str] = "ask.nokey"


@dataclass(frozen=True)
class AskUnanswered(AskOutcomeEvent):
    NAME: ClassVar[str] = "ask.unanswered"


@dataclass(frozen=True)
class LinkageDispatched(Event):
    NAME: ClassVar[str] = "linkage.dispatched"
    ticket_id: str
    unit: str
    unit_name: str
    level: int
    mode: str
    site: str
    by: str
    queued_until: float | None
    accept_due: float
    role: str = optional("lead")  # joint handling: "assisting" for an assisting unit


@dataclass(frozen=True)
class LinkageAccepted(Event):
    NAME: ClassVar[str] = "linkage.accepted"
    ticket_id: str
    unit: str
    site: str
    on_time: bool
    arrive_due: float
    result_due: float
    role: str = optional("lead")  # joint handling: "assisting" for an assisting unit


@dataclass(frozen=True)
class LinkageArrived(Event):
    NAME: ClassVar[str] = "linkage.arrived"
    ticket_id: str
    unit: str
    site: str
    arrived_at: float
    on_time: bool
    situation: str
    role: str = optional("lead")  # joint handling: "assisting" for an assisting unit


@dataclass(frozen=True)
class LinkageResolved(Event):
    NAME: ClassVar[str] = "linkage.resolved"
    ticket_id: str
    unit: str
    site: str
    resolved: bool
    on_time: bool
    summary: str
    role: str = optional("lead")  # joint handling: "assisting" for an assisting unit


@dataclass(frozen=True)
class LinkageResultConflict(Event):
    NAME: ClassVar[str] = "linkage.result_conflict"
    ticket_id: str
    unit: str
    site: str
    recorded: bool
    reported: Any  # the unit's 'resolved', as it sent it


@dataclass(frozen=True)
class LinkageCallback(Event):
    NAME: ClassVar[str] = "linkage.callback"
    ticket_id: str
    unit: str
    site: str
    result: str
    by: str


@dataclass(frozen=True)
class LinkageCallbackSkipped(Event):
    NAME: ClassVar[str] = "linkage.callback_skipped"
    ticket_id: str
    site: str
    reason: str


@dataclass(frozen=True)
class LinkageSupervised(Event):
    NAME: ClassVar[str] = "linkage.supervised"
    ticket_id: str
    unit: str
    stage: str
    due: float
    late_s: float
    escalates_at: float


@dataclass(frozen=True)
class LinkageEscalated(Event):
    NAME: ClassVar[str] = "linkage.escalated"
    ticket_id: str
    unit: str
    stage: str
    due: float
    late_s: float
    contact: str
    phone: str


@dataclass(frozen=True)
class LinkageSupervisorAlert(Event):
    NAME: ClassVar[str] = "linkage.supervisor_alert"
    ticket_id: str
    unit: str
    site: str
    reason: str


@dataclass(frozen=True)
class LinkageRepeat(Event):
    NAME: ClassVar[str] = "linkage.repeat"
    ticket_id: str
    basis: str
    call_id: str | None
    new_ticket: str | None
    repeats: int
    site: str
    unit: str | None


@dataclass(frozen=True)
class LinkageJoint(Event):
    NAME: ClassVar[str] = "linkage.joint"
    ticket_id: str
    calls: int
    site: str
    unit: str | None


@dataclass(frozen=True)
class LinkageFeedbackRefused(Event):
    NAME: ClassVar[str] = "linkage.feedback_refused"
    ticket_id: str
    site: str
    unit: str | None
    reason: str


@dataclass(frozen=True)
class LinkageVoiceNote(Event):
    NAME: ClassVar[str] = "linkage.voice_note"
    ticket_id: str
    site: str
    unit: str
    step: str
    note: str
    seconds: float


@dataclass(frozen=True)
class LinkagePhoneAttempt(Event):
    NAME: ClassVar[str] = "linkage.phone_attempt"
    ticket_id: str
    kind: str
    attempt: int
    number: str
    site: str
    ask_id: str


@dataclass(frozen=True)
class LinkagePhoneOutcome(Event):
    NAME: ClassVar[str] = "linkage.phone_outcome"
    ticket_id: str
    kind: str
    attempt: int
    outcome: str
    key: str | None
    status: str | None
    next: str
    retry_at: float | None
    site: str


@dataclass(frozen=True)
class OverdueCallAnswered(Event):
    """A 督办 reminder's or 提级 notice's last word (``linkage.{kind}_{answer}``)."""

    ticket_id: str
    unit: str
    site: str
    stage: str | None


@dataclass(frozen=True)
class LinkageReminderAcknowledged(OverdueCallAnswered):
    NAME: ClassVar[str] = "linkage.reminder_acknowledged"


@dataclass(frozen=True)
class LinkageReminderUnanswered(OverdueCallAnswered):
    NAME: ClassVar[str] = "linkage.reminder_unanswered"


@dataclass(frozen=True)
class LinkageEscalationAcknowledged(OverdueCallAnswered):
    NAME: ClassVar[str] = "linkage.escalation_acknowledged"


@dataclass(frozen=True)
class LinkageEscalationUnanswered(OverdueCallAnswered):
    NAME: ClassVar[str] = "linkage.escalation_unanswered"


@dataclass(frozen=True)
class LinkageProgress(Event):
    """处置中: a unit's note of how the handling goes (each one on the timeline)."""

    NAME: ClassVar[str] = "linkage.progress"
    ticket_id: str
    unit: str
    site: str
    note: str
    role: str = optional("lead")


@dataclass(frozen=True)
class LinkageRefused(Event):
    """A unit refused a case (not ours): the supervisor dispatches it anew."""

    NAME: ClassVar[str] = "linkage.refused"
    ticket_id: str
    unit: str
    site: str
    reason: str
    role: str = optional("lead")


@dataclass(frozen=True)
class LinkagePoliceRequested(Event):
    """联动110: a unit asked for the police on a 12345 ticket; the exchange channel, when it
    runs, hands the ticket to 110 (系统推送)."""

    NAME: ClassVar[str] = "linkage.police_requested"
    ticket_id: str
    unit: str
    site: str
    note: str


@dataclass(frozen=True)
class LinkageLeadershipNotified(Event):
    """A major ticket dispatched: the configured leadership contacts were told (重大事件上报)."""

    NAME: ClassVar[str] = "linkage.leadership_notified"
    ticket_id: str
    site: str
    unit: str
    contacts: list[str]


# --- the callback queue (call_control.callbacks) --------------------------------------


@dataclass(frozen=True)
class CallMissed(Event):
    """A caller hung up at intake while waiting for an agent (queued, or an agent's phone
    ringing): nobody answered. ``caller`` as the call book has it (masked where stored)."""

    NAME: ClassVar[str] = "call.missed"
    call_id: str
    site: str
    caller: str
    ended_at: float


@dataclass(frozen=True)
class CallbackStep(Event):
    """A step of a callback request (``stage`` is its state after the step: pending,
    offering, agent_ringing, connecting, done, retry, failed, skipped); ``pending`` is how
    many of the site's requests were waiting or under way just after it."""

    NAME: ClassVar[str] = "callback.step"
    request_id: str
    site: str
    ticket_id: str
    source: str  # ivr, web, missed
    stage: str
    step: str  # requested, merged, offered, agent_answered, agent_no_answer, connected, unanswered, ...
    attempt: int
    agent: str
    reason: str
    pending: int


# --- the knowledge base (knowledge) ------------------------------------------------------


@dataclass(frozen=True)
class KnowledgeChanged(Event):
    """A knowledge entry (一问一答) was created, edited or loaded from its data file at a
    higher version. ``ivr_key`` (1-4, or "") is the IVR self-service key it answers;
    ``previous_ivr_key`` the key it answered before, sent only when it differs."""

    NAME: ClassVar[str] = "knowledge.changed"
    entry_id: str
    version: int
    by: str
    ivr_key: str
    change: str  # created, updated, loaded
    previous_ivr_key: str = optional("")


# --- joint analysis and early warning (analysis) ---------------------------------------


@dataclass(frozen=True)
class AnalysisAlert(Event):
    """风险预警: tickets of one category and division surging against their baseline
    (``surge``), or several tickets of one division naming the same danger cue (``cue``).
    Raised once per surge."""

    NAME: ClassVar[str] = "analysis.alert"
    id: str
    site: str
    kind: str  # surge or cue
    category: str
    division_code: str
    count: int  # tickets in the window
    baseline: float  # the mean count of the same window on the days before (0 for cue)
    window_s: float
    first_at: float  # the first of those tickets came in
    ticket_ids: list[str]  # at most 20
    cue: str  # the danger cue word ("" for a surge)


def _catalogued(base: type[Event]) -> list[type[Event]]:
    out: list[type[Event]] = []
    for cls in base.__subclasses__():
        if "NAME" in vars(cls):
            out.append(cls)
        out += _catalogued(cls)
    return out


CATALOG: tuple[type[Event], ...] = tuple(_catalogued(Event))
EVENT_TYPES: dict[str, type[Event]] = {cls.NAME: cls for cls in CATALOG}


def named(name: str, /, **data: Any) -> Event:
    """The catalogued event ``name`` with ``data``: for producers whose event's name is
    data (``transfer.{state}``, ``ivr.{stage}``). KeyError for an unknown name, TypeError
    for keys that are not the event's."""
    return EVENT_TYPES[name](**data)
