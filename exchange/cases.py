"""The cases exchanged with the other platform (可查、可看、可追溯、可批量应用), as pure
decisions: the index's members, the period a query names, the cursor of a page, which cases
a filter takes, what a case's story says of it, and the row a supervisor sees. No I/O:
``exchange.case_index`` reads Redis, ``exchange.cases_resources`` answers HTTP.

One case per (our ticket, direction): ``out`` when we handed the ticket over (transfer,
three-way call, push), ``in`` when a handover from the peer opened (or joined) our ticket.
Its details come from what the ticket's story already holds (the exchange notes, written
once per message): the handover's mode, the peer's ticket, the latest feedback (反馈回写),
the 签收 and the bounces (回流). What the list shows of the content follows the boundary's
rule (``tickets.sharing.shareable``): a restricted case shows what crosses for it, its
number, the peer's ticket, the times and the states, never its category, summary, division
code or emergency; the caller's number is never in a row.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from exchange.errors import BadQuery
from hotline_link.core.zone import HOTLINE_ZONE
from tickets.sharing import shareable
from tickets.store import Ticket

Direction = Literal["in", "out"]
DIRECTIONS: tuple[Direction, ...] = ("in", "out")

MAX_SPAN_DAYS = 366  # a year's cases in one query, leap day included
DEFAULT_DAYS = 30  # no ``from``: the 30 days up to ``to``
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
EARLIEST_YEAR, LATEST_YEAR = 1971, 9998  # as the report's ranges: POSIX seconds either side stay sane

DIVISION_PREFIX = re.compile(r"[0-9]{2}(?:[0-9]{2}){0,2}")  # 37, 3702, 370202: province, city, county


# --- the index's members ----------------------------------------------------------------


def member(ticket_id: str, direction: Direction) -> str:
    """A case in the index (``hl:exchange:cases``): our ticket and its direction."""
    return f"{ticket_id}:{direction}"


def case_of(text: str) -> tuple[str, Direction] | None:
    """(our ticket, direction) of an index member; None for a member that is not one."""
    ticket_id, _, direction = text.rpartition(":")
    if not ticket_id or direction not in DIRECTIONS:
        return None
    return ticket_id, "in" if direction == "in" else "out"


# --- the period ---------------------------------------------------------------------------


class Bound(NamedTuple):
    at: dt.datetime  # aware
    is_day: bool  # a date: the whole local day


def parse_bound(text: str, zone: ZoneInfo = HOTLINE_ZONE) -> Bound:
    """``from`` or ``to`` as given: a date (2026-11-24: that local day) or a time
    (2026-11-24T13:00, local unless it names an offset). ValueError saying what it takes."""
    candidate = text.strip()
    day: dt.date | None = None
    moment: dt.datetime | None = None
    try:
        if "T" in candidate or " " in candidate:
            moment = dt.datetime.fromisoformat(candidate)
        else:
            day = dt.date.fromisoformat(candidate)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a date (2026-11-24) or a time (2026-11-24T13:00, "
                         f"{zone.key} unless an offset such as +08:00 is given)") from None
    year = day.year if day is not None else moment.year if moment is not None else 0
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise ValueError(f"{text[:40]!r} is out of range: years {EARLIEST_YEAR} to {LATEST_YEAR}")
    if day is not None:
        return Bound(dt.datetime(day.year, day.month, day.day, tzinfo=zone), True)
    assert moment is not None
    return Bound(moment if moment.tzinfo is not None else moment.replace(tzinfo=zone), False)


@dataclass(frozen=True)
class Period:
    """Handed over at ``start <= at < end`` (POSIX seconds)."""

    start: float
    end: float


def period_of(start_text: str | None, end_text: str | None, now: float, zone: ZoneInfo = HOTLINE_ZONE) -> Period:
    """The period of ``from`` and ``to``: a date includes its whole day, a time is an instant
    (``to`` exclusive). Without ``to``: to the end of today; without ``from``: the
    ``DEFAULT_DAYS`` before ``to``. ``BadQuery`` naming the parameter for a bound that is no
    date or time, ``to`` before ``from``, or more than ``MAX_SPAN_DAYS``."""
    bounds: dict[str, Bound | None] = {}
    for name, text in (("from", start_text), ("to", end_text)):
        try:
            bounds[name] = None if text is None else parse_bound(text, zone)
        except ValueError as exc:
            raise BadQuery(f"parameter {name!r}: {exc}") from None
    first, last = bounds["from"], bounds["to"]
    if last is None:
        today = dt.datetime.fromtimestamp(now, zone).date()
        end = dt.datetime(today.year, today.month, today.day, tzinfo=zone) + dt.timedelta(days=1)
    else:
        end = last.at + dt.timedelta(days=1) if last.is_day else last.at
    start = end - dt.timedelta(days=DEFAULT_DAYS) if first is None else first.at
    if end < start or (end == start and last is not None and last.is_day):
        if last is None:
            raise BadQuery(f"parameter 'from': {str(start_text)[:40]} is after today, where a period without "
                           "'to' ends")
        raise BadQuery(f"parameter 'to': {str(end_text)[:40]} is before from {str(start_text)[:40]}")
    span = (end - start) / dt.timedelta(days=1)
    if span > MAX_SPAN_DAYS:
        raise BadQuery(f"parameters 'from' and 'to': the period is {math.ceil(span)} days long; "
                       f"at most {MAX_SPAN_DAYS} per query")
    return Period(start.timestamp(), end.timestamp())


# --- the cursor ---------------------------------------------------------------------------


class Position(NamedTuple):
    """Where a page ended: the last case's time and member (the index's own order)."""

    at: float
    member: str


def cursor_of(position: Position) -> str:
    text = json.dumps({"at": position.at, "case": position.member}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def position_of(cursor: str) -> Position:
    """The position a ``next_cursor`` names; ValueError for anything this API did not give."""
    refused = ValueError("not a cursor this API gave (ask again without it to start from the first page)")
    if len(cursor) > 400:
        raise refused
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise refused from None
    if not isinstance(raw, dict) or set(raw) != {"at", "case"}:
        raise refused
    at, case = raw["at"], raw["case"]
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at) \
            or not isinstance(case, str) or case_of(case) is None:
        raise refused
    return Position(float(at), case)


# --- the filter ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFilter:
    """What a query keeps: ``None`` keeps any. ``division_code`` of 2 or 4 digits takes the
    province's or city's codes. A restricted case (its content not ``shareable``) never
    matches a filter on its content, so a filter cannot reveal what the row hides."""

    direction: Direction | None = None
    category: str | None = None
    division_code: str | None = None
    status: str | None = None

    def takes_direction(self, direction: Direction) -> bool:
        return self.direction is None or self.direction == direction

    @property
    def on_content(self) -> bool:
        return self.category is not None or self.division_code is not None

    def takes(self, ticket: Ticket | None, status: str | None) -> bool:
        if self.on_content:
            if ticket is None or not shareable(ticket):
                return False
            if self.category is not None and ticket.category != self.category:
                return False
            if self.division_code is not None and not ticket.division_code.startswith(self.division_code):
                return False
        return self.status is None or status == self.status


# --- a case's story ---------------------------------------------------------------------

SENT, RECEIVED = "exchange.sent.", "exchange.received."


@dataclass(frozen=True)
class Trail:
    """What the ticket's exchange notes say of one case."""

    peer_ticket: str | None = None
    mode: str | None = None
    feedback_stage: str | None = None
    feedback_at: float | None = None
    signed_for_by: str | None = None
    signed_for_at: float | None = None
    bounces: int = 0


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def trail_of(direction: Direction, notes: Iterable[tuple[str, Mapping[str, Any]]]) -> Trail:
    """The case's trail from its ticket's exchange notes (``(event, data)``, in order). The
    handover goes the case's way: ``exchange.sent.handover`` for a case handed ``out``,
    ``exchange.received.handover`` for one that came ``in``; what answers it (签收, 反馈,
    回流) comes back the other way. So an ``out`` case reads the peer's ``received``,
    ``status`` and ``bounce``; an ``in`` case the ones we sent; and a ticket that came in
    and went back out keeps the two apart."""
    forth, back = (SENT, RECEIVED) if direction == "out" else (RECEIVED, SENT)
    peer_ticket = mode = stage = signed_by = None
    stage_at = signed_at = None
    bounces = 0
    for event, data in notes:
        if event == forth + "handover":
            if mode is None:
                mode = str(data.get("mode") or "") or None
            if direction == "in" and peer_ticket is None:  # the signed source
                peer_ticket = str(data.get("peer_ticket") or "") or None
            continue
        if not event.startswith(back):
            continue
        kind = event.removeprefix(back)
        if kind not in ("received", "status", "bounce"):
            continue
        if direction == "out" and peer_ticket is None:  # the peer's ticket answers ours
            peer_ticket = str(data.get("peer_ticket") or "") or None
        if kind == "received" and signed_by is None:
            signed_by, signed_at = str(data.get("accepted_by") or "") or None, _number(data.get("at"))
        elif kind == "status":
            stage, stage_at = str(data.get("stage") or "") or None, _number(data.get("at"))
        elif kind == "bounce":
            bounces += 1
    return Trail(peer_ticket, mode, stage, stage_at, signed_by, signed_at, bounces)


# --- the row ------------------------------------------------------------------------------

COLUMNS = ("ticket", "direction", "peer_platform", "peer_ticket", "mode", "handed_at", "restricted", "category",
           "summary", "division_code", "emergency", "status", "feedback_stage", "feedback_at", "signed_for_by",
           "signed_for_at", "bounces")
TIMES = ("handed_at", "feedback_at", "signed_for_at")


def case_row(ticket_id: str, direction: Direction, handed_at: float, peer_platform: str, ticket: Ticket | None,
             status: str | None, trail: Trail) -> dict[str, Any]:
    """A supervisor's row of one case (``schema.ExchangeCase``). A ticket no longer held
    (or restricted) shows no content: the restricted rule is the boundary's own."""
    shown = ticket is not None and shareable(ticket)
    return {"ticket": ticket_id, "direction": direction, "peer_platform": peer_platform,
            "peer_ticket": trail.peer_ticket, "mode": trail.mode, "handed_at": handed_at, "restricted": not shown,
            "category": ticket.category if shown and ticket else None,
            "summary": ticket.summary if shown and ticket else None,
            "division_code": ticket.division_code if shown and ticket else None,
            "emergency": ticket.emergency if shown and ticket else None,
            "status": status, "feedback_stage": trail.feedback_stage, "feedback_at": trail.feedback_at,
            "signed_for_by": trail.signed_for_by, "signed_for_at": trail.signed_for_at, "bounces": trail.bounces}


def local_time(at: float, zone: ZoneInfo = HOTLINE_ZONE) -> str:
    """A time as the CSV writes it: local, to the second, with its offset."""
    return dt.datetime.fromtimestamp(at, zone).isoformat(timespec="seconds")


def csv_values(row: Mapping[str, Any], zone: ZoneInfo = HOTLINE_ZONE) -> list[Any]:
    """A row's cells in ``COLUMNS`` order: times local (``local_time``), booleans ``true``
    or ``false``, nothing as an empty cell. Made safe against formulas by the writer."""
    cells: list[Any] = []
    for name in COLUMNS:
        value = row[name]
        if value is None:
            cells.append("")
        elif name in TIMES:
            cells.append(local_time(value, zone))
        elif isinstance(value, bool):
            cells.append("true" if value else "false")
        else:
            cells.append(value)
    return cells
