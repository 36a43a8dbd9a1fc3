"""The supervisor page's script renders the exchange link panel (交互通道) from the snapshot
the server sends, in Chinese by default and in English after the toggle; with the channel
off it says so. Each site's callback queue (回电): its figures, and its open requests read
from ``GET /api/callbacks`` with the page's token, anew when a step of the site's callbacks
was seen and on a timer, the numbers shown as the API masked them. The alerts in words.
The script (supervisor/static/app.js) runs under node on a stand-in DOM
(tests/unit/supervisor_page.js) built from the page's own HTML, so an element the script
looks for that the page lacks, or a label without its translation, fails here too. The page
in a real browser (layout, colours, the CSP) is the sandbox's: tests/sandbox/test_supervisor_page.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import supervisor
from hotline_link.core.events import (
    CallbackStep,
    ExchangeAlert,
    ExchangeLinkChanged,
    LinkageLeadershipNotified,
    LinkagePoliceRequested,
    LinkageRefused,
    LinkageSupervisorAlert,
    TicketIntakeAlert,
)
from supervisor.figures import Dashboard
from supervisor.schema import DashboardState
from tests.unit.page_tree import by_id, page_tree, text, walk

STATIC = Path(supervisor.__file__).parent / "static"
HARNESS = Path(__file__).with_name("supervisor_page.js")
NODE = shutil.which("node")
T0 = 1_800_000_000.0


def _page() -> dict[str, Any]:
    return page_tree((STATIC / "index.html").read_text(encoding="utf-8"))


def run_page(snapshots: list[dict[str, Any]], lang: str = "zh") -> list[dict[str, Any]]:
    """The page after each snapshot, then after a click on the language toggle."""
    return run_steps(snapshots, lang)["pages"]


def run_steps(steps: list[dict[str, Any]], lang: str = "zh",
              replies: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The page after each step (a snapshot, or ``{"timers": ms}``), then after a click on
    the language toggle (``pages``), and every read it made (``fetches``), answered from
    ``replies`` (url -> answers, each once, the last one again)."""
    if NODE is None:
        pytest.fail("node is not installed (Debian package nodejs): run 'make install'")
    done = subprocess.run([NODE, str(HARNESS), str(STATIC / "app.js")], capture_output=True, text=True, timeout=60,
                          input=json.dumps({"page": _page(), "steps": steps, "lang": lang,
                                            "replies": replies or {}}))
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def kpis(panel: dict[str, Any]) -> dict[str, str]:
    """Each figure of the panel: its key, its value as shown."""
    return {n["attrs"]["data-kpi"]: text(n["children"][0]) for n in walk(panel) if "data-kpi" in n["attrs"]}


def snapshot_of(board: Dashboard, now: float) -> dict[str, Any]:
    """The snapshot as the server sends it: the documented model, as JSON."""
    return json.loads(DashboardState.model_validate(board.snapshot(now)).model_dump_json())


def partitioned() -> dict[str, Any]:
    """12345's page while 110's server has not answered for a while."""
    board = Dashboard(("12345",), {"1001": "12345"})
    board.set_exchange({"enabled": True, "reason": "", "platform": "12345", "peer_platform": "110",
                        "state": "down", "since": T0 - 95, "error": "cannot connect to the peer (ClientConnectorError)",
                        "waiting": 4, "waiting_by_direction": {"12345->110": 3, "110->12345": 1},
                        "oldest_at": T0 - 630, "stopped_count": 1, "dead_count": 2})
    board.apply(ExchangeAlert("12345-20261124-000017", "12345", "110", "conflict", "queue stopped: seq 2"), T0 - 200)
    board.apply(ExchangeLinkChanged("12345", "110", "down", "up", T0 - 95,
                                    "cannot connect to the peer (ClientConnectorError)"), T0 - 95)
    return snapshot_of(board, T0)


def test_the_panel_shows_a_partition_with_its_backlog():
    zh, en = run_page([partitioned()])
    panel = by_id(zh, "exchange")
    assert "x-bad" in by_id(zh, "exchange-panel")["attrs"]["class"].split()  # drawn in red
    [badge] = [n for n in walk(panel) if n["attrs"].get("data-link")]
    assert (badge["attrs"]["class"], text(badge)) == ("link lk-down", "中断")
    figures = kpis(panel)
    assert figures == {"x_state": "中断", "x_since": "01:35", "x_waiting": "4", "x_oldest": "10:30",
                       "x_stopped": "1", "x_dead": "2"}
    shown = text(panel)
    assert "各方向：12345 → 110: 3 · 110 → 12345: 1" in shown
    assert "原因：cannot connect to the peer (ClientConnectorError)" in shown
    assert "最近告警：" in shown and "交互通道状态变化 up → down: cannot connect" in shown
    alerts = text(by_id(zh, "alerts"))  # the change is listed with the other alerts, after the 督办-like one
    assert alerts.index("交互通道状态变化") < alerts.index("交互通道告警")
    english = by_id(en, "exchange")
    assert kpis(english)["x_state"] == "down" and "Cause: cannot connect to the peer" in text(english)
    assert "Waiting messages" in text(english) and "Each way: 12345 → 110: 3 · 110 → 12345: 1" in text(english)
    assert text(next(n for n in walk(en) if n["attrs"].get("data-i18n") == "exchange")) == "Exchange link"


def test_the_panel_says_the_channel_is_off_in_one_deployment():
    zh, en = run_page([snapshot_of(Dashboard(("12345", "110"), {}), T0)])
    assert text(by_id(zh, "exchange")) == "未启用（单一部署，无对端）"
    assert "x-bad" not in by_id(zh, "exchange-panel")["attrs"]["class"]
    assert text(by_id(en, "exchange")) == "off (single deployment, no peer)"


def test_the_link_back_up_is_drawn_green_and_calm():
    board = Dashboard(("12345",), {"1001": "12345"})
    board.set_exchange({"enabled": True, "platform": "12345", "peer_platform": "110", "state": "up", "since": T0 - 5})
    [zh, _] = run_page([snapshot_of(board, T0)])
    panel = by_id(zh, "exchange")
    assert [n["attrs"]["class"] for n in walk(panel) if n["attrs"].get("data-link")] == ["link lk-up"]
    assert kpis(panel)["x_oldest"] == "–" and "原因" not in text(panel)
    assert by_id(zh, "exchange-panel")["attrs"]["class"] == "panel"


def test_every_label_of_the_page_is_translated_both_ways():
    zh, en = run_page([partitioned()])
    chinese = {n["attrs"]["data-i18n"]: text(n) for n in walk(zh) if "data-i18n" in n["attrs"]}
    english = {n["attrs"]["data-i18n"]: text(n) for n in walk(en) if "data-i18n" in n["attrs"]}
    assert {"exchange", "alerts", "linkage"} <= set(chinese) and set(chinese) == set(english)
    untranslated = [key for key, shown in chinese.items() if not re.search(r"[\u4e00-\u9fff]", shown)]
    assert untranslated == [], untranslated  # a key shown as itself: no Chinese label
    assert [key for key in chinese if english[key] == chinese[key]] == []  # no English label


def test_the_script_finds_every_element_it_asks_for():
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    ids = {n["attrs"]["id"] for n in walk(_page()) if "id" in n["attrs"]}
    asked = set(re.findall(r'\$\("([A-Za-z0-9_-]+)"\)', script))
    assert {"exchange", "exchange-panel"} <= asked and asked <= ids, asked - ids


def test_the_page_stays_within_its_content_security_policy():
    """The page is served under script-src and style-src nonces only: no inline handler,
    no style attribute, no markup built from strings."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    assert not re.search(r"\son[a-z]+=|\sstyle=|<script|<style", html, re.IGNORECASE)
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|\.style\b|setAttribute\(\"style|eval\(", script)
    assert html.count("<!--SCRIPT-->") == 1 and html.count("<!--STYLE-->") == 1


# --- the callback queue (回电) and the closed loop's alerts ------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")
CALLBACKS_EVERY_MS = 30000


def _step(step: str, *, site: str = "12345", source: str = "ivr", attempt: int = 0, pending: int = 1,
          reason: str = "", request_id: str = "cb1") -> CallbackStep:
    return CallbackStep(request_id=request_id, site=site, ticket_id="12345-20261207-000001", source=source,
                        stage="x", step=step, attempt=attempt, agent="1001", reason=reason, pending=pending)


def busy_board() -> Dashboard:
    """Two platforms with callback queues and the remote seats (no queue), after an hour of
    callback steps on 12345."""
    board = Dashboard(("12345", "110", "remote"), {"1001": "12345"})
    for i, step in enumerate([
            _step("requested"), _step("agent_answered", attempt=1), _step("connected", attempt=1, pending=0),
            _step("requested", source="missed", request_id="cb2"),
            _step("agent_answered", source="missed", attempt=1, request_id="cb2"),
            _step("failed", source="missed", attempt=3, request_id="cb2", pending=0),
            _step("requested", source="missed", request_id="cb3"),
            _step("skipped", source="missed", reason="answered", request_id="cb3", pending=0),
            _step("requested", source="missed", request_id="cb4"),
            _step("skipped", source="missed", reason="answered", request_id="cb4", pending=0),
            _step("requested", source="web", request_id="cb5", pending=1),
            _step("requested", source="missed", request_id="cb6", pending=2)]):
        board.apply(step, T0 - 300 + i)
    return board


def request(id_: str, number: str, *, stage: str = "pending", source: str = "missed", attempts: int = 0,
            agent: str | None = None, created_at: float = T0 - 125.5) -> dict[str, Any]:
    """One open request as GET /api/callbacks gives it (the number masked there)."""
    return {"id": id_, "site": "12345", "number": number, "source": source, "sources": [source],
            "ticket_id": None, "other_tickets": [], "call_id": "c-" + id_, "stage": stage, "attempts": attempts,
            "max_attempts": 3, "agent": agent, "created_at": created_at, "due_at": created_at + 60,
            "deadline": None, "reason": ""}


def listing(site: str, *requests: dict[str, Any]) -> dict[str, Any]:
    return {"status": 200, "body": {"sites": [{"site": site, "pending": len(requests), "requests": list(requests)}]}}


def site_card(page: dict[str, Any], site: str) -> dict[str, Any]:
    [card] = [n for n in walk(page) if n["tag"] == "article" and n["attrs"].get("data-site") == site]
    return card


def callback_part(page: dict[str, Any], site: str) -> dict[str, Any] | None:
    found = [n for n in walk(site_card(page, site)) if n["attrs"].get("data-callbacks") == site]
    return found[0] if found else None


def rows(part: dict[str, Any]) -> list[list[str]]:
    return [[text(td) for td in tr["children"]] for tr in walk(part) if "data-callback" in tr["attrs"]]


URL_12345, URL_110, URL_REMOTE = ("/api/callbacks?site=12345", "/api/callbacks?site=110",
                                  "/api/callbacks?site=remote")
FIRST = listing("12345", request("cb5", "138****1234", source="web"),
                request("cb6", "0532****5678", stage="agent_ringing", attempts=1, agent="1002"),
                request("cb7", "139****0000", stage="retry", attempts=2, source="ivr"))
REPLIES = {URL_12345: [FIRST, listing("12345", request("cb6", "0532****5678", stage="connecting", attempts=1,
                                                       agent="1002"))],
           URL_110: [listing("110")],
           URL_REMOTE: [{"status": 403, "body": {"error": {"code": "forbidden",
                                                           "message": "platform remote has no callback queue here"}}}]}


def test_each_site_shows_its_callback_figures_and_open_requests_as_masked():
    board = busy_board()
    run = run_steps([snapshot_of(board, T0)], replies={k: list(v) for k, v in REPLIES.items()})
    zh, en = run["pages"]
    part = callback_part(zh, "12345")
    assert part is not None and text(part).startswith("回电")
    assert kpis(part) == {"callbacks_pending": "2", "callbacks_done": "1", "callbacks_failed": "1",
                          "missed_callbacks_made": "1", "missed_callbacks_skipped": "2"}
    shown = text(part)
    for label in ("待回电", "回电接通（近1小时）", "回电未接通（近1小时）", "漏接回拨（近1小时）",
                  "漏接已接通免回拨（近1小时）"):
        assert label in shown
    assert rows(part) == [["138****1234", "网上申请", "排队待回", "0/3", "02:05"],
                          ["0532****5678", "漏接来电", "座席振铃 1002", "1/3", "02:05"],
                          ["139****0000", "自助语音", "待重试", "2/3", "02:05"]]
    numbers = [text(n) for n in walk(zh) if "data-number" in n["attrs"]]
    assert numbers == ["138****1234", "0532****5678", "139****0000"]  # as given: never unmasked, never altered
    cells = [text(n) for n in walk(part) if n["tag"] == "td"]
    assert cells and not [c for c in cells if re.search(r"\d{7,}", c)]  # no whole number in the list
    assert text(callback_part(zh, "110")).endswith("无待回电请求")
    assert kpis(callback_part(zh, "110"))["callbacks_pending"] == "0"
    assert callback_part(zh, "remote") is None  # no queue there: no callback figures either
    assert run["fetches"] == [{"url": url, "method": "GET", "authorization": "Bearer t"}
                              for url in (URL_12345, URL_110, URL_REMOTE)]  # the page's token, as a header
    english = callback_part(en, "12345")
    assert english is not None and not CJK.search(text(english))
    assert "Pending callbacks" in text(english) and "Missed-call callbacks (1 h)" in text(english)
    assert rows(english)[1] == ["0532****5678", "missed call", "agent ringing 1002", "1/3", "02:05"]


def test_the_list_is_read_anew_when_a_step_is_seen_and_on_the_timer():
    board = busy_board()
    first = snapshot_of(board, T0)
    again = snapshot_of(board, T0 + 1)  # nothing about callbacks happened: no read
    board.apply(_step("offered", request_id="cb6", pending=2), T0 + 2)  # a step that moves no figure
    stepped = snapshot_of(board, T0 + 3)
    run = run_steps([first, again, stepped, {"timers": CALLBACKS_EVERY_MS}],
                    replies={k: list(v) for k, v in REPLIES.items()})
    urls = [f["url"] for f in run["fetches"]]
    assert urls == [URL_12345, URL_110, URL_REMOTE,  # the first snapshot: every site
                    URL_12345,  # the step on 12345
                    URL_12345, URL_110]  # the timer: every site with a queue (remote has none)
    _, after_again, after_step, after_timer, _ = run["pages"]
    assert len(rows(callback_part(after_again, "12345"))) == 3
    assert rows(callback_part(after_step, "12345")) == [["0532****5678", "漏接来电", "呼叫市民 1002", "1/3", "02:08"]]
    assert rows(callback_part(after_timer, "12345"))[0][0] == "0532****5678"


def test_a_long_list_is_cut_and_an_unreadable_queue_says_so():
    board = busy_board()
    many = listing("12345", *(request(f"cb{i}", f"13{i}****00{i:02d}") for i in range(11)))
    run = run_steps([snapshot_of(board, T0), {"timers": CALLBACKS_EVERY_MS}], replies={
        URL_12345: [many, {"status": 503, "body": {"error": {"code": "unavailable", "message": "redis"}}}],
        URL_110: [{"status": 500, "body": {}}, listing("110")]})
    listed, failed, _ = run["pages"]
    part = callback_part(listed, "12345")
    assert len(rows(part)) == 8 and text(part).endswith("另有 3 条")
    assert "回电队列暂时读不到" in text(callback_part(listed, "110"))  # and the figures still shown
    assert kpis(callback_part(listed, "110"))["callbacks_pending"] == "0"
    part = callback_part(failed, "12345")  # a failed read keeps what was read before, and says so
    assert "回电队列暂时读不到" in text(part) and len(rows(part)) == 8
    assert "暂时读不到" not in text(callback_part(failed, "110"))


ALERT_WORDS = {  # kind -> (Chinese, English) as the page lists it
    "ticket.intake_alert": ("网上/短信报事含紧急情形，请立即处置", "web/SMS/app report with an emergency cue: act now"),
    "linkage.refused": ("单位拒收，需重新派单", "a unit refused the case: dispatch it anew"),
    "linkage.police_requested": ("单位请求联动110", "a unit asked for the police (110)"),
    "linkage.leadership_notified": ("重大事件已上报领导", "major incident: leadership notified"),
}


def test_each_new_alert_kind_is_listed_in_clear_words():
    board = Dashboard(("12345", "110"), {"1001": "12345"})
    ticket = "12345-20261124-000017"
    board.apply(TicketIntakeAlert(ticket, "12345", "web", "网站", "有人被困"), T0 - 40)
    board.apply(LinkageRefused(ticket, "QD-WATER", "12345", "不属于供水管网"), T0 - 30)
    board.apply(LinkageSupervisorAlert(ticket, "QD-WATER", "12345", "the lead unit refused the case"), T0 - 30)
    board.apply(LinkagePoliceRequested(ticket, "QD-GAS", "12345", "有人持刀"), T0 - 20)
    board.apply(LinkageLeadershipNotified(ticket, "12345", "QD-GAS", ["市政府总值班室"]), T0 - 10)
    zh, en = run_page([snapshot_of(board, T0)])
    for page, which in ((zh, 0), (en, 1)):
        items = [n for n in walk(by_id(page, "alerts")) if n["tag"] == "li"]
        assert [n["attrs"]["data-kind"] for n in items] == [
            "linkage.leadership_notified", "linkage.police_requested", "linkage.refused", "ticket.intake_alert"]
        for item in items:
            words = ALERT_WORDS[item["attrs"]["data-kind"]][which]
            assert words in text(item) and "alert_" not in text(item), text(item)
    [refused] = [n for n in walk(by_id(zh, "alerts")) if n["attrs"].get("data-kind") == "linkage.refused"]
    assert text(refused).endswith("单位拒收，需重新派单 [12345] 12345-20261124-000017 QD-WATER 不属于供水管网")


def test_a_risk_alert_is_listed_in_its_words_and_the_analysis_page_is_linked():
    """``analysis.alert`` (the joint analysis' early warning): 风险预警：… / risk alert: …,
    emphasised as an intake alert is; the link to the analysis page carries the token."""
    board = Dashboard(("12345", "110"), {"1001": "12345"})
    board.apply(TicketIntakeAlert("12345-20261124-000017", "12345", "web", "网站", "有人被困"), T0 - 40)
    snapshot = snapshot_of(board, T0)
    snapshot["alerts"].append({"at": T0 - 5, "kind": "analysis.alert", "site": "12345",
                               "detail": "供水 320602：1 小时 8 件（基线 1.5）"})
    zh, en = run_page([snapshot])
    [risk] = [n for n in walk(by_id(zh, "alerts")) if n["attrs"].get("data-kind") == "analysis.alert"]
    assert text(risk).endswith(" 风险预警：供水 320602：1 小时 8 件（基线 1.5） [12345]")
    [risk] = [n for n in walk(by_id(en, "alerts")) if n["attrs"].get("data-kind") == "analysis.alert"]
    assert text(risk).endswith(" risk alert: 供水 320602：1 小时 8 件（基线 1.5） [12345]")
    link = by_id(zh, "analysis-link")
    assert link["attrs"]["href"] == "/supervisor/analysis?token=t" and text(link) == "联合分析与风险预警 →"
    assert text(by_id(en, "analysis-link")) == "Joint analysis and early warning →"
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    [rule] = [r for r in css.split("}") if 'li[data-kind="ticket.intake_alert"]' in r]
    assert 'li[data-kind="analysis.alert"]' in rule and "font-weight: bold" in rule
