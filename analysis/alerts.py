"""Early warning (风险预警), pure: which keys run hot, and the alert state machine.

A surge: for each (category, division_code), the tickets of the last window against the
baseline, the mean count in the same clock window on each of the ``baseline_days`` days
before. Hot when count >= ``alert_min_count`` and count >= ``alert_ratio`` x baseline (a
baseline under ``alert_baseline_floor`` counts as the floor). A cue cluster: at least
``cue_min_count`` tickets of one division in the window whose summaries name the same
danger cue (the recommender's lexicon).

``step(state, observation) -> (state, actions)``, per watched key: quiet -> raised (one
``Raise``) when hot; raised stays raised while hot, and goes back to quiet only once it
has not been hot for a whole window (``Clear``); a new surge after that raises again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from tickets.store import Ticket

Kind = Literal["surge", "cue"]
MAX_IDS = 20


@dataclass(frozen=True)
class Rule:
    window_s: float = 3600.0
    baseline_days: int = 7
    min_count: int = 5
    ratio: float = 3.0
    baseline_floor: float = 0.5
    cue_min_count: int = 3


@dataclass(frozen=True)
class Watched:
    """A key the scanner watches and what it saw in the window."""

    kind: Kind
    category: str
    division_code: str
    cue: str
    count: int
    baseline: float
    ticket_ids: tuple[str, ...]
    hot: bool

    @property
    def key(self) -> str:
        return json.dumps([self.kind, self.category if self.kind == "surge" else "", self.division_code, self.cue],
                          ensure_ascii=False)


@dataclass(frozen=True)
class State:
    raised: bool = False
    since: float = 0.0  # when it was raised
    cool_since: float | None = None  # raised, but not hot since then
    alert_id: str = ""

    def dumps(self) -> str:
        return json.dumps({"raised": self.raised, "since": self.since, "cool_since": self.cool_since,
                           "alert_id": self.alert_id})

    @classmethod
    def loads(cls, raw: str) -> State:
        data = json.loads(raw)
        cool = data.get("cool_since")
        return cls(bool(data["raised"]), float(data["since"]), None if cool is None else float(cool),
                   str(data.get("alert_id", "")))


QUIET = State()


@dataclass(frozen=True)
class Raise:
    watched: Watched


@dataclass(frozen=True)
class Clear:
    alert_id: str


Action = Raise | Clear


def step(state: State, watched: Watched, now: float, window_s: float, alert_id: str) -> tuple[State, list[Action]]:
    """The key's next state and what to do (``alert_id``: the id a new alert gets)."""
    if not state.raised:
        if watched.hot:
            return State(True, now, None, alert_id), [Raise(watched)]
        return QUIET, []
    if watched.hot:
        return replace(state, cool_since=None), []
    if state.cool_since is None:
        return replace(state, cool_since=now), []
    if now - state.cool_since >= window_s:
        return QUIET, [Clear(state.alert_id)]
    return state, []


def surge_key(ticket: Ticket) -> tuple[str, str] | None:
    return (ticket.category, ticket.division_code) if ticket.category else None


def baseline(previous: Sequence[Iterable[Ticket]], days: int) -> dict[tuple[str, str], float]:
    """The mean count per (category, division) over the same window of each previous day
    (``previous``: those windows' tickets, one iterable per day; a day missing counts 0)."""
    total: Counter[tuple[str, str]] = Counter()
    for tickets in previous:
        total.update(k for k in map(surge_key, tickets) if k is not None)
    return {key: n / days for key, n in total.items()}


def surges(current: Sequence[Ticket], previous: Sequence[Iterable[Ticket]], rule: Rule) -> list[Watched]:
    """Every (category, division) seen in the window, hot or not."""
    means = baseline(previous, rule.baseline_days)
    ids: dict[tuple[str, str], list[str]] = {}
    for ticket in current:
        key = surge_key(ticket)
        if key is not None:
            ids.setdefault(key, []).append(ticket.id)
    out = []
    for (category, division), found in sorted(ids.items()):
        mean = means.get((category, division), 0.0)
        hot = len(found) >= rule.min_count and len(found) >= rule.ratio * max(mean, rule.baseline_floor)
        out.append(Watched("surge", category, division, "", len(found), round(mean, 3), tuple(found[:MAX_IDS]), hot))
    return out


def cues_in(text: str, cues: Iterable[str]) -> set[str]:
    """The cue words in ``text``, but for one inside a longer one found too (泄漏 in 燃气泄漏)."""
    found = {c for c in cues if c and c in text}
    return {c for c in found if not any(c != other and c in other for other in found)}


def cue_clusters(current: Sequence[Ticket], cues: Iterable[str], rule: Rule) -> list[Watched]:
    """Every (division, cue) named in the window, hot at ``cue_min_count`` tickets."""
    words = tuple(cues)
    by: dict[tuple[str, str], list[Ticket]] = {}
    for ticket in current:
        for cue in cues_in(ticket.summary, words):
            by.setdefault((ticket.division_code, cue), []).append(ticket)
    out = []
    for (division, cue), found in sorted(by.items()):
        category = Counter(t.category for t in found).most_common(1)[0][0]
        out.append(Watched("cue", category, division, cue, len(found), 0.0, tuple(t.id for t in found[:MAX_IDS]),
                           len(found) >= rule.cue_min_count))
    return out


def quiet_now(key: str) -> Watched:
    """A watched key not seen in the window at all."""
    kind, category, division, cue = json.loads(key)
    return Watched(kind, category, division, cue, 0, 0.0, (), False)


def alert_record(watched: Watched, *, alert_id: str, site: str, window_s: float, first_at: float,
                 raised_at: float) -> dict[str, Any]:
    return {"id": alert_id, "site": site, "kind": watched.kind, "category": watched.category,
            "division_code": watched.division_code, "count": watched.count, "baseline": watched.baseline,
            "window_s": window_s, "first_at": first_at, "raised_at": raised_at,
            "ticket_ids": list(watched.ticket_ids), "cue": watched.cue}


def detail(category: str, division: str, count: int, baseline: float, cue: str) -> str:
    """How the supervisor page lists an alert: 燃气泄漏 320602 ×6 (基线 0.4)."""
    head = cue or category
    return f"{head} {division} ×{count}" + ("" if cue else f" (基线 {baseline:g})")


def first_at(tickets: Mapping[str, float], ids: Iterable[str]) -> float:
    moments = [tickets[i] for i in ids if i in tickets]
    return min(moments) if moments else 0.0
