"""The figures between the platforms kept per local day, so that a quarterly or yearly
report counts every message whatever the audit log's cap (issue 17). Pure.

As the audit records a message's first outcome the report counts (``exchange_figures``:
once, when the receiver took it), it adds one to that message's field (``day_fields``) in
the hash of its day, in the same MULTI/EXEC. Days are Beijing days (``HOTLINE_ZONE``), by
the entry's own ``at``. A field keeps what the report's definitions read (direction, way,
type, kind, whether it names the receiver's ticket, outcome), not the figures themselves,
so ``fold`` applies the one definition of ``exchange_figures`` to counters and log alike.

A report's period is whole local days (``report.parse_range``). ``plan`` takes the Beijing
days wholly inside it from the counters, and from the log only what they do not cover: the
hours at an edge when the report's zone is not Beijing's, and the time before counting
began (``counted_since``, the earliest ``at`` counted: a deployment's older days).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hotline_link.core.zone import HOTLINE_ZONE
from linkage.exchange_figures import TAKEN, Ways, add_taken, no_ways

COUNTER_ZONE = HOTLINE_ZONE  # the counters' days; the writer knows no report's zone
SEPARATOR = "|"  # no part has it: each is a platform id, a type, a kind or an outcome (a label)
PARTS = ("direction", "from", "to", "type", "kind", "named", "outcome")
NAMED = "named"  # the message names the receiver's ticket (a handover so names the case's origin: 回流)


def _date(at: float, zone: ZoneInfo) -> dt.date:
    # whole seconds: fromtimestamp rounds to the microsecond, which puts 23:59:59.9999997 in
    # the next day; a midnight is a whole second, so the floor keeps ``at`` in its own day
    return dt.datetime.fromtimestamp(math.floor(at), zone).date()


def day_of(at: float, zone: ZoneInfo = COUNTER_ZONE) -> str:
    """The local day (``YYYY-MM-DD``) of the instant ``at``."""
    return _date(at, zone).isoformat()


def day_fields(entry: Mapping[str, str]) -> list[str]:
    """The counter fields one audit entry adds one to, when it is its message's first outcome
    the report counts on this side (the caller knows that: ``exchange.audit.record``):
    none for an outcome the receiver did not take."""
    if entry.get("outcome") not in TAKEN:
        return []
    parts = (entry.get("direction", ""), entry.get("from", ""), entry.get("to", ""), entry.get("type", ""),
             entry.get("kind", ""), NAMED if entry.get("peer_ticket") else "", entry.get("outcome", ""))
    return [SEPARATOR.join(parts)]


def entry_of(field: str) -> dict[str, str] | None:
    """What a counter field says of its messages, as an audit entry's keys; None when it is
    not one ``day_fields`` writes."""
    parts = field.split(SEPARATOR)
    if len(parts) != len(PARTS):
        return None
    entry = dict(zip(PARTS, parts, strict=True))
    if entry["outcome"] not in TAKEN or entry["named"] not in ("", NAMED):
        return None
    entry["peer_ticket"] = entry.pop("named")  # all the definitions ask of it: is it named
    return entry


@dataclass(frozen=True)
class Skipped:
    """A counter the report could not read (the report goes on without it; its reader logs it)."""

    day: str
    field: str
    value: str
    why: str


@dataclass(frozen=True)
class Folded:
    ways: Ways
    skipped: tuple[Skipped, ...]


def fold(counters: Mapping[str, Mapping[str, str]]) -> Folded:
    """The figures each way of the days' counters (day -> field -> count as stored), and the
    counters left out: a field ``day_fields`` never writes, a count that is no whole number."""
    ways = no_ways()
    skipped: list[Skipped] = []
    for day in sorted(counters):
        for field, value in sorted(counters[day].items()):
            entry = entry_of(field)
            if entry is None:
                skipped.append(Skipped(day, field, value, "unknown field"))
                continue
            try:
                count = int(value)
            except ValueError:
                count = -1
            if count < 0:
                skipped.append(Skipped(day, field, value, "not a count"))
                continue
            add_taken(ways, entry, count)
    return Folded(ways, tuple(skipped))


@dataclass(frozen=True)
class Plan:
    """Where a period's figures come from: whole days' counters, and spans of the log."""

    days: tuple[str, ...]
    spans: tuple[tuple[float, float], ...]  # (start, end), end excluded, in order, apart


def _midnight(day: dt.date, zone: ZoneInfo) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def plan(start: float, end: float, since: float | None, zone: ZoneInfo = COUNTER_ZONE) -> Plan:
    """How to count ``start <= at < end``: a day of ``zone`` wholly inside from its counters,
    with the log for its hours before ``since`` (counting began that day); every other
    instant from the log (an edge day, or the days before ``since``; all of it when nothing
    was ever counted)."""
    days: list[str] = []
    spans: list[tuple[float, float]] = []

    def from_log(low: float, high: float) -> None:
        if low >= high:
            return
        if spans and spans[-1][1] == low:
            spans[-1] = (spans[-1][0], high)
        else:
            spans.append((low, high))

    day = _date(start, zone)
    while start < end:
        low, high = _midnight(day, zone), _midnight(day + dt.timedelta(days=1), zone)
        if low >= end:
            break
        if low < start or high > end or since is None or since >= high:
            from_log(max(low, start), min(high, end))
        else:
            from_log(low, max(low, since))
            days.append(day.isoformat())
        day += dt.timedelta(days=1)
    return Plan(tuple(days), tuple(spans))
