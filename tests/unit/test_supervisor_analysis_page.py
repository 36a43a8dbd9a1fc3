"""The supervisor's analysis page (联合分析与风险预警, ``/supervisor/analysis``) with its
knowledge base panel. Its script (supervisor/static/analysis.js) runs under node on the
stand-in DOM (tests/unit/analysis_page.js) built from the page's own HTML, fed the documented
shapes of the analysis and knowledge APIs by a fake fetch: the period's charts (SVG built
element by element) and tables, the hot spots, the risk alerts (one element with
``data-alert-id`` each, newest first, re-read every 15 s), the report packs downloaded with
the token through a blob: URL, the knowledge entries searched, opened, saved and their
history, and every failure said in the page. And the page is served as ``/supervisor`` is:
a supervisor's or admin's token, the same nonce policy."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import supervisor
from hotline_link.web.auth import Principal, TokenBook
from knowledge.schema import UpdateEntryBody
from tests.helpers import web_app_of
from tests.unit.page_tree import Tree, by_id, page_tree, text, walk

STATIC = Path(supervisor.__file__).parent / "static"
HARNESS = Path(__file__).with_name("analysis_page.js")
NODE = shutil.which("node")
TOKEN = "sup-t0k"
NOW = 1_796_608_800  # 2026-12-07 10:00 Beijing time, the harness's clock
WEEK = f"from={NOW - 7 * 86400}&to={NOW}"
SUMMARY_URL = f"GET /api/analysis/summary?{WEEK}"
HOTSPOTS_URL = f"GET /api/analysis/hotspots?{WEEK}&by=category%2Cdivision_code"
ALERTS_URL = f"GET /api/analysis/alerts?since={NOW - 86400}"
REPORTS_URL = "GET /api/analysis/reports"
SUMMARY = {"from": NOW - 7 * 86400.0, "to": float(NOW), "total": 57,
           "by_category": [{"category": "噪音扰民", "count": 30}, {"category": "供水", "count": 20},
                           {"category": "燃气", "count": 7}],
           "by_division": [{"division_code": "320602", "count": 40}, {"division_code": "320681", "count": 17}],
           "by_channel": [{"channel": "phone", "count": 45}, {"channel": "web", "count": 12}],
           "by_day": [{"day": "2026-12-05", "count": 10}, {"day": "2026-12-06", "count": 25},
                      {"day": "2026-12-07", "count": 22}],
           "tags": [{"tag": "夜间施工", "count": 9}],
           "repeat_callers": [{"caller": "138****1234", "count": 4}],
           "top_places": [{"division_code": "320602", "count": 40}],
           "frequent_questions": [{"category": "社保", "count": 12, "example": "退休金什么时候发放"}],
           "disputed": [{"category": "占道经营", "bounced": 3, "refused": 2, "redispatched": 4, "total": 5}]}
HOTSPOTS = {"from": NOW - 7 * 86400.0, "to": float(NOW), "by": ["category", "division_code"], "total": 57,
            "groups": [{"category": "噪音扰民", "division_code": "320602", "count": 12,
                        "ticket_ids": ["12345-20261206-000003", "12345-20261206-000009"]}]}


def alert(id_: str, kind: str, raised_at: float, **changes: Any) -> dict[str, Any]:
    return {"id": id_, "kind": kind, "category": "供水", "division_code": "320602", "count": 8, "baseline": 1.5,
            "window_s": 3600, "first_at": raised_at - 1800, "raised_at": raised_at,
            "ticket_ids": ["12345-20261207-000011", "12345-20261207-000012"], "cue": "", **changes}


ALERTS = {"alerts": [alert("al-1", "surge", NOW - 600.0),
                     alert("al-2", "cue", NOW - 60.0, cue="有人被困", count=1, baseline=None)]}
REPORTS = {"reports": [{"name": "2026-11-monthly", "kind": "monthly", "period": "2026-11", "formats": ["csv", "html"],
                        "written_at": NOW - 86400.0}]}
OK = {SUMMARY_URL: {"status": 200, "body": SUMMARY}, HOTSPOTS_URL: {"status": 200, "body": HOTSPOTS},
      ALERTS_URL: {"status": 200, "body": ALERTS}, REPORTS_URL: {"status": 200, "body": REPORTS}}


def run_page(steps: list[dict[str, Any]], routes: dict[str, Any] | None = None,
             lang: str = "zh") -> list[dict[str, Any]]:
    if NODE is None:
        pytest.fail("node is not installed (Debian package nodejs): run 'make install'")
    page = page_tree((STATIC / "analysis.html").read_text(encoding="utf-8"))
    done = subprocess.run([NODE, str(HARNESS), str(STATIC / "analysis.js")], capture_output=True, text=True,
                          timeout=60, input=json.dumps({"page": page, "routes": {**OK, **(routes or {})},
                                                        "steps": steps, "lang": lang}))
    assert done.returncode == 0, done.stderr
    out: list[dict[str, Any]] = json.loads(done.stdout)
    return out


def rows(page: Tree, id_: str) -> list[list[str]]:
    return [[text(c) for c in tr["children"]] for tr in by_id(page, id_)["children"]]


def asked(entry: dict[str, Any]) -> list[str]:
    return [f"{f['method']} {f['url']}" for f in entry["fetches"]]


def test_the_period_is_drawn_and_tabled_from_the_summary_and_hotspots():
    [start, english] = run_page([{"click": ["id", "lang"]}])
    assert set(asked(start)) == {SUMMARY_URL, HOTSPOTS_URL, ALERTS_URL, REPORTS_URL}  # the last 7 days first
    assert {f["authorization"] for f in start["fetches"]} == {f"Bearer {TOKEN}"}
    page = start["page"]
    assert text(by_id(page, "total")) == "共 57 件" and by_id(page, "message")["hidden"]
    bars = [n for n in walk(by_id(page, "chart-category")) if "data-bar" in n["attrs"]]
    assert [(b["attrs"]["data-bar"], text(b)) for b in bars] == [("噪音扰民", "噪音扰民30"), ("供水", "供水20"),
                                                                 ("燃气", "燃气7")]
    widths = [float(r["attrs"]["width"]) for b in bars for r in b["children"] if r["tag"] == "rect"]
    assert widths[0] > widths[1] > widths[2] > 0
    days = [n["attrs"]["data-day"] for n in walk(by_id(page, "chart-day")) if "data-day" in n["attrs"]]
    assert days == ["2026-12-05", "2026-12-06", "2026-12-07"]
    assert [n["tag"] for n in walk(by_id(page, "chart-day")) if n["tag"] == "polyline"] == ["polyline"]
    split = [n for n in walk(by_id(page, "chart-channel")) if "data-channel" in n["attrs"]]
    assert [s["attrs"]["data-channel"] for s in split] == ["phone", "web"]
    assert "phone 45 (79%)" in text(by_id(page, "chart-channel"))
    assert rows(page, "t-division")[1:] == [["320602", "40"], ["320681", "17"]]
    assert rows(page, "t-places")[1:] == [["320602", "40"]] and rows(page, "t-tags")[1:] == [["夜间施工", "9"]]
    assert rows(page, "t-repeat")[1:] == [["138****1234", "4"]]
    assert rows(page, "t-questions") == [["类别", "件数", "示例"], ["社保", "12", "退休金什么时候发放"]]
    assert rows(page, "t-disputed")[1:] == [["占道经营", "3", "2", "4", "5"]]
    assert rows(page, "hotspots")[1:] == [["噪音扰民", "320602", "12", "12345-20261206-000003、12345-20261206-000009"]]
    assert by_id(page, "p-from")["value"] == "2026-11-30" and by_id(page, "p-to")["value"] == "2026-12-07"
    en = english["page"]
    assert text(by_id(en, "total")) == "57 in all" and rows(en, "t-disputed")[0][0] == "Category"
    assert text(by_id(en, "chart-category")) == text(by_id(page, "chart-category"))  # the data as given


def test_the_presets_and_the_days_chosen_ask_for_their_period():
    steps = [{"click": ["data-preset", "24h"]}, {"click": ["data-preset", "30d"]}, {"click": ["data-preset", "month"]},
             {"value": {"p-from": "2026-11-01", "p-to": "2026-11-30"}}, {"submit": "period"}]
    _, day, month30, this_month, _, days = run_page(steps)
    summary = lambda e: [u for u in asked(e) if "/summary" in u]  # noqa: E731
    assert summary(day) == [f"GET /api/analysis/summary?from={NOW - 86400}&to={NOW}"]
    assert summary(month30) == [f"GET /api/analysis/summary?from={NOW - 30 * 86400}&to={NOW}"]
    december = 1_796_054_400  # 2026-12-01 00:00 Beijing time
    assert summary(this_month) == [f"GET /api/analysis/summary?from={december}&to={NOW}"]
    november = december - 30 * 86400
    assert summary(days) == [f"GET /api/analysis/summary?from={november}&to={december}"]  # whole Beijing days
    assert len([u for u in asked(days) if "/hotspots" in u]) == 1


def test_risk_alerts_are_listed_newest_first_and_read_every_15_seconds():
    later = {"alerts": [*ALERTS["alerts"], alert("al-3", "surge", NOW + 5.0, category="燃气")]}
    start, early, timer, english = run_page(
        [{"advance": 14_000}, {"advance": 1_000}, {"click": ["id", "lang"]}],
        {ALERTS_URL: [{"status": 200, "body": ALERTS}],
         f"GET /api/analysis/alerts?since={NOW + 15 - 86400}": {"status": 200, "body": later}})
    items = [n for n in walk(by_id(start["page"], "alerts")) if "data-alert-id" in n["attrs"]]
    assert [(n["attrs"]["data-alert-id"], n["attrs"]["data-kind"]) for n in items] == [
        ("al-2", "cue"), ("al-1", "surge")]
    cue, surge = (text(n) for n in items)
    assert cue.startswith("紧急线索 供水 · 320602 · 1 件（基线 –）") and "有人被困" in cue
    assert surge.startswith("突增 供水 · 320602 · 8 件（基线 1.5） · 60 分钟内")
    assert "12345-20261207-000011、12345-20261207-000012" in surge
    assert [u for u in asked(early) if "alerts" in u] == []
    assert [u for u in asked(timer) if "alerts" in u] == [f"GET /api/analysis/alerts?since={NOW + 15 - 86400}"]
    ids = [n["attrs"]["data-alert-id"] for n in walk(by_id(timer["page"], "alerts")) if "data-alert-id" in n["attrs"]]
    assert ids == ["al-3", "al-2", "al-1"]
    assert text(by_id(english["page"], "alerts")).startswith("surge 燃气 · 320602 · 8 (baseline 1.5) · within 60 min")


def test_no_alerts_is_said_and_a_failed_read_keeps_the_list_and_says_why():
    none = run_page([], {ALERTS_URL: {"status": 200, "body": {"alerts": []}}})[0]["page"]
    assert not by_id(none, "alerts-note")["hidden"] and text(by_id(none, "alerts-note")) == "暂无风险预警"
    _, failed = run_page([{"advance": 15_000}], {
        ALERTS_URL: {"status": 200, "body": ALERTS},
        f"GET /api/analysis/alerts?since={NOW + 15 - 86400}": {"status": 503, "body": {"error": {
            "code": "redis_unavailable", "message": "redis"}}}})
    assert len([n for n in walk(by_id(failed["page"], "alerts")) if "data-alert-id" in n["attrs"]]) == 2
    message = by_id(failed["page"], "message")
    assert not message["hidden"] and text(message) == "服务器暂时不可用（503），请稍后重试：风险预警"


def test_an_entry_without_an_ivr_key_is_saved_in_a_body_the_server_takes():
    plain = {**ENTRY, "ivr_key": None, "ivr_label": None, "valid_from": None}  # as GET gives it
    routes = {**KB, "GET /api/knowledge/entries/kb-7": {"status": 200, "body": plain},
              "PUT /api/knowledge/entries/kb-7": {"status": 200, "body": {**plain, "version": 5}}}
    steps = [{"value": {"kb-q": "退休金"}}, {"submit": "kb-search"}, {"click": ["data-open", "kb-7"]},
             {"submit": "kb-form"}]
    *_, done = run_page(steps, routes)
    [put] = [f for f in done["fetches"] if f["method"] == "PUT"]
    assert (put["body"]["ivr_key"], put["body"]["ivr_label"], put["body"]["valid_from"]) == ("", "", None)
    UpdateEntryBody.model_validate(put["body"])


@pytest.mark.parametrize("reply, words", [
    ({"status": 401, "body": {"error": {"code": "unauthorized", "message": "unknown token"}}},
     "登录已失效：请从坐席监控页重新打开本页（统计概况）"),
    ({"status": 403, "body": {"error": {"code": "forbidden", "message": "supervisors only"}}},
     "无权查看（需要主管或管理员令牌）：统计概况"),
    ({"status": 422, "body": {"error": {"code": "bad_request", "message": "from must be before to"}}},
     "输入有误：from must be before to"),
    ({"status": 500, "body": {}}, "服务器暂时不可用（500），请稍后重试：统计概况"),
    ({"status": 502}, "服务器暂时不可用（502），请稍后重试：统计概况"),  # a proxy's page, not JSON
    ({"network": True}, "网络中断，请稍后重试：统计概况"),
])
def test_a_failed_read_is_said_in_the_page_never_a_blank_page(reply, words):
    [start] = run_page([], {SUMMARY_URL: reply})
    page = start["page"]
    message = by_id(page, "message")
    assert not message["hidden"] and text(message) == words
    assert rows(page, "hotspots")[1][0] == "噪音扰民"  # the rest of the page still there
    assert rows(page, "t-tags") == [["标签", "件数"], ["无"]]
    assert len([n for n in walk(page) if "data-alert-id" in n["attrs"]]) == 2


def test_the_message_is_said_in_english_too():
    [_, english] = run_page([{"click": ["id", "lang"]}], {SUMMARY_URL: {"network": True}, REPORTS_URL: {
        "status": 403, "body": {"error": {"code": "forbidden", "message": "no"}}}})
    said = text(by_id(english["page"], "message")).split("; ")
    assert sorted(said) == ["network error, try again later: summary",
                            "not allowed (a supervisor or admin token is needed): report packs"]


def test_a_report_pack_is_downloaded_with_the_token_and_saved_from_a_blob_url():
    routes = {"GET /api/analysis/reports/2026-11-monthly": {
        "status": 200, "body": "PK-zip-bytes", "headers": {"Content-Disposition": 'attachment; filename="m.zip"'}}}
    start, fetched = run_page([{"click": ["data-download", "2026-11-monthly"]}], routes)
    [item] = by_id(start["page"], "reports")["children"]
    assert text(item).startswith("月交流 2026-11-monthly · 2026-11 · csv, html · 生成于 ")
    assert text(item).endswith("下载")
    assert [(f["url"], f["authorization"]) for f in fetched["fetches"]] == [
        ("/api/analysis/reports/2026-11-monthly", f"Bearer {TOKEN}")]
    assert fetched["urls"] == [{"url": "blob:http://127.0.0.1:8080/1", "blob": "PK-zip-bytes"}]
    assert fetched["clicked"] == [{"href": "blob:http://127.0.0.1:8080/1", "download": "m.zip"}]
    [link] = [n for n in walk(by_id(fetched["page"], "reports")) if n["tag"] == "a"]
    assert text(link) == "保存 m.zip"


def test_a_report_that_cannot_be_downloaded_says_so():
    routes = {"GET /api/analysis/reports/2026-11-monthly": {
        "status": 404, "body": {"error": {"code": "not_found", "message": "gone"}}}}
    _, failed = run_page([{"click": ["data-download", "2026-11-monthly"]}], routes)
    assert text(by_id(failed["page"], "message")) == "找不到：报告 2026-11-monthly" and failed["urls"] == []
    assert text(by_id(failed["page"], "reports")).endswith("下载")  # can be tried again


ENTRY = {"id": "kb-7", "question": "退休金什么时候发放", "answer": "每月15日前发放到社保卡。" * 20,
         "category": "社保", "platform": "12345", "valid_from": "2026-01-01", "valid_to": None,
         "source": "市人社局", "shareable": True, "ivr_key": "3", "ivr_label": "社保咨询", "version": 4}
SEARCH_URL = "GET /api/knowledge/search?q=%E9%80%80%E4%BC%91%E9%87%91&limit=20"
HISTORY = {"history": [{"version": 4, "by": "supervisor", "at": NOW - 3600.0, "changes": ["answer"]},
                       {"version": 3, "by": "admin", "at": NOW - 7200.0, "changes": {"source": ["", "市人社局"]}}]}
KB = {SEARCH_URL: {"status": 200, "body": {"query": "退休金", "results": [{**ENTRY, "score": 0.91}]}},
      "GET /api/knowledge/entries/kb-7": {"status": 200, "body": ENTRY},
      "GET /api/knowledge/entries/kb-7/history": {"status": 200, "body": HISTORY}}


def test_a_knowledge_entry_is_searched_opened_edited_and_saved_with_its_history():
    saved = {**ENTRY, "answer": "每月10日前发放。", "version": 5}
    routes = {**KB, "PUT /api/knowledge/entries/kb-7": {"status": 200, "body": saved}}
    steps = [{"value": {"kb-q": " 退休金 "}}, {"submit": "kb-search"}, {"click": ["data-open", "kb-7"]},
             {"value": {"kb-answer": "每月10日前发放。"}}, {"submit": "kb-form"}]
    *_, found, opened, _, done = run_page(steps, routes)
    [item] = [n for n in walk(by_id(found["page"], "kb-results")) if "data-entry" in n["attrs"]]
    shown = text(item)
    assert shown.startswith("退休金什么时候发放 社保 · 12345 · 版本 4 · 可共享 · 相关度 0.91")
    assert shown.endswith("…") and len(shown) < 200  # an answer's snippet
    assert asked(found) == [SEARCH_URL]
    page = opened["page"]
    assert not by_id(page, "kb-form")["hidden"] and text(by_id(page, "kb-version")) == "版本 4"
    assert by_id(page, "kb-question")["value"] == "退休金什么时候发放" and by_id(page, "kb-valid-to")["value"] == ""
    assert by_id(page, "kb-shareable")["checked"] is True
    assert [text(n) for n in by_id(page, "kb-history")["children"]][1].startswith("版本 3 · admin 于 ")
    assert text(by_id(page, "kb-history")).endswith("source")
    [put] = [f for f in done["fetches"] if f["method"] == "PUT"]
    assert put["url"] == "/api/knowledge/entries/kb-7" and put["authorization"] == f"Bearer {TOKEN}"
    assert put["body"] == {"question": "退休金什么时候发放", "answer": "每月10日前发放。", "category": "社保",
                           "platform": "12345", "valid_from": "2026-01-01", "valid_to": None, "source": "市人社局",
                           "shareable": True, "ivr_key": "3", "ivr_label": "社保咨询", "expected_version": 4}
    UpdateEntryBody.model_validate(put["body"])  # what the server takes, checked by its own model
    assert text(by_id(done["page"], "kb-message")) == "已保存，版本 5"
    assert text(by_id(done["page"], "kb-version")) == "版本 5"
    assert "GET /api/knowledge/entries/kb-7/history" in asked(done)


@pytest.mark.parametrize("reply, words", [
    ({"status": 409, "body": {"error": {"code": "conflict", "message": "version 5 is newer"}}},
     "保存冲突：该条目已被他人修改，请重新打开后再改（version 5 is newer）"),
    ({"status": 422, "body": {"error": {"code": "bad_request", "message": "answer: must not be empty"}}},
     "输入有误：answer: must not be empty"),
])
def test_a_refused_save_is_said_next_to_the_entry(reply, words):
    routes = {**KB, "PUT /api/knowledge/entries/kb-7": reply}
    steps = [{"value": {"kb-q": "退休金"}}, {"submit": "kb-search"}, {"click": ["data-open", "kb-7"]},
             {"submit": "kb-form"}]
    *_, refused = run_page(steps, routes)
    note = by_id(refused["page"], "kb-message")
    assert not note["hidden"] and text(note) == words and "kb-error" in note["attrs"]["class"]
    assert text(by_id(refused["page"], "kb-version")) == "版本 4"  # the entry as it was


def test_a_search_of_one_character_asks_nothing_and_no_result_is_said():
    routes = {"GET /api/knowledge/search?q=%E7%8C%AB%E7%8B%97&limit=20": {
        "status": 200, "body": {"query": "猫狗", "results": []}}}
    _, short, empty = run_page([{"value": {"kb-q": "猫"}, "submit": "kb-search"},
                                {"value": {"kb-q": "猫狗"}, "submit": "kb-search"}], routes)
    assert asked(short) == [] and text(by_id(short["page"], "kb-message")) == "请至少输入 2 个字"
    assert text(by_id(empty["page"], "kb-message")) == "没有找到相关条目"


def test_every_label_of_the_page_is_translated_both_ways():
    [zh, en] = [e["page"] for e in run_page([{"click": ["id", "lang"]}])]
    chinese = {n["attrs"]["data-i18n"]: text(n) for n in walk(zh) if "data-i18n" in n["attrs"]}
    english = {n["attrs"]["data-i18n"]: text(n) for n in walk(en) if "data-i18n" in n["attrs"]}
    assert {"title", "alerts", "knowledge", "disputed"} <= set(chinese) and set(chinese) == set(english)
    assert [k for k, shown in chinese.items() if not re.search(r"[\u4e00-\u9fff]", shown)] == []
    assert [k for k in chinese if english[k] == chinese[k]] == []
    assert text(by_id(en, "lang")) == "中文" and text(by_id(zh, "lang")) == "English"
    assert by_id(zh, "back-link")["attrs"]["href"] == f"/supervisor?token={TOKEN}"


def test_the_script_finds_every_element_it_asks_for():
    script = (STATIC / "analysis.js").read_text(encoding="utf-8")
    page = page_tree((STATIC / "analysis.html").read_text(encoding="utf-8"))
    ids = {n["attrs"]["id"] for n in walk(page) if "id" in n["attrs"]}
    asked_for = set(re.findall(r'\$\("([A-Za-z0-9_-]+)"\)', script))
    asked_for |= set(re.findall(r'table\("([A-Za-z0-9_-]+)"', script))
    assert {"alerts", "hotspots", "kb-results", "t-disputed"} <= asked_for and asked_for <= ids, asked_for - ids


def test_the_page_stays_within_its_content_security_policy():
    """Served under nonces only: no inline handler, no style attribute, no markup built
    from strings (every element, the charts' too, made by DOM methods)."""
    html = (STATIC / "analysis.html").read_text(encoding="utf-8")
    script = (STATIC / "analysis.js").read_text(encoding="utf-8")
    assert not re.search(r"\son[a-z]+=|\sstyle=|<script|<style", html, re.IGNORECASE)
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|DOMParser|\.style\b|setAttribute\(\"style|eval\(|"
                         r"new Function|document\.write", script)
    assert html.count("<!--SCRIPT-->") == 1 and html.count("<!--STYLE-->") == 1


# --- served as /supervisor is ------------------------------------------------------------

TOKENS = {"supervisor": ("supervisor-token-0123456789", Principal("supervisor")),
          "admin": ("admin-token-0123456789abcdef", Principal("admin")),
          "agent": ("agent-1001-token-0123456789", Principal("agent", "1001"))}


@pytest.fixture
async def client():
    stand_in = SimpleNamespace(tokens=TokenBook(TOKENS.values()),
                               supervisor=SimpleNamespace(close_streams=lambda: None))
    async with TestClient(TestServer(web_app_of(stand_in))) as served:
        yield served


def _policy(headers: Any) -> str:
    return re.sub(r"'nonce-[^']+'", "'nonce-N'", headers["Content-Security-Policy"])


@pytest.mark.parametrize("role", ["supervisor", "admin"])
async def test_the_analysis_page_is_served_under_the_dashboards_policy(client, role):
    main = await client.get(f"/supervisor?token={TOKENS[role][0]}")
    resp = await client.get(f"/supervisor/analysis?token={TOKENS[role][0]}")
    assert main.status == resp.status == 200 and resp.content_type == "text/html"
    assert _policy(resp.headers) == _policy(main.headers)
    for name in ("Cache-Control", "Referrer-Policy", "X-Content-Type-Options"):
        assert resp.headers[name] == main.headers[name]
    html = await resp.text()
    [nonce] = re.findall(r"'nonce-([^']+)'", resp.headers["Content-Security-Policy"].split(";")[1])
    assert html.count(f'<script nonce="{nonce}">') == 1 and html.count(f'<style nonce="{nonce}">') == 1
    assert "ALERTS_EVERY_MS" in html and "<!--SCRIPT-->" not in html  # analysis.js inlined, not app.js
    assert "EventSource" not in html
    again = await client.get("/supervisor/analysis", headers={"Authorization": f"Bearer {TOKENS[role][0]}"})
    assert again.status == 200 and again.headers["Content-Security-Policy"] != resp.headers["Content-Security-Policy"]


@pytest.mark.parametrize("token, status", [(None, 401), ("not-a-token-0123456789", 401),
                                           (TOKENS["agent"][0], 403)])
async def test_the_analysis_page_refuses_as_the_dashboard_does(client, token, status):
    query = f"?token={token}" if token else ""
    main = await client.get(f"/supervisor{query}")
    resp = await client.get(f"/supervisor/analysis{query}")
    assert main.status == resp.status == status
    assert "Content-Security-Policy" not in resp.headers
