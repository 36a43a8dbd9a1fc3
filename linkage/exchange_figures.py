"""The report's figures between the platforms when each runs its own deployment (issue
17): counted from the exchange channel's audit, every message in and out and what became
of it, so that 12345's report and 110's agree on what they share. Pure: the entries come
through ``ExchangeLog``, a port the exchange plugin fills (``linkage.keys.EXCHANGE_LOG``).

Each side counts a message **once, when the receiver took it**: the sender by its
acknowledgement, the receiver by its own step, both with the same outcomes (applied, held
for its turn, a duplicate of one taken before, or taken at the boundary without its
content). A message sent and not yet taken, or refused, counts on neither side. Both
deployments run this one definition, so the same messages give the same figures each way.
The audit also counts these messages per local day as it records them, and the report reads
a period from those counters and the log's entries alike (``exchange_days``,
``exchange_reader``), through this one definition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Protocol

# what the receiver answered for a message it has for good (exchange.receipts.Outcome)
TAKEN = frozenset({"applied", "held", "duplicate", "refused_at_boundary"})
WAYS = ("12345->110", "110->12345")
# the figures of one way: the handovers by mode, then 回流, 签收, 反馈回写 (办结 among them), 督办
FIGURES = ("一键转接", "三方通话", "系统推送", "回流", "签收", "反馈", "办结", "督办")
MODE_FIGURES: Mapping[str, str] = MappingProxyType({"transfer": "一键转接", "conference": "三方通话",
                                                    "push": "系统推送"})


class ExchangeLog(Protocol):
    """The exchange audit as the report reads it (``exchange.audit.Audit``): its log, and
    the per-day counters it keeps of the same messages (``linkage.exchange_days``)."""

    async def between(self, start: float, end: float) -> list[dict[str, str]]:
        """Audit entries (direction, message_id, type, kind, from, to, peer_ticket,
        outcome, at...) with ``start <= at < end``."""
        ...

    async def counted_since(self) -> float | None:
        """The earliest ``at`` counted into a day's counters; None if none ever was."""
        ...

    async def day_counts(self, days: Sequence[str]) -> dict[str, dict[str, str]]:
        """Each local day's counters (``YYYY-MM-DD`` -> field -> count, as stored)."""
        ...


def _at(entry: Mapping[str, str]) -> float:
    try:
        return float(entry.get("at", "nan"))
    except ValueError:
        return float("nan")


def taken(entries: Iterable[Mapping[str, str]]) -> list[Mapping[str, str]]:
    """Each message the receiver took, once: its first such entry on this side."""
    first: dict[tuple[str, str], Mapping[str, str]] = {}
    for entry in entries:
        if entry.get("outcome") not in TAKEN:
            continue
        key = (entry.get("direction", ""), entry.get("message_id", ""))
        if key not in first or _at(entry) < _at(first[key]):
            first[key] = entry
    return list(first.values())


def figures_of(entry: Mapping[str, str]) -> tuple[str, ...]:
    """What one taken message adds to its way's figures. 回流: a ``bounce``, or a handover
    back to the platform the case came from (it names that platform's ticket)."""
    kind, peer_ticket = entry.get("kind", ""), entry.get("peer_ticket", "")
    match entry.get("type"):
        case "handover":
            mode = MODE_FIGURES.get(kind)
            named = (mode,) if mode else ()
            return named + (("回流",) if peer_ticket else ())
        case "bounce":
            return ("回流",)
        case "received":
            return ("签收",)
        case "status":
            return ("反馈", "办结") if kind == "result" else ("反馈",)
        case "supervise":
            return ("督办",)
    return ()


Ways = dict[str, dict[str, int]]  # way ("12345->110") -> figure -> count


def no_ways() -> Ways:
    """Every figure zero, both ways: so two reports compare key for key."""
    return {way: dict.fromkeys(FIGURES, 0) for way in WAYS}


def add_taken(ways: Ways, entry: Mapping[str, str], times: int = 1) -> None:
    """Add ``times`` messages taken like ``entry`` to its way's figures."""
    row = ways.setdefault(f"{entry.get('from') or '?'}->{entry.get('to') or '?'}", dict.fromkeys(FIGURES, 0))
    for name in figures_of(entry):
        row[name] += times


def add_ways(*parts: Ways) -> Ways:
    """The sum of figures counted apart (whole days from counters, the rest from the log)."""
    total = no_ways()
    for ways in parts:
        for way, row in ways.items():
            into = total.setdefault(way, dict.fromkeys(FIGURES, 0))
            for name, count in row.items():
                into[name] = into.get(name, 0) + count
    return total


def exchange_ways(entries: Iterable[Mapping[str, str]], start: float, end: float) -> Ways:
    """The figures each way (``12345->110``) of the messages taken with ``start <= at < end``;
    both ways always, so two reports compare key for key."""
    ways = no_ways()
    for entry in taken(entries):
        if start <= _at(entry) < end:
            add_taken(ways, entry)
    return ways
