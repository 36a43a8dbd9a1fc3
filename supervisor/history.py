"""Hourly history of the supervisor's figures: Redis keys, the CSV export's range and rows.
Pure: no I/O (``service`` reads and writes Redis).

Each site has one hash per hour, ``hl:supervisor:history:{site}:{YYYYMMDDHH}`` (UTC),
of counters (``offered``, ``answered``, ``answered_within_sl``, ``lost``, ``wait_s_sum``,
``overflowed``, ``ivr_entered``, ``surges``, ``transfers_to_{target}``...), kept
``HISTORY_TTL_S``. A day is the sum of its 24 hours, so there are no day keys to keep in
step; days are the hotlines' (Beijing) days, 16:00 UTC to 16:00 UTC, as the linkage
report's and the ticket ids' are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start

from hotline_link.core.errors import HttpError
from hotline_link.core.zone import HOTLINE_ZONE

HISTORY_TTL_S = 400 * 86400  # a year and a month, like the call timeline
MARKER_TTL_S = 2 * 3600  # how long a "counted once" marker is kept
MAX_HOURS = 31 * 24  # by=hour: at most a month per export
MAX_DAYS = 400  # by=day: at most the history kept
COUNTERS = ("offered", "answered", "answered_within_sl", "lost", "wait_s_sum", "overflowed",
            "ivr_entered", "surges",
            # the callback queue (回电; supervisor.figures.CALLBACK_HAPPENINGS)
            "callbacks_done", "callbacks_failed", "missed_callbacks_made", "missed_callbacks_skipped_answered")
DIRECTED = ("transfers_to_{}", "transfers_answered_to_{}", "conferences_to_{}",
            "conferences_joined_to_{}")


class HistoryRangeError(HttpError):
    status, code = 400, "bad_range"


def history_key(site: str, bucket: str) -> str:
    return f"hl:supervisor:history:{site}:{bucket}"


def marker_key(once: str) -> str:
    return f"hl:supervisor:counted:{once}"


def hour_bucket(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d%H")


def _parse_time(name: str, text: str | None) -> datetime:
    if not text:
        raise HistoryRangeError(f"{name} is required: a date (2026-11-24) or an hour (2026-11-24T13)")
    candidate = text.strip()
    if len(candidate) == 13 and candidate[10] in "T ":  # 2026-11-24T13: fromisoformat wants minutes
        candidate += ":00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        raise HistoryRangeError(f"{name}={text!r} is not a date (2026-11-24) or an hour "
                                "(2026-11-24T13, UTC unless an offset is given)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last year Python knows
        raise HistoryRangeError(f"{name}={text!r} is out of range") from None


@dataclass(frozen=True)
class HistoryRange:
    by: str  # hour | day
    periods: tuple[datetime, ...]  # the start of each period, UTC (a day's: Beijing midnight)

    def hours(self, period: datetime) -> list[str]:
        count = 1 if self.by == "hour" else 24
        return [(period + timedelta(hours=h)).strftime("%Y%m%d%H") for h in range(count)]

    def all_hours(self) -> list[str]:
        return [hour for period in self.periods for hour in self.hours(period)]


def _local_day(text: str, parsed: datetime) -> date:
    """The hotline day a bound names: a bare date as written, a time by its Beijing date."""
    return parsed.date() if len(text.strip()) == 10 else parsed.astimezone(HOTLINE_ZONE).date()


def _days(start: str, end: str, first: datetime, last: datetime) -> tuple[datetime, ...]:
    first_day, last_day = _local_day(start, first), _local_day(end, last)
    if last_day < first_day:
        raise HistoryRangeError(f"to ({end}) is before from ({start})")
    count = (last_day - first_day).days + 1
    if count > MAX_DAYS:
        raise HistoryRangeError(f"{count} days asked for; at most {MAX_DAYS} per export")
    try:  # each day from its Beijing midnight, as a UTC instant
        return tuple(datetime.combine(first_day + timedelta(days=i), day_start(0), HOTLINE_ZONE)
                     .astimezone(UTC) for i in range(count))
    except OverflowError:  # 0001-01-01 in Beijing starts before the first year Python knows
        raise HistoryRangeError(f"from={start!r} is out of range") from None


def parse_range(start: str | None, end: str | None, by: str | None) -> HistoryRange:
    """``from`` and ``to`` name the first and the last period, both included: UTC hours
    (unless an offset is given), or the hotlines' days."""
    by = by or "hour"
    if by not in ("hour", "day"):
        raise HistoryRangeError(f"by={by!r}: use hour or day")
    first, last = _parse_time("from", start), _parse_time("to", end)
    if by == "day":
        return HistoryRange(by, _days(str(start), str(end), first, last))
    first, last = first.replace(minute=0, second=0, microsecond=0), last.replace(minute=0, second=0, microsecond=0)
    if last < first:
        raise HistoryRangeError(f"to ({end}) is before from ({start})")
    count = int((last - first) / timedelta(hours=1)) + 1
    if count > MAX_HOURS:
        raise HistoryRangeError(f"{count} hours asked for; at most {MAX_HOURS} per export")
    return HistoryRange(by, tuple(first + timedelta(hours=i) for i in range(count)))


def columns(targets: Iterable[str]) -> list[str]:
    directed = [pattern.format(t) for pattern in DIRECTED for t in targets]
    return ["period", "site", *COUNTERS[:4], "answer_rate", "service_level", "mean_wait_s",
            *COUNTERS[5:], *directed]


def history_rows(history: HistoryRange, sites: Iterable[str], targets: Iterable[str],
                 counters: Mapping[tuple[str, str], Mapping[str, str]]) -> list[dict[str, str]]:
    """One row per period and site; ``counters`` maps (site, hour bucket) to that hour's
    hash as Redis returns it (missing hours are zero)."""
    targets = list(targets)
    names = [c for c in COUNTERS] + [p.format(t) for p in DIRECTED for t in targets]
    rows = []
    for period in history.periods:
        label = (period.strftime("%Y-%m-%dT%H:00Z") if history.by == "hour"
                 else period.astimezone(HOTLINE_ZONE).strftime("%Y-%m-%d"))
        for site in sites:
            total = dict.fromkeys(names, 0.0)
            for hour in history.hours(period):
                for name, value in counters.get((site, hour), {}).items():
                    if name in total:
                        try:
                            total[name] += float(value)
                        except ValueError:
                            continue
            outcomes = total["answered"] + total["lost"]
            row = {"period": label, "site": site}
            row.update({name: _number(total[name]) for name in names if name != "wait_s_sum"})
            row["answer_rate"] = f"{total['answered'] / outcomes:.4f}" if outcomes else ""
            row["service_level"] = f"{total['answered_within_sl'] / outcomes:.4f}" if outcomes else ""
            row["mean_wait_s"] = (f"{total['wait_s_sum'] / total['answered']:.1f}"
                                  if total["answered"] else "")
            rows.append(row)
    return rows


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.3f}"


def to_csv(rows: list[dict[str, str]], header: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
