"""The analysis service: the edge around the pure ``figures``, ``alerts`` and ``report``.

It reads a platform's tickets of a range from the tickets' time index (then the tickets in
batches), hears the bus for disputes (bounces, refusals, dispatches: its own hash per
ticket) and for new or changed tickets (a scan soon after, debounced), and, while it holds
the deployment's leader lease, scans for alerts every ``alert_scan_s`` and writes each
ended period's report pack once. At start it puts tickets saved before the time index
existed into it, once per deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from analysis import alerts as rules
from analysis import figures, report
from analysis.alerts import QUIET, Clear, Raise, Rule, State
from analysis.config import AnalysisConfig
from analysis.errors import NoSuchReport
from analysis.store import AnalysisStore
from hotline_link.core.bus import BusEvent, BusWorker, EventBus
from hotline_link.core.events import (
    AnalysisAlert,
    LinkageDispatched,
    LinkageRefused,
    TicketOpened,
    TicketPushedIn,
    TicketReceived,
    TicketUpdated,
)
from hotline_link.core.tasks import cancel_and_wait
from hotline_link.core.zone import HOTLINE_ZONE
from tickets.store import Ticket, TicketStore, indexed_at

log = structlog.get_logger(__name__)

BATCH = 500  # tickets read per round trip
DEBOUNCE_S = 2.0  # a scan this soon after a ticket opened or changed (more changes meanwhile: one scan)
DAY_S = 86400.0
Clock = Callable[[], float]
_KICKS = (TicketOpened, TicketUpdated, TicketReceived, TicketPushedIn)


def rule_of(config: AnalysisConfig) -> Rule:
    return Rule(window_s=config.alert_window_s, baseline_days=config.baseline_days,
                min_count=config.alert_min_count, ratio=config.alert_ratio,
                baseline_floor=config.alert_baseline_floor, cue_min_count=config.cue_min_count)


class AnalysisService:
    def __init__(self, redis: Redis, bus: EventBus, tickets: TicketStore, *, config: AnalysisConfig,
                 platforms: Sequence[str], reports_dir: Path, cues: Sequence[str], clock: Clock = time.time,
                 instance: str = "", debounce_s: float = DEBOUNCE_S, consult: Sequence[str] = ()) -> None:
        self.bus = bus
        self.tickets = tickets
        self.config = config
        self.rule = rule_of(config)
        self.platforms = tuple(sorted(platforms))
        self.reports_dir = reports_dir
        self.cues = tuple(cues)
        self.consult = tuple(consult)  # the recommender's consultation phrases (高频咨询)
        self.clock = clock
        self.store = AnalysisStore(redis)
        self.instance = instance or uuid.uuid4().hex
        self.debounce_s = debounce_s
        self._kick = asyncio.Event()
        self._events = BusWorker(bus, "analysis.bus", lambda e: any(e.is_(k) for k in (*_KICKS, LinkageRefused,
                                                                                           LinkageDispatched)),
                                 self._on_bus)
        self._tasks: list[asyncio.Task[Any]] = []

    # --- reading tickets --------------------------------------------------------------

    async def tickets_between(self, start: float, end: float, sites: Sequence[str] | None = None) -> list[Ticket]:
        """The platforms' own tickets that came in within [start, end), oldest first."""
        found: list[Ticket] = []
        for site in sites or self.platforms:
            ids = await self.tickets.ids_between(site, start, end)
            for i in range(0, len(ids), BATCH):
                batch = ids[i:i + BATCH]
                got = await self.tickets.get_many(batch)
                found += [got[t] for t in batch if t in got and got[t].site == site]
        return found

    async def hotspots(self, start: float, end: float, by: Sequence[str]) -> tuple[int, list[dict[str, Any]]]:
        """(the tickets of the range, their groups by ``by``)."""
        found = await self.tickets_between(start, end)
        # counting a long range is CPU work: off the event loop, which serves calls
        return len(found), await asyncio.to_thread(figures.hotspots, found, by, self.config.tag_rules)

    async def summary(self, start: float, end: float, sites: Sequence[str] | None = None) -> dict[str, Any]:
        found = await self.tickets_between(start, end, sites)
        disputes = {}
        for i in range(0, len(found), BATCH):
            disputes.update(await self.store.disputes([t.id for t in found[i:i + BATCH]]))
        return await asyncio.to_thread(figures.summary, found, start, end, self.config.tag_rules, disputes,
                                       self.consult)

    async def alerts(self, since: float) -> list[dict[str, Any]]:
        return await self.store.alerts(since)

    # --- the bus ----------------------------------------------------------------------

    async def _on_bus(self, event: BusEvent) -> None:
        if event.is_(TicketPushedIn):
            pushed = event.as_(TicketPushedIn)
            if pushed.bounced:
                await self.store.note_dispute(pushed.ticket_id, "bounced")
        elif event.is_(LinkageRefused):
            await self.store.note_dispute(event.as_(LinkageRefused).ticket_id, "refused")
        elif event.is_(LinkageDispatched):
            dispatched = event.as_(LinkageDispatched)
            if dispatched.role == "lead":
                await self.store.note_dispute(dispatched.ticket_id, "lead_dispatches")
        if any(event.is_(k) for k in _KICKS):
            self._kick.set()

    # --- early warning ----------------------------------------------------------------

    async def scan(self, now: float | None = None) -> list[dict[str, Any]]:
        """One scan of every platform: the alerts it raised."""
        now = self.clock() if now is None else now
        raised = []
        for site in self.platforms:
            raised += await self._scan_site(site, now)
        return raised

    async def _scan_site(self, site: str, now: float) -> list[dict[str, Any]]:
        window = self.rule.window_s
        current = await self.tickets_between(now - window, now, [site])
        previous = [await self.tickets_between(now - d * DAY_S - window, now - d * DAY_S, [site])
                    for d in range(1, self.rule.baseline_days + 1)]
        watched = {w.key: w for w in (*rules.surges(current, previous, self.rule),
                                      *rules.cue_clusters(current, self.cues, self.rule))}
        states = await self.store.states(site)
        for key in states:
            watched.setdefault(key, rules.quiet_now(key))
        changed: dict[str, State] = {}
        quiet: list[str] = []
        to_raise: list[tuple[str, rules.Watched]] = []
        for key, w in watched.items():
            before = states.get(key, QUIET)
            alert_id = f"al-{uuid.uuid4().hex[:20]}"
            after, actions = rules.step(before, w, now, window, alert_id)
            if after != before:
                if after.raised:
                    changed[key] = after
                elif key in states:
                    quiet.append(key)
            for action in actions:
                if isinstance(action, Raise):
                    to_raise.append((alert_id, action.watched))
                elif isinstance(action, Clear):
                    log.info("analysis.alert_cleared", site=site, alert_id=action.alert_id)
        moments = {t.id: indexed_at(t) for t in current}
        records = [(rules.alert_record(w, alert_id=alert_id, site=site, window_s=window,
                                       first_at=rules.first_at(moments, w.ticket_ids), raised_at=now), w)
                   for alert_id, w in to_raise]
        # states and alerts in one transaction: never raised twice, never marked raised and lost
        await self.store.save_states(site, changed, quiet, [r for r, _ in records], now)
        out = []
        for record, w in records:
            alert_id = record["id"]
            self.bus.emit(AnalysisAlert(id=alert_id, site=site, kind=w.kind, category=w.category,
                                        division_code=w.division_code, count=w.count, baseline=w.baseline,
                                        window_s=window, first_at=record["first_at"],
                                        ticket_ids=list(w.ticket_ids), cue=w.cue))
            log.info("analysis.alert", site=site, alert_id=alert_id, kind=w.kind, count=w.count,
                     baseline=w.baseline, division_code=w.division_code)
            out.append(record)
        return out

    # --- report packs -----------------------------------------------------------------

    async def write_reports(self, now: float | None = None) -> list[str]:
        """Each ended period's pack of each platform, written once: the names written."""
        now = self.clock() if now is None else now
        written = []
        for kind, period, start, end in report.ended_periods(now, HOTLINE_ZONE):
            for site in self.platforms:
                name = report.pack_name(site, kind, period)
                if all((self.reports_dir / f"{name}.{f}").exists() for f in report.FORMATS):
                    continue
                if not await self.store.claim_report(name, self.instance):
                    continue
                try:
                    summary = await self.summary(start, end, [site])
                    files = await asyncio.to_thread(report.render, summary, site, kind, period)
                    await asyncio.to_thread(self._write, name, files)
                except BaseException as exc:  # a bug or a stop mid-way: the next leader writes it
                    with contextlib.suppress(RedisError, OSError):
                        await self.store.release_report(name)
                    if not isinstance(exc, (OSError, RedisError)):
                        raise
                    log.warning("analysis.report_failed", report=name, error=str(exc)[:200])
                    continue
                log.info("analysis.report_written", report=name)
                written.append(name)
        return written

    def _write(self, name: str, files: dict[str, str]) -> None:
        self.reports_dir.mkdir(parents=True, exist_ok=True)
        for fmt, text in files.items():
            path = self.reports_dir / f"{name}.{fmt}"
            partial = path.with_name(f".{path.name}.partial")
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, path)

    def list_reports(self) -> list[dict[str, Any]]:
        """The packs in the reports directory, newest period first."""
        packs: dict[tuple[str, str, str], dict[str, Any]] = {}
        if not self.reports_dir.is_dir():
            return []
        for path in self.reports_dir.iterdir():
            parsed = report.parse_name(path.name)
            if parsed is None or not path.is_file():
                continue
            platform, kind, period, fmt = parsed
            pack = packs.setdefault((platform, kind, period), {
                "name": report.pack_name(platform, kind, period), "platform": platform, "kind": kind,
                "period": period, "formats": [], "written_at": 0.0})
            pack["formats"].append(fmt)
            pack["written_at"] = max(pack["written_at"], path.stat().st_mtime)
        for pack in packs.values():
            pack["formats"].sort(key=report.FORMATS.index)
        return sorted(packs.values(), reverse=True, key=lambda p: (
            report.period_start(p["period"]), -report.KINDS.index(p["kind"]), p["platform"]))

    def report_file(self, name: str) -> tuple[Path, str]:
        """The file of a pack's format by its name, and its format; NoSuchReport else."""
        parsed = report.parse_name(name)
        path = self.reports_dir / name
        if parsed is None or not path.is_file():
            raise NoSuchReport(f"no report {name[:80]!r}")
        return path, parsed[3]

    # --- background -------------------------------------------------------------------

    async def backfill(self) -> None:
        """Once per deployment: tickets saved before the time index was written, indexed."""
        try:
            if await self.store.backfilled():
                return
            read = await self.tickets.index_existing(BATCH)
            await self.store.mark_backfilled(self.clock())
            log.info("analysis.time_index_backfilled", tickets=read)
        except (RedisError, OSError) as exc:
            log.warning("analysis.backfill_failed", error=str(exc)[:200])
        except Exception:
            log.exception("analysis.backfill_bug")

    async def tick(self) -> None:
        """One turn of the leader's work: scan, and write any pack due."""
        lease_ms = int(max(10.0, 3 * self.config.alert_scan_s) * 1000)
        if not await self.store.lead(self.instance, lease_ms):
            return
        await self.scan()
        if await self.store.backfilled():  # a pack written from half an index would stay wrong
            await self.write_reports()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except RedisError as exc:
                log.warning("analysis.scan_failed", error=str(exc)[:200])
            except Exception:
                log.exception("analysis.scan_bug")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.config.alert_scan_s)
            if self._kick.is_set():
                await asyncio.sleep(self.debounce_s)
                self._kick.clear()

    def start(self) -> None:
        self._events.start()
        self._tasks = [asyncio.create_task(self.backfill(), name="analysis.backfill"),
                       asyncio.create_task(self._run(), name="analysis.scan")]

    async def stop(self) -> None:
        await self._events.stop()
        await cancel_and_wait(self._tasks)
        self._tasks = []
        try:
            await self.store.resign(self.instance)
        except (RedisError, OSError) as exc:  # the lease runs out on its own
            log.warning("analysis.resign_failed", reason=str(exc))


def since_default(now: float) -> float:
    """``GET /api/analysis/alerts`` without ``since``: the last 24 hours."""
    return now - DAY_S


