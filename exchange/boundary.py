"""The seeds' rules at the boundary between the two deployments. Pure: no I/O.

Data is shared "在确保安全的前提下" (seed 001), never what needs 控制知悉范围 (涉密、涉稳、
涉恐、涉案): both sides enforce it, so neither a sender's bug nor an older sender lets it
through.

Sending (``outgoing_*``): what a message may say of one of our tickets is what
``tickets.sharing.shareable`` lets leave. A restricted ticket crosses by its number only: its
handover says ``restricted`` and nothing else (no category, summary, division code, caller
or emergency), and its feedback carries no free text. A push, which is nothing but the
content, is refused for it, as ``tickets.push_policy`` always did. Free text is cleaned and
cut to the catalogue's bounds (``messages.fit_text``), so any ticket makes a valid message.

Receiving (``admit``): a message not addressed to this platform is refused; so is restricted
content: a handover flagged ``restricted`` that carries any content (or is a push), and any
text from 110 that names one of the marks (``tickets.sharing.RESTRICTED_MARKS``), flagged or
not. Whatever 110 hands to 12345 is non-emergency (the seeds' rule, as system push has
always applied it): a handover from 110 marked emergency is admitted with ``emergency``
false, and ``Admitted.forced`` names the field so the audit shows it.

At the receiving edge: ``admit`` first, and a ``not_addressed`` refusal goes back without
touching the inbox; then ``inbox.step``, and each message it applies is admitted again (the
same answer: ``admit`` is pure). A ``restricted_content`` refusal is final for that message:
it is kept for the audit, its seq counts as taken (later messages of the ticket are not held
up behind it), and a retry gets the same refusal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from exchange.errors import NotSendable
from exchange.messages import (
    CATEGORY_CHARS,
    DETAIL_CHARS,
    NOTE_CHARS,
    REASON_CHARS,
    SUMMARY_CHARS,
    UNIT_CHARS,
    AnyBody,
    BounceBody,
    Envelope,
    HandoverBody,
    Mode,
    ReceivedBody,
    Stage,
    StatusBody,
    SuperviseBody,
    fit_text,
)
from hotline_link.core.numbers import ANONYMOUS, CallerNumber
from tickets.push_policy import PLATFORMS, PushRefused
from tickets.sharing import is_restricted, shareable
from tickets.store import Ticket, ticket_platform

# the reason a restricted case's bounce gives: the case goes back, its reasons do not
RESTRICTED_REASON = "原因不予共享（控制知悉范围）"
_DIVISION = re.compile(r"[0-9]{6}")
_CALL_ID = re.compile(r"[0-9A-Za-z._-]{1,64}")


# --- sending -----------------------------------------------------------------------------


def _check_target(ticket: Ticket, to_platform: str) -> None:
    if to_platform not in PLATFORMS:
        raise NotSendable(f"target must be one of {', '.join(PLATFORMS)}")
    if to_platform == ticket.site:
        raise NotSendable(f"ticket {ticket.id} is already on platform {ticket.site}")


def _may_leave(ticket: Ticket, text: str) -> bool:
    """May ``text``, said of ``ticket``, go to the other platform? Not for a restricted
    ticket, nor a text that would make a 110 ticket restricted (it names a mark)."""
    return shareable(ticket) and shareable(replace(ticket, category=text, summary=""))


def _caller(ticket: Ticket, masked: bool) -> str:
    """The caller as one number of China's plan (``core.numbers``: the identity, what the
    other side dials for 回访), masked if asked; ``anonymous`` for what is no number."""
    if not ticket.caller:
        return ""
    number = CallerNumber.parse_written(ticket.caller)
    if not number.digits:
        return ANONYMOUS
    return number.masked if masked else number.identity or number.digits


def outgoing_handover(ticket: Ticket, mode: Mode, to_platform: str, *, source_call: str | None = None,
                      mask_caller: bool = False) -> HandoverBody:
    """The handover of ``ticket`` to ``to_platform``. The caller goes as a push carries it
    today (the number as kept, for 回访), or masked with ``mask_caller``."""
    _check_target(ticket, to_platform)
    call = source_call if source_call and _CALL_ID.fullmatch(source_call) else None
    if not shareable(ticket):
        if mode == "push":
            raise PushRefused(f"ticket {ticket.id} is a restricted matter and is never shared")
        return HandoverBody(mode=mode, restricted=True, category="", summary="", division_code="",
                            emergency=False, caller="", source_call=call)
    return HandoverBody(
        mode=mode, restricted=False, category=fit_text(ticket.category, CATEGORY_CHARS),
        summary=fit_text(ticket.summary, SUMMARY_CHARS),
        division_code=ticket.division_code if _DIVISION.fullmatch(ticket.division_code) else "",
        emergency=ticket.emergency and not (ticket.site == "110" and to_platform == "12345"),
        caller=_caller(ticket, mask_caller), source_call=call)


def returning_to(ticket: Ticket, to_platform: str) -> str | None:
    """The ``peer_ticket`` of a handover: the ticket the case came from, when it goes back
    to that platform (回流 by handover, as a push counts ``bounced``); else None."""
    source = ticket.source_ticket
    if ticket.source_platform == to_platform and ticket_platform(source) == to_platform:
        return source
    return None


def outgoing_received(ticket: Ticket, accepted_by: str, at: float) -> ReceivedBody:
    """签收: ``ticket`` is the one this platform opened for the case; ``accepted_by`` an
    agent's number, or ``system``."""
    return ReceivedBody(receiver_ticket=ticket.id, accepted_by=accepted_by, at=at)


def outgoing_status(ticket: Ticket, stage: Stage, at: float, *, unit: str | None = None,
                    detail: str = "") -> StatusBody:
    """反馈回写 of ``ticket``: the unit and the detail only where they may leave."""
    unit_text = fit_text(unit or "", UNIT_CHARS)
    detail_text = fit_text(detail, DETAIL_CHARS)
    return StatusBody(stage=stage, at=at,
                      unit=unit_text if unit_text and _may_leave(ticket, unit_text) else None,
                      detail=detail_text if _may_leave(ticket, detail_text) else "")


def outgoing_bounce(ticket: Ticket, reason: str) -> BounceBody:
    """回流 of ``ticket`` with its reason; a restricted case gives ``RESTRICTED_REASON``."""
    text = fit_text(reason, REASON_CHARS)
    if not text:
        raise NotSendable("a bounce (回流) needs a reason")
    return BounceBody(reason=text if _may_leave(ticket, text) else RESTRICTED_REASON)


def outgoing_supervise(ticket: Ticket, note: str = "", due_at: float | None = None) -> SuperviseBody:
    """督办 of the case ``ticket`` handed over; the note only where it may leave."""
    text = fit_text(note, NOTE_CHARS)
    return SuperviseBody(note=text if _may_leave(ticket, text) else "", due_at=due_at)


def as_shareable_now(ticket: Ticket, body: AnyBody) -> AnyBody:
    """``body``, queued earlier for ``ticket``, as it may leave now: unchanged while the
    ticket is shareable; once it is restricted (flagged after the message was queued), the
    form ``outgoing_*`` gives a restricted ticket (a handover by its number only, no free
    text). A push queued before has no restricted form: it goes with its content emptied,
    and the receiver's boundary refuses it (its seq taken, nothing applied)."""
    if shareable(ticket):
        return body
    if isinstance(body, HandoverBody):
        return body.model_copy(update={"restricted": True, "category": "", "summary": "", "division_code": "",
                                       "emergency": False, "caller": ""})
    if isinstance(body, StatusBody):
        return outgoing_status(ticket, body.stage, body.at, unit=body.unit, detail=body.detail)
    if isinstance(body, BounceBody):
        return outgoing_bounce(ticket, body.reason)
    if isinstance(body, SuperviseBody):
        return outgoing_supervise(ticket, body.note, body.due_at)
    return body  # a 签收 carries no text


# --- receiving ---------------------------------------------------------------------------


class Refusal(StrEnum):
    NOT_ADDRESSED = "not_addressed"  # to_platform is not this platform
    RESTRICTED_CONTENT = "restricted_content"  # content that must not cross (控制知悉范围)


@dataclass(frozen=True)
class Admitted:
    envelope: Envelope  # as this platform takes it (after ``forced``)
    forced: tuple[str, ...] = ()  # fields the boundary changed, e.g. ("body.emergency",)


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    message: str  # for the audit and the sender's operator
    field: str = ""  # the field at fault


def _texts(envelope: Envelope) -> list[tuple[str, str]]:
    """(field, text) of every free text in the message."""
    body = envelope.body
    if isinstance(body, HandoverBody):
        return [("body.category", body.category), ("body.summary", body.summary)]
    if isinstance(body, StatusBody):
        return [("body.unit", body.unit or ""), ("body.detail", body.detail)]
    if isinstance(body, BounceBody):
        return [("body.reason", body.reason)]
    if isinstance(body, SuperviseBody):
        return [("body.note", body.note)]
    return []


def _restricted_content(envelope: Envelope) -> Refused | None:
    body = envelope.body
    if isinstance(body, HandoverBody) and body.restricted and body.mode == "push":
        return Refused(Refusal.RESTRICTED_CONTENT, "a restricted case is never pushed: a push is nothing "
                                                   "but its content", "body.mode")
    if isinstance(body, HandoverBody) and body.restricted:
        carried = [name for name, value in (("category", body.category), ("summary", body.summary),
                                            ("division_code", body.division_code), ("caller", body.caller),
                                            ("emergency", body.emergency)) if value]
        if carried:
            return Refused(Refusal.RESTRICTED_CONTENT,
                           f"a restricted case crosses by its number only, but this one carries "
                           f"{', '.join(carried)}", f"body.{carried[0]}")
    for field, text in _texts(envelope):
        # the sender's own rule, read on the sender's ticket: 110's marks bind 110's texts
        probe = Ticket(envelope.ticket, envelope.from_platform, "", category=text)
        if text and is_restricted(probe):
            return Refused(Refusal.RESTRICTED_CONTENT,
                           f"field {field!r} names a restricted matter (控制知悉范围); it is never shared",
                           field)
    return None


def admit(envelope: Envelope, receiver_platform: str) -> Admitted | Refused:
    """What this platform (``receiver_platform``) takes of a received message."""
    if envelope.to_platform != receiver_platform:
        return Refused(Refusal.NOT_ADDRESSED,
                       f"the message is addressed to {envelope.to_platform}, this is {receiver_platform}",
                       "to_platform")
    refused = _restricted_content(envelope)
    if refused is not None:
        return refused
    body = envelope.body
    if isinstance(body, HandoverBody) and body.emergency \
            and (envelope.from_platform, envelope.to_platform) == ("110", "12345"):
        calmer = envelope.model_copy(update={"body": body.model_copy(update={"emergency": False})})
        return Admitted(calmer, ("body.emergency",))
    return Admitted(envelope)
