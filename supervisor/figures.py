"""The supervisor's figures, per site, from bus events and seat snapshots. Pure: no I/O,
no asyncio; the clock is passed in (``now``), never read.

``Dashboard.apply(event, now)`` takes one bus event, as its catalogued class, and returns
the history counters it adds (``Count``); ``set_seats`` takes a seat snapshot from the seat
pool; ``sample`` records one point of the time series; ``snapshot(now)`` is everything the
page shows.

Definitions (the README's "Supervisor dashboard" section repeats them):

* **logged in**: a seat in any state but ``offline`` (``paused`` counts: the agent is there).
* **occupancy**: seats ``ringing``, ``talking`` or in ``wrap_up`` over seats logged in;
  ``None`` when no seat is logged in.
* **offered**: a call the site's route hook saw (``call.routed``) or that joined its
  queue (``queue.joined``). Its outcome is *answered* (``call.answered``) or *lost*
  (``call.ended`` unanswered).
* **answer rate** (接通率): answered / (answered + lost) over calls whose outcome fell in
  the last hour; calls still waiting are not counted yet. ``None`` with no outcome.
* **service level**: calls answered within ``service_level_s`` of arriving (the wait
  ``call.answered`` reports) over the same denominator.
* **overflowed**: ``queue.left`` with outcome ``remote`` in the last hour.
* **transfers / three-way calls each way**: distinct transfers (``transfer.*``) and rooms
  (``conference.*``) begun in the last hour, keyed ``source->target``; the source of a
  transfer is the site of the agent who asked for it. ``answered`` / ``joined`` count
  those the other platform picked up.
* **callbacks** (回电, ``callback.step``): ``callbacks_pending``, the site's requests waiting
  or under way after the latest step this instance saw; in the last hour, requests
  ``done`` (the citizen answered) and ``failed`` (every attempt unanswered), missed-call
  callbacks ``made`` (an agent took one and the citizen was dialled: once per request) and
  ``skipped`` because the number called again and was answered; ``callbacks_last_step_at``,
  when this instance last saw a step of the site's callbacks (the page then reads the
  open requests anew, ``GET /api/callbacks``).
* **the exchange link** (交互通道, two deployments): its state as this server instance sees
  it (``exchange.link`` on the bus, and the exchange service's view, ``set_exchange``), the
  messages waiting each way, the age of the oldest one, stopped queues, dead letters, and
  the last alert about the channel. ``off`` with one deployment for both platforms.

Memory is bounded: the rolling window keeps at most ``max_happenings`` entries, and each
table of calls in progress at most ``max_tracked`` (the oldest are dropped first).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hotline_link.core.events import (
    CATALOG,
    AnalysisAlert,
    CallAnswered,
    CallbackStep,
    CallEnded,
    CallRouted,
    ConferenceEvent,
    ConferenceJoined,
    Event,
    ExchangeAlert,
    ExchangeLinkChanged,
    IvrChoice,
    IvrEntered,
    IvrLeft,
    LinkageLeadershipNotified,
    LinkagePoliceRequested,
    LinkageRefused,
    LinkageSupervisorAlert,
    OverflowChanged,
    PushDead,
    QueueJoined,
    QueueLeft,
    SeatChanged,
    TicketIntakeAlert,
    TransferStateEvent,
)
from seat_pool.selection import SeatView
from seat_pool.state import SeatState

CORE_DIRECTIONS = ("12345->110", "110->12345")
MAX_ALERTS = 50  # the latest alerts the page lists
OCCUPIED = frozenset({SeatState.RINGING, SeatState.TALKING, SeatState.WRAP_UP})
# the exchange service's view (ExchangeService.view) as the page takes it, and its defaults:
# the channel off until the exchange plugin says otherwise
EXCHANGE_OFF: dict[str, Any] = {
    "enabled": False, "reason": "", "platform": None, "peer_platform": None, "state": "off", "since": None,
    "error": "", "waiting": 0, "waiting_by_direction": {}, "oldest_at": None, "stopped_count": 0, "dead_count": 0}


@dataclass(frozen=True)
class Count:
    """One history counter to add: ``field`` of ``site`` in the hour of ``at``.
    ``once`` names the thing counted, so that several server instances seeing the same
    event add it once (the edge keeps a short-lived marker per ``once``)."""

    site: str
    field: str
    at: float
    amount: float = 1
    once: str = ""


@dataclass(frozen=True)
class _Happening:
    at: float
    site: str
    kind: str  # answered | lost | overflowed | transfer | transfer_answered | conference | conference_joined
    key: str = ""  # a direction for transfers and conferences
    value: float = 0.0  # the wait of an answered call


def _put(table: OrderedDict[str, Any], key: str, value: Any, limit: int) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > limit:
        table.popitem(last=False)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _state(value: Any) -> SeatState | None:
    try:
        return SeatState(value)
    except ValueError:
        return None


class Dashboard:
    def __init__(self, sites: Iterable[str], agent_sites: Mapping[str, str], *,
                 window_s: float = 3600.0, service_level_s: float = 20.0,
                 sample_every_s: float = 10.0, max_tracked: int = 10_000,
                 max_happenings: int = 200_000) -> None:
        if window_s <= 0 or sample_every_s <= 0 or service_level_s < 0:
            raise ValueError("window_s and sample_every_s must be above 0, service_level_s not negative")
        self.sites = tuple(sites)
        self.window_s = window_s
        self.service_level_s = service_level_s
        self.sample_every_s = sample_every_s
        self._agent_sites = dict(agent_sites)
        self._limit = max_tracked
        self._seats: dict[str, dict[str, tuple[SeatState, float]]] = {s: {} for s in self.sites}
        self._waiting: dict[str, OrderedDict[str, tuple[float, bool]]] = {s: OrderedDict() for s in self.sites}
        self._ivr: dict[str, OrderedDict[str, float]] = {s: OrderedDict() for s in self.sites}
        self._overflow: dict[str, tuple[bool, float, float | None]] = {s: (False, 0.0, None) for s in self.sites}
        self._offered: OrderedDict[str, str] = OrderedDict()  # call_id -> site, awaiting an outcome
        self._transfers: OrderedDict[str, tuple[str, bool]] = OrderedDict()  # id -> (direction, answered)
        self._rooms: OrderedDict[str, tuple[str, bool]] = OrderedDict()  # room -> (direction, joined)
        self._happenings: deque[_Happening] = deque(maxlen=max_happenings)
        self._alerts: deque[dict[str, Any]] = deque(maxlen=MAX_ALERTS)
        self._exchange: dict[str, Any] = dict(EXCHANGE_OFF)
        self._exchange_alert: dict[str, Any] | None = None  # the last alert about the channel
        points = math.ceil(window_s / sample_every_s) + 1
        self._series: dict[str, deque[tuple[float, int, float | None]]] = {
            s: deque(maxlen=points) for s in self.sites}
        self._last_sample: float | None = None
        self._callbacks_pending: dict[str, int] = dict.fromkeys(self.sites, 0)
        self._callbacks_step_at: dict[str, float | None] = dict.fromkeys(self.sites)
        # a closed-loop alert listed in its own words (a refusal, the leadership told) whose
        # generic linkage.supervisor_alert, published right after it, is not listed again
        self._said: tuple[str, str, str, float] | None = None

    # --- input -----------------------------------------------------------------------

    def set_seats(self, site: str, views: Iterable[SeatView]) -> bool:
        """Replace a site's seats with a snapshot from the seat pool; True if anything
        (a state or when it began) differs from what was shown."""
        if site not in self._seats:
            return False
        fresh = {v.seat: (v.state, v.since) for v in views}
        changed = fresh != self._seats[site]
        self._seats[site] = fresh
        return changed

    def set_exchange(self, view: Mapping[str, Any]) -> bool:
        """The exchange link and backlog as the exchange service last saw them (its
        ``view``); True if anything the page shows differs."""
        fresh = {key: view.get(key, default) for key, default in EXCHANGE_OFF.items()}
        changed = fresh != self._exchange
        self._exchange = fresh
        return changed

    def apply(self, event: Event, now: float) -> list[Count]:
        """Take one bus event; return the history counters it adds (often none)."""
        self._prune(now)
        handler = HANDLERS.get(type(event))
        if handler is None:
            return []
        return handler(self, event, now)

    def sample(self, now: float) -> bool:
        """Record one point (waiting calls, occupancy) per site if ``sample_every_s`` has
        passed since the last one."""
        if self._last_sample is not None and now - self._last_sample < self.sample_every_s:
            return False
        self._last_sample = now
        for site in self.sites:
            self._series[site].append((now, len(self._waiting[site]), self._occupancy(site)[2]))
        return True

    # --- output ----------------------------------------------------------------------

    def snapshot(self, now: float) -> dict[str, Any]:
        self._prune(now)
        per_site = {site: self._site_figures(site, now) for site in self.sites}
        for h in self._happenings:
            figures = per_site.get(h.site)
            if figures is None:
                continue
            if h.kind == "answered":
                figures["answered_last_hour"] += 1
                figures["answered_within_sl_last_hour"] += h.value <= self.service_level_s
            elif h.kind == "lost":
                figures["lost_last_hour"] += 1
            elif h.kind == "overflowed":
                figures["overflowed_last_hour"] += 1
            elif h.kind in CALLBACK_HAPPENINGS:
                figures[CALLBACK_HAPPENINGS[h.kind]] += 1
        for figures in per_site.values():
            outcomes = figures["answered_last_hour"] + figures["lost_last_hour"]
            figures["offered_last_hour"] = outcomes
            figures["answer_rate"] = _ratio(figures["answered_last_hour"], outcomes)
            figures["service_level"] = _ratio(figures["answered_within_sl_last_hour"], outcomes)
        # site_order: JSON objects keep key order, but JavaScript lists integer-like keys
        # ("110" before "12345") first, so the page takes the order from here
        return {"now": now, "window_s": self.window_s, "service_level_s": self.service_level_s,
                "site_order": list(self.sites), "sites": per_site,
                "transfers": self._directions("transfer", "answered"),
                "conferences": self._directions("conference", "joined"),
                "alerts": [a for a in self._alerts if a["at"] >= now - self.window_s],
                "exchange": self._exchange_panel(now)}

    def _exchange_panel(self, now: float) -> dict[str, Any]:
        panel = {key: value for key, value in self._exchange.items() if key != "oldest_at"}
        oldest_at = self._exchange["oldest_at"]
        panel["oldest_waiting_s"] = round(max(0.0, now - oldest_at), 1) if isinstance(oldest_at, (int, float)) \
            else None
        panel["last_alert"] = self._exchange_alert
        return panel

    def _site_figures(self, site: str, now: float) -> dict[str, Any]:
        seats: list[dict[str, Any]] = [{"seat": seat, "state": state.value, "since": since,
                                        "in_state_s": round(max(0.0, now - since), 1)}
                                       for seat, (state, since) in sorted(self._seats[site].items())]
        counts = {state.value: 0 for state in SeatState}
        for seat in seats:
            counts[seat["state"]] += 1
        logged_in, occupied, occupancy = self._occupancy(site)
        waiting = self._waiting[site]
        active, estimated, since = self._overflow[site]
        cutoff = now - self.window_s
        return {
            "seats": seats, "seat_counts": counts, "logged_in": logged_in, "occupied": occupied,
            "occupancy": occupancy, "waiting": len(waiting),
            "waiting_emergency": sum(1 for _, emergency in waiting.values() if emergency),
            "longest_wait_s": round(max((now - at for at, _ in waiting.values()), default=0.0), 1),
            "overflow": {"active": active, "estimated_wait_s": estimated, "since": since},
            "ivr_in_progress": len(self._ivr[site]),
            "answered_last_hour": 0, "answered_within_sl_last_hour": 0, "lost_last_hour": 0,
            "overflowed_last_hour": 0,
            "series": [[t, w, o] for t, w, o in self._series[site] if t >= cutoff],
            **self._callback_figures(site),
        }

    def _callback_figures(self, site: str) -> dict[str, Any]:
        """The callback queue's figures of a site (the last hour's filled in by ``snapshot``)."""
        return {"callbacks_pending": self._callbacks_pending[site],
                "callbacks_last_step_at": self._callbacks_step_at[site],
                **dict.fromkeys(CALLBACK_HAPPENINGS.values(), 0)}

    def _occupancy(self, site: str) -> tuple[int, int, float | None]:
        states = [state for state, _ in self._seats[site].values()]
        logged_in = sum(1 for s in states if s is not SeatState.OFFLINE)
        occupied = sum(1 for s in states if s in OCCUPIED)
        return logged_in, occupied, _ratio(occupied, logged_in)

    def _directions(self, begun: str, done: str) -> dict[str, dict[str, int]]:
        out = {d: {"started": 0, done: 0} for d in CORE_DIRECTIONS}
        for h in self._happenings:
            if h.kind == begun:
                out.setdefault(h.key, {"started": 0, done: 0})["started"] += 1
            elif h.kind == f"{begun}_{done}":
                out.setdefault(h.key, {"started": 0, done: 0})[done] += 1
        return out

    # --- helpers for the handlers ------------------------------------------------------

    def _prune(self, now: float) -> None:
        cutoff = now - self.window_s
        while self._happenings and self._happenings[0].at < cutoff:
            self._happenings.popleft()

    def _happen(self, at: float, site: str, kind: str, key: str = "", value: float = 0.0) -> None:
        self._happenings.append(_Happening(at, site, kind, key, value))

    def _offer(self, call_id: str, site: str, now: float) -> list[Count]:
        if call_id in self._offered or site not in self._seats:
            return []
        _put(self._offered, call_id, site, self._limit)
        return [Count(site, "offered", now, once=f"offered:{call_id}")]

    def _forget_call(self, call_id: str) -> None:
        for site in self.sites:
            self._waiting[site].pop(call_id, None)
            self._ivr[site].pop(call_id, None)


# --- one handler per event ---------------------------------------------------------------

# each takes its own event class; the values are checked as before (a bad producer's odd
# value must not break the figures)
Handler = Callable[[Dashboard, Any, float], list[Count]]


def _on_routed(d: Dashboard, routed: CallRouted, now: float) -> list[Count]:
    return d._offer(str(routed.call_id), str(routed.site), now)


def _on_queue_joined(d: Dashboard, joined: QueueJoined, now: float) -> list[Count]:
    call_id, site = str(joined.call_id), str(joined.site)
    if site not in d._waiting or not call_id:
        return []
    _put(d._waiting[site], call_id, (now, bool(joined.emergency)), d._limit)
    return d._offer(call_id, site, now)


def _on_queue_left(d: Dashboard, left: QueueLeft, now: float) -> list[Count]:
    call_id, site = str(left.call_id), str(left.site)
    if site not in d._waiting:
        return []
    d._waiting[site].pop(call_id, None)
    if left.outcome != "remote":
        return []
    d._happen(now, site, "overflowed")
    return [Count(site, "overflowed", now, once=f"overflowed:{call_id}")]


def _on_overflow(d: Dashboard, changed: OverflowChanged, now: float) -> list[Count]:
    site = str(changed.site)
    if site not in d._overflow:
        return []
    active = bool(changed.active)
    was_active, _, since = d._overflow[site]
    wait = changed.estimated_wait_s
    wait = round(float(wait), 1) if isinstance(wait, (int, float)) and math.isfinite(wait) else 0.0
    d._overflow[site] = (active, wait, since if active == was_active and since is not None else now)
    return [Count(site, "surges", now, once=f"surge:{site}:{int(now)}")] if active and not was_active else []


def _on_ivr(d: Dashboard, ivr: IvrEntered | IvrChoice | IvrLeft, now: float) -> list[Count]:
    call_id, site = str(ivr.call_id), str(ivr.site)
    if site not in d._ivr or not call_id:
        return []
    if isinstance(ivr, IvrLeft):
        d._ivr[site].pop(call_id, None)
        return []
    if isinstance(ivr, IvrEntered) and call_id not in d._ivr[site]:
        _put(d._ivr[site], call_id, now, d._limit)
        return [Count(site, "ivr_entered", now, once=f"ivr:{call_id}")]
    return []


def _on_answered(d: Dashboard, answered: CallAnswered, now: float) -> list[Count]:
    call_id = str(answered.call_id)
    site = d._offered.pop(call_id, None)
    d._forget_call(call_id)
    if site is None:
        return []
    raw = answered.wait_s
    # a wait that is no number, or negative (a bad event), is unknown: not within the
    # service level and not summed
    wait = float(raw) if isinstance(raw, (int, float)) and math.isfinite(raw) and raw >= 0 else math.inf
    d._happen(now, site, "answered", value=wait)
    counts = [Count(site, "answered", now, once=f"answered:{call_id}")]
    if wait <= d.service_level_s:
        counts.append(Count(site, "answered_within_sl", now, once=f"sl:{call_id}"))
    if math.isfinite(wait):
        counts.append(Count(site, "wait_s_sum", now, amount=round(wait, 3), once=f"wait:{call_id}"))
    return counts


def _on_ended(d: Dashboard, ended: CallEnded, now: float) -> list[Count]:
    call_id = str(ended.call_id)
    d._forget_call(call_id)
    site = d._offered.pop(call_id, None)
    if site is None:
        return []
    d._happen(now, site, "lost")
    return [Count(site, "lost", now, once=f"lost:{call_id}")]


def _on_seat(d: Dashboard, changed: SeatChanged, now: float) -> list[Count]:
    site, seat, state = str(changed.site), str(changed.seat), _state(changed.new)
    if site in d._seats and seat and state is not None:
        d._seats[site][seat] = (state, now)
    return []


def _on_transfer(d: Dashboard, transfer: TransferStateEvent, now: float) -> list[Count]:
    transfer_id, target = str(transfer.transfer_id), str(transfer.target)
    source = d._agent_sites.get(str(transfer.agent))
    if not transfer_id or source is None:
        return []
    direction = f"{source}->{target}"
    counts = []
    seen = d._transfers.get(transfer_id)
    if seen is None:
        d._happen(now, source, "transfer", direction)
        counts.append(Count(source, f"transfers_to_{target}", now, once=f"xfer:{transfer_id}"))
        seen = (direction, False)
    if transfer.state == "answered" and not seen[1]:
        d._happen(now, source, "transfer_answered", direction)
        counts.append(Count(source, f"transfers_answered_to_{target}", now, once=f"xfer-ok:{transfer_id}"))
        seen = (direction, True)
    _put(d._transfers, transfer_id, seen, d._limit)
    return counts


def _on_conference(d: Dashboard, conference: ConferenceEvent, now: float) -> list[Count]:
    room, site, target = str(conference.room), str(conference.site), str(conference.target)
    if not room or site not in d._seats:
        return []
    direction = f"{site}->{target}"
    counts = []
    seen = d._rooms.get(room)
    if seen is None:
        d._happen(now, site, "conference", direction)
        counts.append(Count(site, f"conferences_to_{target}", now, once=f"conf:{room}"))
        seen = (direction, False)
    if isinstance(conference, ConferenceJoined) and conference.party == target and not seen[1]:
        d._happen(now, site, "conference_joined", direction)
        counts.append(Count(site, f"conferences_joined_to_{target}", now, once=f"conf-ok:{room}"))
        seen = (direction, True)
    _put(d._rooms, room, seen, d._limit)
    return counts


LinkageAlert = LinkageSupervisorAlert | LinkageRefused | LinkagePoliceRequested | LinkageLeadershipNotified
SAID_WINDOW_S = 5.0  # a generic supervisor alert this soon after its specific one is the same news


def _linkage_detail(alert: LinkageAlert) -> str:
    if isinstance(alert, LinkageRefused):
        parts = [alert.ticket_id, alert.unit, "" if alert.role == "lead" else alert.role, alert.reason]
    elif isinstance(alert, LinkagePoliceRequested):
        parts = [alert.ticket_id, alert.unit, alert.note]
    elif isinstance(alert, LinkageLeadershipNotified):
        contacts = alert.contacts if isinstance(alert.contacts, list) else []
        parts = [alert.ticket_id, alert.unit, "、".join(str(c)[:40] for c in contacts[:10])]
    else:
        parts = [alert.ticket_id, alert.unit, alert.reason]
    return " ".join(str(v)[:80] for v in parts if v)


def _analysis_detail(alert: AnalysisAlert) -> str:
    """燃气泄漏 320602 ×6, or 供水 320602 ×12 (基线 0.4) for a surge."""
    count = alert.count if isinstance(alert.count, int) else 0
    baseline = alert.baseline if isinstance(alert.baseline, (int, float)) and math.isfinite(alert.baseline) else 0.0
    head = str(alert.cue)[:40] or str(alert.category)[:80]
    text = f"{head} {str(alert.division_code)[:12]} ×{count}".replace("  ", " ")
    return text if alert.kind == "cue" else f"{text} (基线 {round(baseline, 2):g})"


def _on_alert(d: Dashboard, alert: PushDead | LinkageAlert | ExchangeAlert | TicketIntakeAlert | AnalysisAlert,
              now: float) -> list[Count]:
    """Something a supervisor must act on or know at once: a push or a unit's webhook that
    will never be delivered (``push.dead``), a closed-loop step that needs a person
    (``linkage.supervisor_alert``), a unit that refused a case (``linkage.refused``: dispatch
    it anew), a unit that asked for the police (``linkage.police_requested``, 联动110), a major
    ticket whose leadership was told (``linkage.leadership_notified``), the exchange channel's
    refusals and the other platform's 督办 (``exchange.alert``), a report from the web, SMS or
    an app with danger to life in it (``ticket.intake_alert``), a surge of tickets or a
    cluster of danger cues in one place (``analysis.alert``, 风险预警).

    A refusal and a leadership notice are followed by a ``linkage.supervisor_alert`` saying
    the same: that one is not listed a second time."""
    said, d._said = d._said, None
    if isinstance(alert, PushDead):
        detail, site = f"{str(alert.push_id)[:80]}: {str(alert.reason)[:160]}", ""
    elif isinstance(alert, TicketIntakeAlert):
        detail = " ".join(str(v)[:80] for v in (alert.ticket_id, alert.channel, alert.source, alert.reason) if v)
        site = str(alert.site)
    elif isinstance(alert, AnalysisAlert):
        detail, site = _analysis_detail(alert), str(alert.site)
    elif isinstance(alert, ExchangeAlert):
        detail = " ".join(str(v)[:160] for v in (alert.ticket_id, alert.peer_platform, alert.reason, alert.detail)
                          if v)
        site = str(alert.site)
        d._exchange_alert = {"at": now, "kind": alert.NAME, "detail": detail}
    else:
        site, key = str(alert.site), (str(alert.ticket_id), str(alert.unit), str(alert.site))
        if isinstance(alert, LinkageSupervisorAlert) and said is not None and said[:3] == key \
                and now - said[3] <= SAID_WINDOW_S:
            return []
        if isinstance(alert, (LinkageRefused, LinkageLeadershipNotified)):
            d._said = (*key, now)
        detail = _linkage_detail(alert)
    d._alerts.append({"at": now, "kind": alert.NAME, "site": site, "detail": detail})
    return []


def _on_link(d: Dashboard, changed: ExchangeLinkChanged, now: float) -> list[Count]:
    """The exchange link changed state: shown at once (the service's view follows), and
    listed with the alerts but for the first word of a link that starts up."""
    state, previous, error = str(changed.state)[:16], str(changed.previous)[:16], str(changed.error)[:300]
    since = changed.since if isinstance(changed.since, (int, float)) and math.isfinite(changed.since) else now
    d._exchange.update(enabled=True, platform=str(changed.site), peer_platform=str(changed.peer_platform),
                       state=state, since=since, error=error)
    if previous == "unknown" and state == "up":
        return []
    detail = f"{previous} → {state}" + (f": {error}" if error else "")
    d._said = None
    d._alerts.append({"at": now, "kind": changed.NAME, "site": str(changed.site), "detail": detail})
    d._exchange_alert = {"at": now, "kind": changed.NAME, "detail": detail}
    return []


# a callback step's happening kind -> the site figure counting it over the last hour
CALLBACK_HAPPENINGS = {"callback_done": "callbacks_done_last_hour", "callback_failed": "callbacks_failed_last_hour",
                       "missed_callback_made": "missed_callbacks_made_last_hour",
                       "missed_callback_skipped": "missed_callbacks_skipped_answered_last_hour"}


def callback_happening(step: CallbackStep) -> str | None:
    """What a callback step counts for (``CALLBACK_HAPPENINGS``), if anything. Pure."""
    if step.step == "connected":
        return "callback_done"
    if step.step == "failed":
        return "callback_failed"
    if step.source == "missed" and step.step == "agent_answered" and step.attempt == 1:
        return "missed_callback_made"
    if step.source == "missed" and step.step == "skipped" and step.reason == "answered":
        return "missed_callback_skipped"
    return None


def _on_callback(d: Dashboard, step: CallbackStep, now: float) -> list[Count]:
    site = str(step.site)
    if site not in d._callbacks_pending:
        return []
    d._callbacks_step_at[site] = now
    if isinstance(step.pending, int) and step.pending >= 0:
        d._callbacks_pending[site] = step.pending
    kind = callback_happening(step)
    if kind is None:
        return []
    d._happen(now, site, kind)
    field = CALLBACK_HAPPENINGS[kind].removesuffix("_last_hour")
    return [Count(site, field, now, once=f"{kind}:{step.request_id}:{step.attempt}")]


HANDLERS: dict[type[Event], Handler] = {
    CallbackStep: _on_callback,
    PushDead: _on_alert,
    LinkageSupervisorAlert: _on_alert,
    LinkageRefused: _on_alert,
    LinkagePoliceRequested: _on_alert,
    LinkageLeadershipNotified: _on_alert,
    ExchangeAlert: _on_alert,
    TicketIntakeAlert: _on_alert,
    AnalysisAlert: _on_alert,
    ExchangeLinkChanged: _on_link,
    CallRouted: _on_routed,
    QueueJoined: _on_queue_joined,
    QueueLeft: _on_queue_left,
    OverflowChanged: _on_overflow,
    IvrEntered: _on_ivr,
    IvrChoice: _on_ivr,
    IvrLeft: _on_ivr,
    CallAnswered: _on_answered,
    CallEnded: _on_ended,
    SeatChanged: _on_seat,
    **{kind: _on_transfer for kind in CATALOG if issubclass(kind, TransferStateEvent)},
    **{kind: _on_conference for kind in CATALOG if issubclass(kind, ConferenceEvent)},
}
