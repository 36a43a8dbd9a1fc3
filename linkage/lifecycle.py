"""A ticket's dispatch (the closed loop after the call centre) as an explicit state
machine. Pure: no I/O.

::

    not_dispatched --dispatch------> dispatched --+
                   --queue---------> queued ------+--accept--> accepted --arrival--> arrived
                   --to_supervisor-> supervisor                   |                     |
                                                                  +--result--+----------+
                                                                             v
                                               called_back <--callback-- resolved

A case resolved, called back or held by the supervisor may be dispatched anew (a new
round: the earlier round's record goes, its steps stay on the timeline). While a unit
holds it (queued, dispatched, accepted, arrived) dispatching that unit again changes
nothing, and another unit is refused.

Joint handling (联合调处): besides the lead unit, assisting units may join a case a lead
holds (``assist``); each has its own record, read by the same machine (``Loop.assisting``):
its result is recorded but asks no 回访, since the lead's result resolves the ticket. A
unit may also report progress (处置中, repeatable), refuse the case (not ours: its record
ends ``refused``, and a refused lead frees the ticket for a new dispatch) or ask for the
police (联动110, on a 12345 ticket that is not restricted).

``step(loop, event)`` gives the ``Transition``: the next state and the ``Action``s the
service carries out, in order. A step that cannot be taken raises the error the HTTP API
answers with (``NotDispatched``, ``NotYourTicket``, ``AlreadyDispatched``, ``WrongStep``,
``NoCallback``). Feedback is at-least-once: a step already taken is no error and records
nothing again (its ``STOP_ASKING`` runs again). A deadline or a phone ask that outlives
what it was about changes nothing: no actions.

``called_back`` is stored as ``resolved`` with the ``callback`` field set (the record's
``state`` reads as it always did).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from linkage.errors import (
    AlreadyDispatched,
    LinkageError,
    NoCallback,
    NoLead,
    NotDispatched,
    NotYourTicket,
    PoliceNotHandedOver,
    PoliceOwnPlatform,
    WrongStep,
)


class DispatchState(StrEnum):
    NOT_DISPATCHED = "not_dispatched"  # no dispatch record
    QUEUED = "queued"  # to a unit off duty (level 3): asked from its next working period
    DISPATCHED = "dispatched"  # sent to the unit (its webhook or duty phone); not accepted yet
    ACCEPTED = "accepted"  # 签收: the arrival and result deadlines run
    ARRIVED = "arrived"  # 到场
    RESOLVED = "resolved"  # 办结: the unit reported its result (resolved or not); 回访 follows
    CALLED_BACK = "called_back"  # 回访 done: the caller's answer (or 未回访) is recorded
    SUPERVISOR = "supervisor"  # an emergency for a unit off duty: the supervisor holds it
    REFUSED = "refused"  # the unit said the case is not its own: the supervisor dispatches anew

    @property
    def stored(self) -> str:
        """The record's ``state`` field."""
        return DispatchState.RESOLVED.value if self is DispatchState.CALLED_BACK else self.value

    @property
    def held(self) -> bool:
        """A unit holds the case: its deadlines run, 督办 and 提级 apply."""
        return self in _HELD

    @property
    def open(self) -> bool:
        """No result yet: a repeat call about the case is linked to it."""
        return self not in (DispatchState.RESOLVED, DispatchState.CALLED_BACK)

    @property
    def awaiting_accept(self) -> bool:
        return self in (DispatchState.QUEUED, DispatchState.DISPATCHED)

    @property
    def with_unit(self) -> bool:
        """Dispatched to a unit, which may report on it (by the API or the feedback line)."""
        return self not in (DispatchState.NOT_DISPATCHED, DispatchState.SUPERVISOR, DispatchState.REFUSED)

    @property
    def has_result(self) -> bool:
        return self in (DispatchState.RESOLVED, DispatchState.CALLED_BACK)


_HELD = frozenset({DispatchState.QUEUED, DispatchState.DISPATCHED, DispatchState.ACCEPTED, DispatchState.ARRIVED})


def state_of(record: Mapping[str, str] | None) -> DispatchState:
    """The state a dispatch record (the Redis hash) is in."""
    if not record or not record.get("state"):
        return DispatchState.NOT_DISPATCHED
    state = DispatchState(record["state"])
    if state is DispatchState.RESOLVED and record.get("callback"):
        return DispatchState.CALLED_BACK
    return state


@dataclass(frozen=True)
class Loop:
    """What the machine reads of a ticket's dispatch."""

    ticket_id: str
    state: DispatchState = DispatchState.NOT_DISPATCHED
    unit: str = ""  # the unit the record names ("" when none)
    resolved: bool = False  # the result recorded (when there is one)
    callback: str = ""  # the 回访 answer recorded
    assisting: bool = False  # an assisting unit's record (joint handling), not the lead's
    police_asked: bool = False  # the unit asked for the police (联动110) in this round

    @classmethod
    def of(cls, ticket_id: str, record: Mapping[str, str] | None, *, assisting: bool = False) -> Loop:
        if not record:
            return cls(ticket_id, assisting=assisting)
        return cls(ticket_id, state_of(record), record.get("unit", ""), record.get("resolved") == "True",
                   record.get("callback", ""), assisting, bool(record.get("police_asked_at")))


class Kind(StrEnum):
    DISPATCH = "dispatch"  # to a unit on duty
    QUEUE = "queue"  # to a unit off duty, asked from its next working period
    TO_SUPERVISOR = "to_supervisor"  # an emergency for a unit off duty
    ACCEPT = "accept"  # the unit's feedback: 签收
    ARRIVAL = "arrival"  # 到场
    RESULT = "result"  # 办结 (resolved or not)
    CALLBACK = "callback"  # the 回访 answer (满意/基本满意/不满意, or 未回访)
    OVERDUE = "overdue"  # a deadline passed: 督办 or 提级 call
    UNANSWERED = "unanswered"  # the dispatch call: every number tried, none accepted
    PROGRESS = "progress"  # 处置中: a note of how the handling goes (repeatable)
    REFUSE = "refuse"  # not ours: the unit gives the case back
    ASK_POLICE = "ask_police"  # 联动110: the unit asks for the police


FEEDBACK = (Kind.ACCEPT, Kind.ARRIVAL, Kind.RESULT)  # in the order the unit reports them
UNIT_STEPS = (*FEEDBACK, Kind.PROGRESS, Kind.REFUSE, Kind.ASK_POLICE)  # everything a unit may report
_DISPATCH_TO = {Kind.DISPATCH: DispatchState.DISPATCHED, Kind.QUEUE: DispatchState.QUEUED,
                Kind.TO_SUPERVISOR: DispatchState.SUPERVISOR}


@dataclass(frozen=True)
class LoopEvent:
    kind: Kind
    unit: str = ""  # dispatch, feedback, unanswered: the unit it concerns
    resolved: object = None  # result: what the unit reports (a bool when well formed)
    eligible: bool = True  # callback: the ticket may be called back (not restricted, the caller known)
    platform: str = ""  # ask_police: the ticket's platform (12345 or 110)
    restricted: bool = False  # ask_police: the ticket is restricted (never handed over)


class Action(StrEnum):
    FORGET_ROUND = "forget_round"  # the earlier round's record goes (its steps stay on the timeline)
    SEND = "send"  # record the dispatch, arm the accept deadline, send it to the unit, note it
    ALERT_OFF_DUTY = "alert_off_duty"  # record the supervisor's hold, flag it, alert the supervisor
    RECORD_ACCEPT = "record_accept"  # clear the accept deadline, arm arrival and result
    RECORD_ARRIVAL = "record_arrival"
    RECORD_RESULT = "record_result"  # clear the deadlines and the red flag
    FLAG_CONFLICT = "flag_conflict"  # a result saying the opposite of the recorded one: flag, timeline
    ASK_SATISFACTION = "ask_satisfaction"  # the 回访 call, within the calling hours
    STOP_ASKING = "stop_asking"  # the unit reported: its dispatch call and the reminder about it end
    RECORD_CALLBACK = "record_callback"
    CALL_OVERDUE = "call_overdue"  # 督办 the unit, or 提级 to the command centre
    ALERT_UNANSWERED = "alert_unanswered"  # flag, alert the supervisor
    RECORD_PROGRESS = "record_progress"  # the note on the timeline
    RECORD_REFUSAL = "record_refusal"  # clear the unit's deadlines, record it refused, flag, alert
    REQUEST_POLICE = "request_police"  # note it on the record and publish it (the exchange hands over)


@dataclass(frozen=True)
class Transition:
    state: DispatchState
    actions: tuple[Action, ...] = ()  # none: nothing happens (a repeat, or a late event)
    refusal: LinkageError | None = None  # raised once the actions are done (a conflicting result)


def check_reporter(loop: Loop, unit: str) -> None:
    """A unit may report on a ticket dispatched to it, and on no other."""
    if not loop.state.with_unit:
        raise NotDispatched(f"ticket {loop.ticket_id} is not dispatched to a unit")
    if unit != loop.unit:
        raise NotYourTicket(f"ticket {loop.ticket_id} is dispatched to another unit")


def step(loop: Loop, event: LoopEvent) -> Transition:
    kind = event.kind
    if kind in _DISPATCH_TO:
        return _dispatch(loop, event)
    if kind in UNIT_STEPS:
        if loop.state is DispatchState.REFUSED and loop.unit == event.unit:
            if kind is Kind.REFUSE:
                return Transition(loop.state)  # refused already: nothing new
            raise WrongStep(f"ticket {loop.ticket_id} was refused by {loop.unit}: it must be dispatched anew")
        check_reporter(loop, event.unit)
        return _FEEDBACK_STEPS[kind](loop, event)
    if kind is Kind.CALLBACK:
        return _callback(loop, event)
    if kind is Kind.OVERDUE:
        return Transition(loop.state, (Action.CALL_OVERDUE,) if loop.state.held else ())
    if kind is Kind.UNANSWERED:
        alert = loop.state.awaiting_accept and event.unit == loop.unit  # not accepted meanwhile, nor elsewhere
        return Transition(loop.state, (Action.ALERT_UNANSWERED,) if alert else ())
    raise ValueError(f"no event {kind!r}")


def _dispatch(loop: Loop, event: LoopEvent) -> Transition:
    state = loop.state
    if state.held:
        if event.unit == loop.unit:
            return Transition(state)  # the unit that holds it again: nothing new
        raise AlreadyDispatched(f"ticket {loop.ticket_id} is with {loop.unit} ({state.stored})")
    target = _DISPATCH_TO[event.kind]
    first = () if state is DispatchState.NOT_DISPATCHED else (Action.FORGET_ROUND,)
    return Transition(target, (*first, Action.ALERT_OFF_DUTY if target is DispatchState.SUPERVISOR else Action.SEND))


def _accept_first(loop: Loop) -> WrongStep:
    return WrongStep(f"ticket {loop.ticket_id} is {loop.state.stored}: accept it first")


def _accept(loop: Loop, event: LoopEvent) -> Transition:
    if loop.state.awaiting_accept:
        return Transition(DispatchState.ACCEPTED, (Action.RECORD_ACCEPT, Action.STOP_ASKING))
    return Transition(loop.state, (Action.STOP_ASKING,))  # accepting twice changes nothing


def _arrival(loop: Loop, event: LoopEvent) -> Transition:
    if loop.state is DispatchState.ACCEPTED:
        return Transition(DispatchState.ARRIVED, (Action.RECORD_ARRIVAL, Action.STOP_ASKING))
    if loop.state.awaiting_accept:
        raise _accept_first(loop)
    return Transition(loop.state, (Action.STOP_ASKING,))  # arrived already, or the result is in


def _result(loop: Loop, event: LoopEvent) -> Transition:
    if loop.state in (DispatchState.ACCEPTED, DispatchState.ARRIVED):
        if loop.assisting:  # an assisting unit's result is its own: the lead's resolves the ticket
            return Transition(DispatchState.RESOLVED, (Action.RECORD_RESULT, Action.STOP_ASKING))
        return Transition(DispatchState.RESOLVED,
                          (Action.RECORD_RESULT, Action.ASK_SATISFACTION, Action.STOP_ASKING))
    if loop.state.awaiting_accept:
        raise _accept_first(loop)
    # the result is in: the same again is a retry; the opposite (a unit that pressed 2 for 3)
    # is refused and shown, the recorded one stands until the case is dispatched anew
    if not isinstance(event.resolved, bool) or event.resolved == loop.resolved:
        return Transition(loop.state, (Action.STOP_ASKING,))
    return Transition(loop.state, (Action.FLAG_CONFLICT,), WrongStep(
        f"ticket {loop.ticket_id} is already reported {'resolved' if loop.resolved else 'not resolved'}; "
        "the supervisor may dispatch it anew"))


def _has_result(loop: Loop) -> WrongStep:
    return WrongStep(f"ticket {loop.ticket_id} is {loop.state.stored}: {loop.unit} reported its result already")


def _progress(loop: Loop, event: LoopEvent) -> Transition:
    if loop.state in (DispatchState.ACCEPTED, DispatchState.ARRIVED):
        return Transition(loop.state, (Action.RECORD_PROGRESS,))  # each note is recorded
    if loop.state.awaiting_accept:
        raise _accept_first(loop)
    raise _has_result(loop)


def _refuse(loop: Loop, event: LoopEvent) -> Transition:
    if loop.state.held:
        return Transition(DispatchState.REFUSED, (Action.RECORD_REFUSAL, Action.STOP_ASKING))
    raise _has_result(loop)


def _ask_police(loop: Loop, event: LoopEvent) -> Transition:
    if not loop.state.held:
        raise _has_result(loop)
    if event.platform != "12345":
        raise PoliceOwnPlatform(f"ticket {loop.ticket_id} is the police centre's own (110): "
                                "110 dispatches police itself")
    if event.restricted:
        raise PoliceNotHandedOver(f"ticket {loop.ticket_id} is restricted: it is never handed over; "
                                  "ask the supervisor")
    if loop.police_asked:
        return Transition(loop.state)  # asked already: the hand-over is on its way
    return Transition(loop.state, (Action.REQUEST_POLICE,))


_FEEDBACK_STEPS = {Kind.ACCEPT: _accept, Kind.ARRIVAL: _arrival, Kind.RESULT: _result, Kind.PROGRESS: _progress,
                   Kind.REFUSE: _refuse, Kind.ASK_POLICE: _ask_police}


def assist(lead: Loop, mine: Loop, event: LoopEvent) -> Transition:
    """An assisting unit joins the case (``event``: dispatch, queue or to_supervisor to it):
    only while a lead holds the case. The lead itself, or an assisting unit that holds its
    part already, is a no-op; one whose part ended (result, refusal) begins a new round."""
    if not lead.state.held:
        raise NoLead(f"ticket {lead.ticket_id} has no lead unit holding it "
                     f"({lead.state.stored}): dispatch a lead first")
    if event.unit == lead.unit:
        return Transition(lead.state)  # the lead is in the case already
    return _dispatch(mine, event)


def _callback(loop: Loop, event: LoopEvent) -> Transition:
    if not loop.state.has_result:
        raise NoCallback(f"ticket {loop.ticket_id} has no result yet")
    if not event.eligible:
        raise NoCallback("no callback for a restricted ticket or an anonymous caller")
    if loop.state is DispatchState.CALLED_BACK:
        raise NoCallback(f"ticket {loop.ticket_id} already has its callback ({loop.callback})")
    return Transition(DispatchState.CALLED_BACK, (Action.RECORD_CALLBACK,))
