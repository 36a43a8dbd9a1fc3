"""The analysis API served by the real app over a real redis-server: supervisors and
admins only, the documented shapes, 422 for a bad range or grouping, report files by a
strictly checked name."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from analysis.config import AnalysisConfig
from analysis.schema import AlertList, Hotspots, ReportList, Summary
from analysis.service import AnalysisService
from hotline_link.core.bus import EventBus
from hotline_link.core.zone import HOTLINE_ZONE
from hotline_link.web.auth import Principal, TokenBook
from tests.helpers import web_app_of
from tests.unit.served_replies import served
from tickets.store import Ticket, TicketStore

T0 = dt.datetime(2026, 12, 6, 10, 0, tzinfo=HOTLINE_ZONE).timestamp()
TOKENS = {"agent-1001": Principal("agent", "1001"), "supervisor-x": Principal("supervisor", ""),
          "admin-x": Principal("admin", "")}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}-0123456789abcdef"}


@pytest.fixture
async def client(private_redis: Redis, tmp_path: Path) -> AsyncIterator[TestClient]:
    tickets = TicketStore(private_redis)
    for i, (category, division, caller) in enumerate((("供水", "320602", "13812345678"),
                                                      ("供水", "320602", "13812345678"),
                                                      ("燃气", "320611", ""), ("政务咨询", "320602", ""))):
        at = T0 - 3600 + i * 60
        await tickets.save(Ticket(await tickets.new_id("12345", at), "12345", f"c{i}", category, "燃气泄漏了",
                                  created_at=at, caller=caller, division_code=division))
    await tickets.save(Ticket("12345-20261101-000001", "12345", "old", "供水", created_at=T0 - 20 * 86400))
    service = AnalysisService(private_redis, EventBus(), tickets, config=AnalysisConfig.parse({"cue_min_count": 3}),
                              platforms=("12345",), reports_dir=tmp_path / "reports", cues=("燃气泄漏",),
                              clock=lambda: T0)
    await service.scan()
    await service.write_reports()
    (tmp_path / "secret.json").write_text("{}")
    stand_in = SimpleNamespace(tokens=TokenBook([(f"{t}-0123456789abcdef", p) for t, p in TOKENS.items()]),
                               tickets=tickets, analysis=service)
    test_client = TestClient(TestServer(web_app_of(stand_in)))
    await test_client.start_server()
    try:
        yield test_client
    finally:
        await test_client.close()


async def test_hotspots_by_default_keys_over_the_last_day(client: TestClient):
    path = "/api/analysis/hotspots"
    body = await served(await client.get(path, headers=_auth("supervisor-x")), Hotspots, path, 200)
    assert (body["from"], body["to"], body["by"], body["total"]) == (T0 - 86400, T0, ["category", "division_code"], 4)
    assert [(g["category"], g["division_code"], g["count"], len(g["ticket_ids"])) for g in body["groups"]] == [
        ("供水", "320602", 2, 2), ("政务咨询", "320602", 1, 1), ("燃气", "320611", 1, 1)]
    assert body["groups"][0]["tag"] is None
    wide = await client.get(path, params={"from": "2026-10-01", "to": str(T0), "by": "day"}, headers=_auth("admin-x"))
    assert [(g["day"], g["count"]) for g in (await wide.json())["groups"]] == [("2026-12-06", 4), ("2026-11-16", 1)]


@pytest.mark.parametrize("params, code", [
    ({"by": "caller"}, "bad_grouping"), ({"by": "category,category"}, "bad_grouping"),
    ({"from": "last week"}, "bad_time_range"), ({"from": str(T0), "to": str(T0 - 60)}, "bad_time_range"),
    ({"from": "2025-01-01", "to": "2026-12-01"}, "bad_time_range")])
async def test_a_bad_query_is_422(client: TestClient, params: dict[str, str], code: str):
    resp = await client.get("/api/analysis/hotspots", params=params, headers=_auth("supervisor-x"))
    assert resp.status == 422 and (await resp.json())["error"]["code"] == code


@pytest.mark.parametrize("path", ["/api/analysis/hotspots", "/api/analysis/summary", "/api/analysis/alerts",
                                  "/api/analysis/reports", "/api/analysis/reports/12345-monthly-2026-11.json"])
async def test_an_agent_is_refused(client: TestClient, path: str):
    assert (await client.get(path, headers=_auth("agent-1001"))).status == 403
    assert (await client.get(path)).status == 401


async def test_the_summary(client: TestClient):
    path = "/api/analysis/summary"
    body = await served(await client.get(path, headers=_auth("supervisor-x")), Summary, path, 200)
    assert body["total"] == 4 and body["by_category"][0] == {"category": "供水", "count": 2}
    assert body["repeat_callers"] == [{"caller": "138****5678", "count": 2}]
    assert body["frequent_questions"] == [{"category": "政务咨询", "count": 1, "example": "燃气泄漏了"}]
    assert body["by_day"] == [{"day": "2026-12-06", "count": 4}] and body["disputed"] == []


async def test_the_alerts(client: TestClient):
    path = "/api/analysis/alerts"
    body = await served(await client.get(path, headers=_auth("supervisor-x")), AlertList, path, 200)
    [alert] = body["alerts"]
    assert (alert["kind"], alert["cue"], alert["count"], alert["raised_at"]) == ("cue", "燃气泄漏", 3, T0)
    later = await client.get(path, params={"since": str(T0 + 1)}, headers=_auth("supervisor-x"))
    assert (await later.json())["alerts"] == []


async def test_reports_are_listed_and_served_by_strict_name(client: TestClient):
    path = "/api/analysis/reports"
    body = await served(await client.get(path, headers=_auth("supervisor-x")), ReportList, path, 200)
    assert [(r["name"], r["kind"], r["period"], r["formats"]) for r in body["reports"]] == [
        ("12345-monthly-2026-11", "monthly", "2026-11", ["html", "csv", "json"]),
        ("12345-quarterly-2026-Q3", "quarterly", "2026-Q3", ["html", "csv", "json"]),
        ("12345-yearly-2025", "yearly", "2025", ["html", "csv", "json"])]
    got = await client.get(f"{path}/12345-monthly-2026-11.json", headers=_auth("supervisor-x"))
    assert got.status == 200 and (await got.json())["total"] == 1
    page = await client.get(f"{path}/12345-monthly-2026-11.html", headers=_auth("supervisor-x"))
    assert page.status == 200 and "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.content_type == "text/html"
    for bad in ("..%2Fsecret.json", "12345-monthly-2026-10.json", "12345-monthly-2026-11.exe", "secret.json",
                "..%2F..%2Fetc%2Fpasswd"):
        resp = await client.get(f"{path}/{bad}", headers=_auth("supervisor-x"))
        assert resp.status == 404, bad
