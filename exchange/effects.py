"""What the exchange plugin decides, as pure functions: whether the channel runs here
(``plan``), the id of a message that follows from a received one (``derived_id``), what a
ticket's timeline shows of a message (``story_data``), and which of our linkage steps go back
to the sender of a case, as what (``feedback_of``). No I/O: ``exchange.service`` does it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from exchange.messages import Envelope, Stage
from hotline_link.core.bus import BusEvent
from hotline_link.core.events import (
    LinkageAccepted,
    LinkageArrived,
    LinkageCallback,
    LinkageDispatched,
    LinkageResolved,
)
from tickets.push_policy import PLATFORMS, other_platform


class Peer(NamedTuple):
    """The other platform's side of a case: its platform and its ticket."""

    platform: str
    ticket: str


@dataclass(frozen=True)
class On:
    platform: str  # this deployment's
    peer_platform: str


@dataclass(frozen=True)
class Off:
    reason: str


def plan(platform_ids: Iterable[str], peer_url: str) -> On | Off:
    """Does the channel run here? Only between two deployments of one platform each: this
    one serves exactly one platform and ``exchange_peer_url`` names the other's server."""
    ids = sorted(platform_ids)
    if not peer_url:
        return Off("no exchange_peer_url in [exchange]: the exchange channel is off")
    if len(ids) != 1 or ids[0] not in PLATFORMS:
        return Off(f"this deployment serves {', '.join(ids) or 'no platform'}: the exchange channel joins two "
                   f"deployments of one platform each (12345's and 110's)")
    return On(ids[0], other_platform(ids[0]))


def derived_id(message_id: str, purpose: str) -> str:
    """The id of a message of ours that follows from a received one (its 签收): the applier
    runs at least once, and the same id again is the same message in the outbox."""
    digest = hashlib.sha256(f"{message_id}:{purpose}".encode()).digest()[:16]
    return uuid.UUID(bytes=digest, version=4).hex


def story_leg(ticket_id: str) -> str:
    """The pseudo call whose stream holds a ticket's exchange steps on its timeline."""
    return f"exchange-{ticket_id}"


def story_data(envelope: Envelope, site: str, peer: Peer) -> dict[str, Any]:
    """What our ticket's timeline (on platform ``site``) shows of a message: the platform it
    came from (``platform``: ours for what we sent, the peer's for what it told us), its id
    and seq, the other side's ticket and the body's fields (the caller left out: the ticket
    has it)."""
    body = envelope.body.model_dump(mode="json", exclude={"caller"})
    return {"site": site, "platform": envelope.from_platform, "message_id": envelope.message_id,
            "seq": envelope.seq, "peer_platform": peer.platform, "peer_ticket": peer.ticket, **body}


@dataclass(frozen=True)
class Feedback:
    """One linkage step of ours, as the ``status`` the sender of the case gets."""

    ticket_id: str
    stage: Stage
    unit: str | None
    detail: str
    at: float | None  # None: when it is written back


WRITTEN_BACK = (LinkageDispatched, LinkageAccepted, LinkageArrived, LinkageResolved, LinkageCallback)


def no_unit_names(_unit: str) -> str | None:
    """A unit directory that knows no unit: feedback names units by their ids."""
    return None


def feedback_of(event: BusEvent, unit_name: Callable[[str], str | None] = no_unit_names) -> Feedback | None:
    """The write-back (反馈回写) of a linkage step, or None for any other event. Every stage
    names the unit as the other platform can read it: by its name (``unit_name``, our unit
    directory), its id only when the directory does not know it."""
    def named(unit: str) -> str:
        return unit_name(unit) or unit

    if event.is_(LinkageDispatched):
        dispatched = event.as_(LinkageDispatched)
        return Feedback(dispatched.ticket_id, "dispatched", dispatched.unit_name or named(dispatched.unit), "", None)
    if event.is_(LinkageAccepted):
        accepted = event.as_(LinkageAccepted)
        return Feedback(accepted.ticket_id, "accepted", named(accepted.unit), "", None)
    if event.is_(LinkageArrived):
        arrived = event.as_(LinkageArrived)
        return Feedback(arrived.ticket_id, "arrived", named(arrived.unit), arrived.situation, arrived.arrived_at)
    if event.is_(LinkageResolved):
        resolved = event.as_(LinkageResolved)
        if resolved.role == "assisting":  # joint handling: the lead's result is the case's
            return None
        verdict = "已办结" if resolved.resolved else "未办结"
        detail = f"{verdict}：{resolved.summary}" if resolved.summary else verdict
        return Feedback(resolved.ticket_id, "result", named(resolved.unit), detail, None)
    if event.is_(LinkageCallback):
        callback = event.as_(LinkageCallback)
        return Feedback(callback.ticket_id, "callback", named(callback.unit), callback.result, None)
    return None


def is_written_back(event: BusEvent) -> bool:
    return any(event.is_(kind) for kind in WRITTEN_BACK)
