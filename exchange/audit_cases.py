"""The cases the audit shows, as pure decisions: which audit entries make which entry of the
cases' index (``exchange.case_index``), for a deployment whose index is missing cases
exchanged before it was written (``exchange.case_backfill`` reads Redis and writes). No I/O.

Two kinds of entry make a case, each the step that writes the index live:

- an outgoing handover of ours, ``queued``: an ``out`` case of its ticket, at that time
  (``hand_over`` enters it just before queuing);
- an incoming handover ``applied`` here (admitted: the boundary took it): an ``in`` case of
  the ticket of ours it opened or joined, at that time. Which ticket that is, the entry does
  not say: the applier kept it by message id (``TakenIn.by_push`` says where), and only a
  handover whose stream is linked to that ticket counts (the link and the live index entry
  are one transaction, so a handover the applier has not taken yet is left to it).

Anything else (a refusal, a retry, a 签收, feedback) makes no case. The index holds no
content, only (our ticket, direction) and a time, so a restricted case enters as any
other. An entry that is not an audit entry (a field missing, a time that is no number) is
``Skipped`` with why, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from exchange.cases import Direction, member

# every audit entry has these, none empty (``exchange.audit.entry``; its ``kind`` may be)
REQUIRED = ("direction", "message_id", "type", "from", "ticket", "outcome", "at")


@dataclass(frozen=True)
class HandedOut:
    """An outgoing handover of our ``ticket_id``, queued at ``at``."""

    ticket_id: str
    at: float


@dataclass(frozen=True)
class TakenIn:
    """An incoming handover, applied at ``at``, of the peer's case (``from_platform``,
    ``peer_ticket``)."""

    message_id: str
    from_platform: str
    peer_ticket: str
    mode: str
    at: float

    @property
    def stream(self) -> str:
        """Its stream as our ticket's linked set names it (``exchange.audit.stage_link``)."""
        return f"{self.from_platform}:{self.peer_ticket}"

    @property
    def by_push(self) -> bool:
        """Opened by the push intake (its ticket kept by push id, the message id); any
        other mode by the applier's ``opened_key``."""
        return self.mode == "push"


@dataclass(frozen=True)
class Skipped:
    """An entry that is no readable audit entry, and why."""

    entry_id: str
    why: str


@dataclass
class Found:
    """What one read of audit entries holds for the index."""

    handed_out: list[HandedOut] = field(default_factory=list)
    taken_in: list[TakenIn] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _time(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def found_in(entries: Iterable[tuple[str, Mapping[str, str]]]) -> Found:
    """The handovers among audit entries (``(entry id, fields)``, as XRANGE reads them)."""
    found = Found()
    for entry_id, fields in entries:
        missing = [name for name in REQUIRED if not fields.get(name)]
        if missing:
            found.skipped.append(Skipped(entry_id, f"no {', '.join(missing)}"))
            continue
        at = _time(fields["at"])
        if at is None:
            found.skipped.append(Skipped(entry_id, f"'at' is no time: {fields['at'][:40]!r}"))
            continue
        direction, outcome = fields["direction"], fields["outcome"]
        if direction not in ("in", "out"):
            found.skipped.append(Skipped(entry_id, f"'direction' is {direction[:40]!r}"))
            continue
        if fields["type"] != "handover":
            continue
        if direction == "out" and outcome == "queued":
            found.handed_out.append(HandedOut(fields["ticket"], at))
        elif direction == "in" and outcome == "applied":
            found.taken_in.append(TakenIn(fields["message_id"], fields["from"], fields["ticket"],
                                          fields.get("kind", ""), at))
    return found


def case_entries(found: Found, taken: Mapping[str, str], since: float) -> dict[str, float]:
    """The index's entries (member -> time) ``found`` makes: each case at its first
    handover. ``taken``: the ticket of ours each incoming handover (by message id) opened or
    joined and is linked to; one not in it makes no case. A case before ``since`` (older
    than the tickets: the index drops it on its next write) makes none either."""
    entries: dict[str, float] = {}

    def enter(ticket_id: str, direction: Direction, at: float) -> None:
        name = member(ticket_id, direction)
        if at >= since and at < entries.get(name, math.inf):
            entries[name] = at

    for out in found.handed_out:
        enter(out.ticket_id, "out", out.at)
    for came in found.taken_in:
        ticket_id = taken.get(came.message_id)
        if ticket_id:
            enter(ticket_id, "in", came.at)
    return entries
