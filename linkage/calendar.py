"""The working calendar of level-3 units (三级联动单位): working hours on working days,
public holidays off and weekend make-up days (调休) on. Pure: times are POSIX seconds,
converted in the calendar's time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotline_link.core.errors import ConfigError
from hotline_link.core.zone import HOTLINE_ZONE

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_MAX_DAYS = 60  # no calendar has two months without a working day; guards a bad file


@dataclass(frozen=True)
class WorkingCalendar:
    timezone: str
    weekdays: frozenset[int]  # 0 = Monday
    hours: tuple[tuple[int, int], ...]  # minutes after midnight, sorted, not overlapping
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def _periods(self, day: dt.date) -> list[tuple[float, float]]:
        if not self.is_working_day(day):
            return []
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=self.zone)
        return [((midnight + dt.timedelta(minutes=a)).timestamp(),
                 (midnight + dt.timedelta(minutes=b)).timestamp()) for a, b in self.hours]

    def _periods_from(self, at: float) -> Iterator[tuple[float, float]]:
        day = dt.datetime.fromtimestamp(at, self.zone).date()
        for offset in range(_MAX_DAYS):
            for start, end in self._periods(day + dt.timedelta(days=offset)):
                if end > at:
                    yield max(start, at), end
        raise ConfigError(f"the working calendar has no working period within {_MAX_DAYS} days of {at}")

    def is_working(self, at: float) -> bool:
        start, _ = next(self._periods_from(at))
        return start == at

    def next_working(self, at: float) -> float:
        """``at`` itself during working hours, else the start of the next working period."""
        start, _ = next(self._periods_from(at))
        return start

    def add_working(self, at: float, seconds: float) -> float:
        """The moment ``seconds`` of working time after ``at``."""
        left = seconds
        for start, end in self._periods_from(at):
            if end - start >= left:
                return start + left
            left -= end - start
        raise AssertionError("unreachable")  # _periods_from raises before running out


def _minutes(h: str, m: str, span: str) -> int:
    hours, minutes = int(h), int(m)
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise ConfigError(f"calendar.hours: bad time in {span!r}")
    return hours * 60 + minutes


def _dates(raw: object, name: str) -> frozenset[dt.date]:
    if not isinstance(raw, list):
        raise ConfigError(f"calendar.{name}: expected a list of YYYY-MM-DD dates")
    out = set()
    for item in raw:
        try:
            out.add(item if isinstance(item, dt.date) else dt.date.fromisoformat(str(item)))
        except ValueError:
            raise ConfigError(f"calendar.{name}: {item!r} is not a YYYY-MM-DD date") from None
    return frozenset(out)


def parse_calendar(raw: dict[str, object]) -> WorkingCalendar:
    """A calendar from its TOML table; every mistake is a ConfigError saying which key."""
    timezone = str(raw.get("timezone", HOTLINE_ZONE.key))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"calendar.timezone: unknown time zone {timezone!r}") from None
    days = raw.get("weekdays", list(WEEKDAYS[:5]))
    if not isinstance(days, list) or any(d not in WEEKDAYS for d in days):
        raise ConfigError(f"calendar.weekdays: expected names from {', '.join(WEEKDAYS)}")
    spans = raw.get("hours")
    if not isinstance(spans, list) or not spans:
        raise ConfigError("calendar.hours: expected a list like [\"08:30-12:00\", \"14:00-17:30\"]")
    hours = []
    for span in spans:
        match = _SPAN.match(str(span))
        if not match:
            raise ConfigError(f"calendar.hours: {span!r} is not HH:MM-HH:MM")
        start, end = _minutes(match[1], match[2], span), _minutes(match[3], match[4], span)
        if start >= end:
            raise ConfigError(f"calendar.hours: {span!r} ends before it starts")
        hours.append((start, end))
    hours.sort()
    for (_, end), (start, _) in pairwise(hours):
        if start < end:
            raise ConfigError("calendar.hours: periods overlap")
    return WorkingCalendar(timezone, frozenset(WEEKDAYS.index(d) for d in days), tuple(hours),
                           _dates(raw.get("holidays", []), "holidays"), _dates(raw.get("workdays", []), "workdays"))
