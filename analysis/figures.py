"""The figures of a set of tickets: hot spots by any keys and the period's summary. Pure:
the service reads the tickets (the time index, then the tickets in batches) and hands
them here.

Definitions (口径):
- a ticket counts at the moment it came in: ``received_at`` when a channel gave it, else
  ``created_at``; days and hours are the hotline's (Asia/Shanghai);
- ``platform``: the platform that handed the case over (``source_platform``), else the
  ticket's own;
- ``tag``: the ticket's own tags and the rule tags (``[[analysis.tag_rules]]``); a ticket
  with several counts in each, one with none under "";
- 高频咨询 (``frequent_questions``): tickets whose category names a consultation (contains
  咨询, as the catalog's 政务咨询, 法律咨询, 政策咨询...) or whose words ask one (the
  recommender's consultation phrases: 需要什么材料, 去哪里办, 怎么办理...), by category;
- disputed (``disputed``): tickets bounced back between the platforms (回流), refused by a
  unit, or dispatched again to a new lead unit, as heard on the bus.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analysis.config import TagRule
from analysis.errors import BadGrouping, BadRange
from hotline_link.core.logs import mask_number, mask_numbers_in_text
from hotline_link.core.zone import HOTLINE_ZONE
from tickets.store import Ticket, indexed_at

GROUP_KEYS = ("category", "division_code", "channel", "platform", "tag", "day", "hour")
DEFAULT_GROUPING = ("category", "division_code")
MAX_SPAN_S = 400 * 86400
DEFAULT_SPAN_S = 86400.0
MAX_IDS = 20  # ticket ids shown per group
TOP = 10
CONSULTATION = "咨询"
EXAMPLE_CHARS = 100


@dataclass(frozen=True)
class Disputes:
    """A ticket's disputes as heard on the bus."""

    bounced: int = 0  # came back from the platform it was handed to (回流)
    refused: int = 0  # a unit refused it (不属于本单位)
    lead_dispatches: int = 0  # dispatches to a lead unit; more than one: re-dispatched

    @property
    def redispatched(self) -> int:
        return max(0, self.lead_dispatches - 1)

    @property
    def any(self) -> bool:
        return bool(self.bounced or self.refused or self.redispatched)


def parse_moment(text: str, name: str) -> float:
    """``from``/``to``: epoch seconds, or an ISO-8601 date or time (no zone: the hotline's)."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise BadRange(f"{name} {text[:40]!r} is neither epoch seconds nor an ISO-8601 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=HOTLINE_ZONE)
        value = moment.timestamp()
    if not 0 <= value < 253402300800:  # 1970 .. 9999
        raise BadRange(f"{name} {text[:40]!r} is out of range")
    return value


def parse_range(start: str | None, end: str | None, now: float) -> tuple[float, float]:
    """[from, to): by default the last 24 hours to ``now``; at most 400 days."""
    to = parse_moment(end, "to") if end else now
    since = parse_moment(start, "from") if start else to - DEFAULT_SPAN_S
    if to <= since:
        raise BadRange("to must be after from")
    if to - since > MAX_SPAN_S:
        raise BadRange("the range is longer than 400 days")
    return since, to


def parse_grouping(by: str | None) -> tuple[str, ...]:
    if not by:
        return DEFAULT_GROUPING
    keys = tuple(part.strip() for part in by.split(","))
    unknown = [k for k in keys if k not in GROUP_KEYS]
    if unknown or not keys:
        raise BadGrouping(f"by: unknown key {', '.join(repr(k[:20]) for k in unknown)}; known: {', '.join(GROUP_KEYS)}")
    if len(set(keys)) != len(keys):
        raise BadGrouping("by: a key is given twice")
    return keys


def rule_tags(ticket: Ticket, rules: Sequence[TagRule]) -> tuple[str, ...]:
    out = []
    for rule in rules:
        if rule.categories and ticket.category not in rule.categories:
            continue
        if rule.words and not any(word in ticket.summary for word in rule.words):
            continue
        out.append(rule.tag)
    return tuple(out)


def tags_of(ticket: Ticket, rules: Sequence[TagRule]) -> tuple[str, ...]:
    """The ticket's own tags, then its rule tags, each once."""
    return tuple(dict.fromkeys((*ticket.tags, *rule_tags(ticket, rules))))


def _local(ticket: Ticket) -> dt.datetime:
    return dt.datetime.fromtimestamp(indexed_at(ticket), HOTLINE_ZONE)


def _values(ticket: Ticket, key: str, rules: Sequence[TagRule]) -> tuple[str, ...]:
    if key == "tag":
        return tags_of(ticket, rules) or ("",)
    if key == "platform":
        return (ticket.source_platform or ticket.site,)
    if key == "day":
        return (_local(ticket).strftime("%Y-%m-%d"),)
    if key == "hour":
        return (_local(ticket).strftime("%H"),)
    return (str(getattr(ticket, key)),)


def hotspots(tickets: Iterable[Ticket], by: Sequence[str], rules: Sequence[TagRule] = ()) -> list[dict[str, Any]]:
    """Groups of tickets by the keys ``by``: ``{key: value..., "count", "ticket_ids"}``
    (the first 20 ids, in the order given), by count (most first), then by key."""
    counts: Counter[tuple[str, ...]] = Counter()
    ids: dict[tuple[str, ...], list[str]] = {}
    for ticket in tickets:
        combos: list[tuple[str, ...]] = [()]
        for key in by:
            combos = [(*c, v) for c in combos for v in _values(ticket, key, rules)]
        for combo in combos:
            counts[combo] += 1
            shown = ids.setdefault(combo, [])
            if len(shown) < MAX_IDS:
                shown.append(ticket.id)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{**dict(zip(by, combo, strict=True)), "count": n, "ticket_ids": ids[combo]} for combo, n in ordered]


def _counted(counter: Counter[str], name: str, limit: int | None = None) -> list[dict[str, Any]]:
    ordered = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{name: key, "count": n} for key, n in ordered[:limit]]


def is_consultation(ticket: Ticket, phrases: Sequence[str] = ()) -> bool:
    return CONSULTATION in ticket.category or any(p in ticket.summary for p in phrases)


def summary(tickets: Sequence[Ticket], start: float, end: float, rules: Sequence[TagRule] = (),
            disputes: Mapping[str, Disputes] | None = None, consult: Sequence[str] = ()) -> dict[str, Any]:
    """The period's summary (see the module's definitions)."""
    disputes = disputes or {}
    by_category: Counter[str] = Counter()
    by_division: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    by_day: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    callers: Counter[str] = Counter()
    questions: Counter[str] = Counter()
    examples: dict[str, tuple[float, str]] = {}
    disputed: dict[str, Counter[str]] = {}
    for t in tickets:
        by_category[t.category] += 1
        by_division[t.division_code] += 1
        by_channel[t.channel or "call"] += 1
        by_day[_local(t).strftime("%Y-%m-%d")] += 1
        tags.update(tags_of(t, rules))
        if t.caller:
            callers[t.caller] += 1
        if is_consultation(t, consult):
            questions[t.category] += 1
            at = indexed_at(t)
            # an example is quoted in packs that leave the centre (月交流): never a restricted
            # ticket's words, and no phone number in it
            if t.summary and not t.restricted and (t.category not in examples or at >= examples[t.category][0]):
                examples[t.category] = (at, mask_numbers_in_text(t.summary)[:EXAMPLE_CHARS])
        d = disputes.get(t.id)
        if d is not None and d.any:
            row = disputed.setdefault(t.category, Counter())
            row.update(bounced=min(d.bounced, 1), refused=min(d.refused, 1),
                       redispatched=min(d.redispatched, 1), total=1)
    repeat = sorted(((c, n) for c, n in callers.items() if n >= 2), key=lambda cn: (-cn[1], cn[0]))[:TOP]
    return {
        "from": start, "to": end, "total": len(tickets),
        "by_category": _counted(by_category, "category"),
        "by_division": _counted(by_division, "division_code"),
        "by_channel": _counted(by_channel, "channel"),
        "by_day": [{"day": day, "count": n} for day, n in sorted(by_day.items())],
        "tags": _counted(tags, "tag"),
        "repeat_callers": [{"caller": mask_number(c), "count": n} for c, n in repeat],
        "top_places": _counted(Counter({k: v for k, v in by_division.items() if k}), "division_code", TOP),
        "frequent_questions": [{**row, "example": examples.get(row["category"], (0.0, ""))[1]}
                               for row in _counted(questions, "category", TOP)],
        "disputed": [{"category": category, **{k: row[k] for k in ("bounced", "refused", "redispatched", "total")}}
                     for category, row in sorted(disputed.items(), key=lambda kv: (-kv[1]["total"], kv[0]))],
    }
