"""Ticket ids carry the hotlines' day (Asia/Shanghai), on a machine in any time zone."""

from __future__ import annotations

import datetime as dt
import os
import time
from zoneinfo import ZoneInfo

import pytest

from tickets.store import TicketStore, ticket_day

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


@pytest.fixture
def utc_machine():
    """The process's local zone set to UTC, as on a CI machine."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_the_day_is_beijings_not_the_machines(utc_machine):
    assert ticket_day(at("2026-11-25T07:00")) == "20261125"  # 23:00 UTC the day before
    assert ticket_day(at("2026-11-24T23:59:59")) == "20261124"
    assert ticket_day(at("2026-11-25T00:00")) == "20261125"


async def test_the_sequence_starts_again_at_beijing_midnight(private_redis, utc_machine):
    store = TicketStore(private_redis)
    late = await store.open_for_call("12345", "call-late", now=at("2026-11-24T23:59:00"))
    early = await store.open_for_call("12345", "call-early", now=at("2026-11-25T00:01:00"))
    later = await store.open_for_call("12345", "call-later", now=at("2026-11-25T08:30:00"))
    assert (late.id, early.id, later.id) == ("12345-20261124-000001", "12345-20261125-000001",
                                             "12345-20261125-000002")
