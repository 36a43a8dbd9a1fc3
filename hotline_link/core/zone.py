"""The hotlines' time zone. Both platforms keep Beijing time: a ticket's day, the report's
days and the supervisor history's days are Asia/Shanghai days, whatever zone the host
runs in (hourly buckets stay UTC and say so)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

HOTLINE_ZONE = ZoneInfo("Asia/Shanghai")
