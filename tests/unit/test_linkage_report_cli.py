"""``hotline-link report`` end to end: events written by the journal into a real Redis (a
private redis-server on a free port), read back over the date range and rendered in each
format; bad ranges and an unreachable Redis are one line on stderr and exit status 2."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import time
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from hotline_link.cli import main
from hotline_link.core.bus import EventBus
from linkage.journal import Journal
from tests.helpers import free_tcp_port


def _days() -> tuple[str, str]:
    """Yesterday and tomorrow in the report's zone: the events written now are inside."""
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return (today - dt.timedelta(days=1)).isoformat(), (today + dt.timedelta(days=1)).isoformat()


async def _write(url: str) -> None:
    redis = Redis.from_url(url, decode_responses=True)
    try:
        journal = Journal(redis, EventBus())
        now = time.time()
        t1, t2 = "12345-20261124-000001", "12345-20261124-000002"
        await journal.log_only("linkage.handover", now, source="12345", target="110", mode="一键转接")
        await journal.log_only("linkage.handover", now, source="110", target="12345", mode="系统推送", bounced=True)
        for ticket in (t1, t2):
            await journal.note("linkage.dispatched", ticket, unit="QD-GAS", site="12345", accept_due=now - 1)
        await journal.note("linkage.accepted", t1, unit="QD-GAS", site="12345", arrive_due=now + 3600)
        await journal.note("linkage.arrived", t1, unit="QD-GAS", site="12345", on_time=True)
        await journal.note("linkage.resolved", t1, unit="QD-GAS", site="12345", resolved=True)
        await journal.note("linkage.callback", t1, unit="QD-GAS", site="12345", result="基本满意")
        await journal.note("linkage.supervised", t2, unit="QD-GAS", stage="accept")
        await journal.note("linkage.repeat", t1, site="12345", repeats=1)
        await journal.note("linkage.dispatched", "12345-20200101-000009", unit="QD-GAS", site="12345",
                           at=now - 10 * 86400)  # ten days ago: outside the range
    finally:
        await redis.aclose()


def test_report_reads_the_journal_in_every_format(redis_url, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HOTLINE_REDIS_URL", redis_url)
    asyncio.run(_write(redis_url))
    first, last = _days()

    assert main(["report", "--from", first, "--to", last, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # by hand: one transfer 12345->110, one bounced push 110->12345; QD-GAS: 2 dispatched (the one
    # ten days ago is outside), 1 accepted, 1 arrived on time, 1 resolved, 1 基本满意, 1 督办 (on
    # t2, platform from its id), 1 repeat call on t1. 签收率: t2's acceptance was due and not made,
    # so 1/2; 按时到场率: t1 only, 1/1.
    assert report["handovers"] == {"110->12345": {"一键转接": 0, "三方通话": 0, "系统推送": 1, "回流": 1},
                                   "12345->110": {"一键转接": 1, "三方通话": 0, "系统推送": 0, "回流": 0}}
    gas = report["units"]["QD-GAS"]
    assert gas["name"] == "燃气公司"
    assert (gas["dispatched"], gas["accepted"], gas["arrived"], gas["resolved"], gas["supervised"],
            gas["callbacks_answered"], gas["satisfied"], gas["repeat_calls"]) == (2, 1, 1, 1, 1, 1, 1, 1)
    assert (gas["acceptance_rate"], gas["on_time_arrival_rate"], gas["resolution_rate"], gas["satisfaction"]) == \
        (0.5, 1.0, 1.0, 1.0)
    assert report["platforms"]["12345"]["bounced_in"] == 1 and report["platforms"]["12345"]["supervised"] == 1
    assert "未回访单独计数" in report["definitions"]["satisfaction"]

    assert main(["report", "--from", first, "--to", last, "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert ["unit", "QD-GAS", "dispatched", "2"] in rows and ["unit", "QD-GAS", "escalated", "0"] in rows

    page_file = tmp_path / "report.html"
    assert main(["report", "--from", first, "--to", last, "--output", str(page_file)]) == 0  # html by default
    page = page_file.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "燃气公司（QD-GAS）" in page and "@page { size: A4" in page
    assert f"{first} 至 {last}" in page and "50.0%" in page


@pytest.mark.parametrize("start, end, message", [
    ("2026-11-30", "2026-11-01", "--to 2026-11-01 is before --from 2026-11-30"),
    ("2026-13-01", "2026-11-01", "--from '2026-13-01' is not a date (YYYY-MM-DD)"),
    ("2026-11-01", "next week", "--to 'next week' is not a date (YYYY-MM-DD)"),
    ("2024-01-01", "2026-11-01", "the range is longer than 400 days"),
])
def test_a_bad_range_is_one_line_and_exit_status_2(start, end, message, monkeypatch, capsys):
    monkeypatch.setenv("HOTLINE_REDIS_URL", f"redis://127.0.0.1:{free_tcp_port()}/0")  # never reached
    assert main(["report", "--from", start, "--to", end, "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"hotline-link: error: {message}\n"


def test_an_unreachable_redis_is_one_line_and_exit_status_2(monkeypatch, capsys):
    url = f"redis://127.0.0.1:{free_tcp_port()}/0"  # nothing listens there
    monkeypatch.setenv("HOTLINE_REDIS_URL", url)
    assert main(["report", "--from", "2026-11-01", "--to", "2026-11-30"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hotline-link: error: Redis at {url} is not reachable") and err.count("\n") == 1
