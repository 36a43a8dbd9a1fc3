"""The desk page's script (desk/static/app.js) on the page as the server serves it, under
node on a stand-in DOM (tests/unit/desk_page.js) with a fake agent WebSocket, fetch, JsSIP
and clock: the screen pop fills from a ringing message and the screen, the buttons follow
the call, an action's error shows in words in both languages, a reconnect re-reads the
call, and every label has both languages; the callback queue, the ticket's recordings (a
blob: URL fetched with the token), severity and the dispatch's role; knowledge entries
suggested once typing pauses (one request for several keystrokes), quietly when that fails.
An element the script asks for that the page lacks fails here too."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import desk
from desk.page import desk_config, headers, render
from desk.schema import DeskConfig, SoftphoneConfig
from hotline_link.core.settings import Settings, SiteSettings
from seat_pool.state import SeatState
from tests.unit.page_tree import Tree, by_id, page_tree, text, walk

STATIC = Path(desk.__file__).parent / "static"
HARNESS = Path(__file__).with_name("desk_page.js")
NODE = shutil.which("node")
TOKEN = "t0k-1001"
CALL = "hl12345-1795530292.2"
TICKET = "12345-20261124-000017"
CALL_PATH = "GET /api/agents/1001/call"
SCREEN_PATH = "GET /api/agents/1001/screen"
NO_CALL = {"status": 404, "body": {"error": {"code": "call_not_found", "message": "agent 1001 is on no call"}}}
RINGING = {"type": "ringing", "call_id": CALL, "site": "12345", "agent": "1001", "caller": "138****1234",
           "ticket": {"id": TICKET, "category": "噪音", "summary": "楼上装修", "source_platform": "",
                      "source_ticket": ""}}
ANSWERED = {"type": "answered", "call_id": CALL, "site": "12345", "caller": "138****1234",
            "answered_by": "PJSIP/1001-00000001", "wait_s": 1.5}
SCREEN = {"call_id": CALL, "site": "12345", "caller": "138****1234", "state": "ringing",
          "ticket": {"id": TICKET, "category": "噪音", "summary": "楼上装修", "division_code": "321323",
                     "emergency": False, "restricted": False, "source_platform": None, "source_ticket": None,
                     "source_category": None, "source_summary": None},
          "recommendation": {"platform": "12345", "category": "噪音扰民", "emergency": False, "confidence": 0.87},
          "open_tickets": [{"id": "12345-20261120-000003", "category": "噪音", "summary": "夜间施工",
                            "created_at": 1_795_400_000.0, "status": "dispatched"}],
          "recent_calls": [{"call_id": "hl12345-1795400000.1", "started_at": 1_795_400_000.0,
                            "answered_by": "1002"}]}


def config(platform: str = "12345", mode: str = "webrtc", **changes: Any) -> DeskConfig:
    """The page's config as the server builds it for agent 1001."""
    site = SiteSettings(platform, platform, 25060, 25038, 30000, 30999, ("1001",),
                        webrtc_agents=("1001",) if mode == "webrtc" else (), wss_port=25089 if mode == "webrtc" else 0)
    phone = SoftphoneConfig(mode=mode, ws_url=site.webrtc_url(), sip_uri="sip:1001@127.0.0.1",  # type: ignore[arg-type]
                            authorization_user="1001", password="pw-1001-0123456789" if mode == "webrtc" else None,
                            display_name=f"{platform} 1001")
    built = desk_config(Settings(ami_secret="x"), site, "1001", phone, SeatState.IDLE, 0.0)
    return built.model_copy(update=changes)


def served(cfg: DeskConfig) -> Tree:
    """The page as served, its inline scripts and stylesheet left out (the harness runs the
    script itself) but for the config block."""
    tree = page_tree(render(cfg, "n0nce", "/* JsSIP */"))
    for node in walk(tree):
        node["children"] = [c for c in node["children"] if not (
            isinstance(c, dict) and c["tag"] in ("script", "style") and c["attrs"].get("id") != "desk-config")]
    return tree


def run_desk(steps: list[dict[str, Any]], routes: dict[str, Any] | None = None, cfg: DeskConfig | None = None,
             lang: str = "zh") -> list[dict[str, Any]]:
    """What the fakes saw and the page, once the script started and after each step."""
    if NODE is None:
        pytest.fail("node is not installed (Debian package nodejs): run 'make install'")
    routes = {CALL_PATH: NO_CALL, **(routes or {})}
    done = subprocess.run([NODE, str(HARNESS), str(STATIC / "app.js")], capture_output=True, text=True, timeout=60,
                          input=json.dumps({"page": served(cfg or config()), "routes": routes, "steps": steps,
                                            "lang": lang}))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def button(page: Tree, action: str) -> Tree:
    [found] = [n for n in walk(page) if n["attrs"].get("data-action") == action]
    return found


def enabled(page: Tree, *actions: str) -> set[str]:
    """Those of ``actions`` whose button can be clicked now."""
    return {a for a in actions if not button(page, a)["disabled"]}


def state(page: Tree, id_: str) -> str:
    return by_id(page, id_)["attrs"]["data-state"]


CALL_ACTIONS = ("answer", "hangup", "mute", "hold", "transfer", "consult", "consult-complete", "consult-cancel",
                "conference", "conference-leave")


def test_a_ringing_message_fills_the_screen_pop():
    [_, ringing] = run_desk([{"ws": RINGING}], {SCREEN_PATH: {"status": 200, "body": SCREEN}})
    page = ringing["page"]
    assert state(page, "call-state") == "ringing" and state(page, "seat-state") == "ringing"
    assert text(by_id(page, "screen-caller")) == "138****1234"
    assert text(by_id(page, "screen-ticket")) == f"{TICKET} · 噪音 · 楼上装修"
    assert text(by_id(page, "screen-recommendation")) == "12345 政务服务热线 · 噪音扰民 · 置信度 87%"
    assert "12345-20261120-000003" in text(by_id(page, "screen-open-tickets"))
    assert "1002" in text(by_id(page, "screen-recent-calls"))
    form = {id_: by_id(page, id_)["value"] for id_ in ("t-category", "t-summary", "t-division")}
    assert form == {"t-category": "噪音", "t-summary": "楼上装修", "t-division": "321323"}
    asked = [(f["method"], f["url"], f["authorization"]) for f in ringing["fetches"]]
    assert ("GET", "/api/agents/1001/screen", f"Bearer {TOKEN}") in asked
    assert ("GET", f"/api/tickets/{TICKET}/dispatch", f"Bearer {TOKEN}") in asked  # the units proposed for it


def test_a_case_handed_over_pops_up_with_where_it_came_from_even_without_a_screen():
    handed = {**RINGING, "type": "transferred_in", "caller": "139****5462",
              "ticket": {"id": "12345-20261124-000018", "category": "纠纷", "summary": "邻里纠纷",
                         "source_platform": "110", "source_ticket": "110-20261124-000007"}}
    [_, ringing] = run_desk([{"ws": handed}])  # the screen answers 404: what the socket said stays
    page = ringing["page"]
    assert text(by_id(page, "screen-caller")) == "139****5462 · 由110转来"
    assert text(by_id(page, "screen-ticket")) == ("12345-20261124-000018 · 纠纷 · 邻里纠纷 · 原单号 "
                                                  "110-20261124-000007")
    assert text(by_id(page, "screen-recommendation")) == "无" and by_id(page, "error")["hidden"]


def test_the_browser_phone_registers_and_its_buttons_follow_the_call():
    steps = [{"sip": "registered"}, {"sip": "incoming"}, {"ws": RINGING}, {"key": "F2"}, {"sip": "confirmed"},
             {"sip": "track"}, {"ws": ANSWERED}, {"click": "mute"}, {"click": "dtmf", "data_key": "5"},
             {"click": "hold"}, {"click": "hold"}, {"key": "F4"}, {"sip": "ended"}]
    start, registered, incoming, ringing, answering, confirmed, track, talking, muted, dtmf, held, resumed, \
        hanging_up, ended = run_desk(steps, {SCREEN_PATH: {"status": 200, "body": SCREEN}})
    assert start["sip"][0] == ["ua", {"ws_url": "wss://127.0.0.1:25089/ws", "uri": "sip:1001@127.0.0.1",
                                      "authorization_user": "1001", "password": "pw-1001-0123456789",
                                      "display_name": "12345 1001", "register": True}]
    assert state(start["page"], "sip-state") == "unregistered" and state(start["page"], "call-state") == "idle"
    assert enabled(start["page"], *CALL_ACTIONS) == set()
    assert state(registered["page"], "sip-state") == "registered"
    assert enabled(incoming["page"], *CALL_ACTIONS) == {"answer", "hangup"}
    assert state(ringing["page"], "call-state") == "ringing"
    assert answering["sip"] == [["answer", {"mediaConstraints": {"audio": True, "video": False},
                                            "pcConfig": {"iceServers": []}}]]
    assert enabled(confirmed["page"], *CALL_ACTIONS) == {"hangup", "mute", "hold", "transfer", "consult", "conference"}
    assert by_id(track["page"], "remote-audio")["srcObject"] == "remote-stream"
    assert state(talking["page"], "call-state") == "talking"
    assert muted["sip"] == [["mute", {"audio": True}]] and text(button(muted["page"], "mute")) == "取消静音"
    assert dtmf["sip"] == [["dtmf", "5"]]
    assert held["sip"] == [["hold"]] and state(held["page"], "call-state") == "held"
    assert resumed["sip"] == [["unhold"]] and state(resumed["page"], "call-state") == "talking"
    assert hanging_up["sip"] == [["terminate", None]]
    assert by_id(ended["page"], "remote-audio").get("srcObject") is None
    assert enabled(ended["page"], "answer", "hangup", "mute") == set()


def test_consult_and_three_way_buttons_follow_the_server_answers():
    routes = {f"POST /api/calls/{CALL}/consult": {"status": 202, "body": {"state": "ringing"}},
              f"POST /api/calls/{CALL}/consult/cancel": {"status": 200, "body": {}},
              f"POST /api/calls/{CALL}/conference": {"status": 200, "body": {"state": "joined"}},
              f"DELETE /api/calls/{CALL}/conference/1001": {"status": 202, "body": {"state": "joined"}}}
    steps = [{"ws": ANSWERED}, {"key": "F7"}, {"click": "consult-cancel"}, {"key": "F8"},
             {"click": "conference-leave"}]
    _, talking, consulting, cancelled, conference, left = run_desk(steps, routes, config(mode="sip"))
    handover = ("transfer", "consult", "conference", "consult-complete", "consult-cancel", "conference-leave")
    assert enabled(talking["page"], *handover) == {"transfer", "consult", "conference"}
    assert [(f["method"], f["url"], f["body"]) for f in consulting["fetches"]] == [
        ("POST", f"/api/calls/{CALL}/consult", {"target": "110"})]
    assert state(consulting["page"], "call-state") == "consulting"
    assert enabled(consulting["page"], *handover) == {"consult-complete", "consult-cancel"}
    assert state(cancelled["page"], "call-state") == "talking"
    assert conference["fetches"][0]["url"] == f"/api/calls/{CALL}/conference"
    assert state(conference["page"], "call-state") == "conference"
    assert enabled(conference["page"], *handover) == {"conference-leave"}
    assert [(f["method"], f["url"]) for f in left["fetches"]] == [("DELETE", f"/api/calls/{CALL}/conference/1001")]
    assert state(left["page"], "call-state") == "idle" and text(by_id(left["page"], "notice")).startswith("已退出三方")


def test_a_consult_that_ends_on_the_server_brings_the_buttons_back_and_says_why():
    routes = {f"POST /api/calls/{CALL}/consult": {"status": 202, "body": {"state": "dialling"}}}
    ended = {"type": "transfer_failed", "call_id": CALL, "agent": "1001", "via": "consult"}
    steps = [{"ws": ANSWERED}, {"click": "consult"}, {"ws": {**ended, "reason": "target_left"}},
             {"click": "consult"}, {"ws": {**ended, "reason": "cancelled"}}]
    *_, left, again, cancelled = run_desk(steps, routes, config(mode="sip"))
    assert state(left["page"], "call-state") == "talking"  # the target hung up: the caller is back
    assert text(by_id(left["page"], "error")) == "对方已挂断，来电已回到您这里"
    assert state(again["page"], "call-state") == "consulting"
    assert state(cancelled["page"], "call-state") == "talking"
    assert by_id(cancelled["page"], "error")["hidden"]  # the agent's own cancel (another tab) is no error


def test_a_desk_phone_is_not_registered_and_the_page_controls_the_call_only():
    [start, ringing, talking] = run_desk([{"ws": RINGING}, {"ws": ANSWERED}], cfg=config(mode="sip"))
    assert start["sip"] == [] and state(start["page"], "sip-state") == "desk-phone"
    assert not by_id(start["page"], "sip-note")["hidden"]
    assert enabled(ringing["page"], *CALL_ACTIONS) == set()  # the phone on the desk rings and answers
    assert enabled(talking["page"], *CALL_ACTIONS) == {"transfer", "consult", "conference"}


def test_a_transfer_sends_the_case_and_hands_the_caller_over():
    routes = {f"POST /api/calls/{CALL}/transfer?wait=ring": {"status": 202, "body": {"state": "ringing"}}}
    steps = [{"ws": ANSWERED}, {"value": {"t-category": "治安", "t-summary": "邻居打架"}}, {"key": "F6"}]
    *_, transferred = run_desk(steps, routes, config(mode="sip"))
    [sent] = transferred["fetches"]
    assert (sent["method"], sent["url"], sent["body"]) == (
        "POST", f"/api/calls/{CALL}/transfer?wait=ring", {"target": "110", "category": "治安", "summary": "邻居打架"})
    assert state(transferred["page"], "call-state") == "idle"
    assert text(by_id(transferred["page"], "notice")) == "已转至110，对方振铃中"


@pytest.mark.parametrize("code, chinese, english", [
    ("target_busy", "对方忙，来电已回到您这里", "target busy: the caller is back with you"),
    ("no_answer", "对方无人接听，来电已回到您这里", "no answer: the caller is back with you"),
    ("target_unreachable", "对方线路不通，来电已回到您这里",
     "the other platform cannot be reached: the caller is back with you"),
    ("caller_hung_up", "来电人已挂机", "the caller hung up"),
    ("not_your_call", "这不是您的通话", "this is not your call"),
])
def test_a_transfer_error_shows_its_words_in_both_languages(code, chinese, english):
    refused = {"status": 409, "body": {"error": {"code": code, "message": "transfer failed"}}}
    steps = [{"ws": ANSWERED}, {"click": "transfer"}, {"click": "lang"}]
    *_, zh, en = run_desk(steps, {f"POST /api/calls/{CALL}/transfer?wait=ring": refused}, config(mode="sip"))
    for entry, words in ((zh, chinese), (en, english)):
        shown = by_id(entry["page"], "error")
        assert (shown["hidden"], shown["attrs"]["data-code"], text(shown)) == (False, code, words)
    assert state(zh["page"], "call-state") == "talking"  # the caller is still here: the buttons again


def test_every_documented_error_code_has_words_of_its_own():
    codes = ["target_busy", "no_answer", "target_unreachable", "caller_hung_up", "caller_gone", "operation_in_progress",
             "caller_would_be_alone", "conference_exists", "not_your_call", "forbidden", "asterisk_refused",
             "asterisk_error", "redis_unavailable", "push_refused", "call_not_found", "target_left",
             "consult_not_answered", "no_consult", "unauthorized"]
    steps = [{"ws": ANSWERED}]
    for code in codes:  # the transfer fails later, after ringing: the socket says why
        steps += [{"ws": {"type": "transfer_failed", "call_id": CALL, "agent": "1001", "reason": code}}]
    steps += [{"click": "lang"}]
    entries = run_desk(steps, cfg=config(mode="sip"))
    chinese = [text(by_id(e["page"], "error")) for e in entries[2:-1]]
    english = text(by_id(entries[-1]["page"], "error"))
    assert all(re.search(r"[\u4e00-\u9fff]", words) and "操作失败" not in words for words in chinese), chinese
    assert len(set(chinese)) == len(codes) - 1  # caller_gone and caller_hung_up say the same
    assert english == "your token is no longer valid: reopen the desk"  # the last code's, in English


def test_an_unknown_error_code_is_shown_with_its_code():
    refused = {"status": 500, "body": {"error": {"code": "internal_error", "message": "see the server log"}}}
    *_, failed = run_desk([{"ws": ANSWERED}, {"click": "conference"}],
                          {f"POST /api/calls/{CALL}/conference": refused}, config(mode="sip"))
    assert text(by_id(failed["page"], "error")) == "操作失败（internal_error）see the server log"


def test_a_reconnect_rereads_the_call_and_the_screen():
    routes = {CALL_PATH: [NO_CALL, {"status": 200, "body": {
        "call_id": CALL, "site": "12345", "caller": "138****1234", "state": "talking", "ticket_id": TICKET,
        "ticket": {"id": TICKET, "category": "噪音", "summary": "楼上装修", "source_platform": None,
                   "source_ticket": None}}}],
              SCREEN_PATH: {"status": 200, "body": {**SCREEN, "state": "talking"}}}
    start, dropped, back = run_desk([{"ws_close": True}, {"advance": 1300}], routes)
    assert [f["url"] for f in start["fetches"]].count("/api/agents/1001/call") == 1
    assert state(start["page"], "call-state") == "idle" and by_id(start["page"], "connection")["attrs"]["class"] == \
        "conn conn-up"
    assert by_id(dropped["page"], "connection")["attrs"]["data-i18n"] == "offline_conn"
    assert len(back["sockets"]) == 2 and back["sockets"][1] == f"ws://127.0.0.1:8080/api/agents/1001/events?token={TOKEN}"
    urls = [f["url"] for f in back["fetches"]]
    assert "/api/agents/1001/call" in urls and "/api/agents/1001/screen" in urls
    assert state(back["page"], "call-state") == "talking"
    assert text(by_id(back["page"], "screen-ticket")).startswith(TICKET)
    assert enabled(back["page"], "transfer", "consult", "conference") == {"transfer", "consult", "conference"}


def test_a_call_that_ended_while_the_socket_was_down_is_gone_after_the_reconnect():
    routes = {CALL_PATH: [{"status": 200, "body": {"call_id": CALL, "site": "12345", "caller": "138****1234",
                                                   "state": "talking", "ticket_id": None, "ticket": None}}, NO_CALL]}
    start, _, back = run_desk([{"ws_close": True}, {"advance": 1300}], routes, config(mode="sip"))
    assert state(start["page"], "call-state") == "talking"
    assert state(back["page"], "call-state") == "idle"


def test_a_new_call_starts_from_an_empty_ticket_and_reads_its_own_once_answered():
    second = "hl12345-1795530400.9"
    ticket = {"id": "12345-20261124-000020", "category": "停水", "summary": "小区停水", "source_platform": None,
              "source_ticket": None}
    routes = {CALL_PATH: [NO_CALL, {"status": 200, "body": {"call_id": second, "site": "12345", "caller": "137****0000",
                                                            "state": "talking", "ticket_id": ticket["id"],
                                                            "ticket": ticket}}]}
    steps = [{"ws": RINGING}, {"ws": ANSWERED}, {"ws": {"type": "hung_up", "call_id": CALL}},
             {"ws": {**RINGING, "call_id": second, "caller": "137****0000", "ticket": None}},
             {"ws": {**ANSWERED, "call_id": second, "caller": "137****0000"}}]
    *_, ended, ringing, answered = run_desk(steps, routes, config(mode="sip"))
    assert enabled(ended["page"], "save") == {"save"}  # the last call's ticket, for the after-call work
    assert text(by_id(ringing["page"], "screen-ticket")) == "无" and enabled(ringing["page"], "save") == set()
    assert [by_id(ringing["page"], f)["value"] for f in ("t-category", "t-summary")] == ["", ""]
    assert text(by_id(answered["page"], "screen-ticket")) == "12345-20261124-000020 · 停水 · 小区停水"
    assert by_id(answered["page"], "t-category")["value"] == "停水"


def test_the_token_leaves_the_address_bar_and_rides_in_every_request():
    [start] = run_desk([])
    assert start["replaced"] == ["/desk"]
    assert start["sockets"] == [f"ws://127.0.0.1:8080/api/agents/1001/events?token={TOKEN}"]
    assert start["fetches"] and {f["authorization"] for f in start["fetches"]} == {f"Bearer {TOKEN}"}


def test_pause_with_a_reason_then_ready():
    routes = {"POST /api/agents/1001/pause": {"status": 200, "body": {"agent": "1001", "site": "12345",
                                                                       "state": "paused", "reason": "培训"}},
              "POST /api/agents/1001/ready": {"status": 200, "body": {"agent": "1001", "site": "12345",
                                                                       "state": "idle", "reason": None}}}
    start, _, paused, ready = run_desk([{"value": {"pause-reason": "培训"}}, {"click": "pause"},
                                        {"click": "ready"}], routes)
    assert state(start["page"], "seat-state") == "idle" and enabled(start["page"], "ready", "pause") == {"pause"}
    assert [(f["url"], f["body"]) for f in paused["fetches"]] == [("/api/agents/1001/pause", {"reason": "培训"})]
    assert state(paused["page"], "seat-state") == "paused" and text(by_id(paused["page"], "seat-state")) == "暂停：培训"
    assert enabled(paused["page"], "ready", "pause") == {"ready"}
    assert state(ready["page"], "seat-state") == "idle"


def test_wrap_up_counts_down_to_idle():
    hung_up = {"type": "hung_up", "call_id": CALL, "site": "12345", "caller": "138****1234",
               "answered_by": "PJSIP/1001-00000001", "cause": "16", "reason": "caller", "duration_s": 30.0}
    _, _, wrap, later, over = run_desk([{"ws": ANSWERED}, {"ws": hung_up}, {"advance": 10_000}, {"advance": 20_000}],
                                       cfg=config(mode="sip", wrap_up_s=30.0))
    assert state(wrap["page"], "seat-state") == "wrap_up" and text(by_id(wrap["page"], "seat-countdown")) == "30s"
    assert text(by_id(later["page"], "seat-countdown")) == "20s" and enabled(later["page"], "ready") == {"ready"}
    assert state(over["page"], "seat-state") == "idle" and by_id(over["page"], "seat-countdown")["hidden"]


def test_the_ticket_is_saved_pushed_and_dispatched_after_the_call():
    units = {"jurisdiction": "qidong", "version": "1", "units": [
        {"id": "QD-POWER", "name": "供电公司"}, {"id": "QD-WATER", "name": "自来水公司"}]}
    routes = {SCREEN_PATH: {"status": 200, "body": SCREEN}, "GET /api/units": {"status": 200, "body": units},
              f"GET /api/tickets/{TICKET}/dispatch": {"status": 200, "body": {"proposed_units": [{"id": "QD-WATER"}]}},
              f"PATCH /api/tickets/{TICKET}": {"status": 200, "body": {"id": TICKET, "category": "停水",
                                                                       "summary": "小区停水"}},
              f"POST /api/tickets/{TICKET}/push": {"status": 202, "body": {"state": "queued"}},
              f"POST /api/tickets/{TICKET}/dispatch": {"status": 201, "body": {"unit": "QD-WATER",
                                                                               "unit_name": "自来水公司"}}}
    hung_up = {"type": "hung_up", "call_id": CALL}
    steps = [{"ws": RINGING}, {"ws": ANSWERED}, {"ws": hung_up},
             {"value": {"t-category": "停水", "t-summary": "小区停水", "t-division": ""}},
             {"checked": {"t-emergency": True}}, {"click": "save"}, {"click": "push"}, {"click": "dispatch"}]
    entries = run_desk(steps, routes)
    ended, saved, pushed, dispatched = entries[3], entries[6], entries[7], entries[8]
    assert state(ended["page"], "call-state") == "idle" and enabled(ended["page"], "save", "push", "dispatch") == {
        "save", "push", "dispatch"}
    assert by_id(ended["page"], "dispatch-unit")["value"] == "QD-WATER"  # the proposed unit first
    assert [(f["method"], f["body"]) for f in saved["fetches"]] == [
        ("PATCH", {"category": "停水", "summary": "小区停水", "emergency": True})]  # no division code: left as it was
    assert text(by_id(saved["page"], "notice")) == "工单已保存"
    assert [(f["url"], f["body"]) for f in pushed["fetches"]] == [(f"/api/tickets/{TICKET}/push", {"target": "110"})]
    assert [(f["url"], f["body"]) for f in dispatched["fetches"]] == [
        (f"/api/tickets/{TICKET}/dispatch", {"unit": "QD-WATER", "role": "lead"})]  # 主办 unless chosen otherwise
    assert text(by_id(dispatched["page"], "notice")) == "已派单：自来水公司"


@pytest.mark.parametrize("platform, shown, transfer", [("12345", False, "转110"), ("110", True, "转12345")])
def test_the_other_platform_and_the_restricted_box_follow_the_platform(platform, shown, transfer):
    [start] = run_desk([], cfg=config(platform))
    assert (not by_id(start["page"], "t-restricted-field")["hidden"]) is shown
    assert text(button(start["page"], "transfer")) == transfer
    assert transfer.removeprefix("转") in text(by_id(start["page"], "help"))


def test_a_failed_registration_says_so():
    [_, failed] = run_desk([{"sip": "registrationFailed"}])
    assert state(failed["page"], "sip-state") == "failed"
    assert by_id(failed["page"], "error")["attrs"]["data-code"] == "sip_registration_failed"


def test_every_label_of_the_page_is_translated_both_ways():
    [zh, en] = [e["page"] for e in run_desk([{"click": "lang"}])]
    chinese = {n["attrs"]["data-i18n"]: text(n) for n in walk(zh) if "data-i18n" in n["attrs"]}
    english = {n["attrs"]["data-i18n"]: text(n) for n in walk(en) if "data-i18n" in n["attrs"]}
    assert {"title", "transfer", "consult", "help", "desk_phone_note"} <= set(chinese) and set(chinese) == set(english)
    untranslated = [key for key, shown in chinese.items() if not re.search(r"[\u4e00-\u9fff]", shown)]
    assert untranslated == [], untranslated
    assert [key for key in chinese if english[key] == chinese[key]] == []
    assert text(by_id(en, "lang")) == "中文" and text(by_id(zh, "lang")) == "English"


def test_every_element_the_tests_and_the_script_need_is_on_the_page():
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    page = served(config())
    ids = {n["attrs"]["id"] for n in walk(page) if "id" in n["attrs"]}
    asked = set(re.findall(r'\$\("([A-Za-z0-9_-]+)"\)', script))
    assert asked <= ids, asked - ids
    assert {"sip-state", "call-state", "screen-caller", "screen-ticket", "screen-recommendation", "error"} <= ids
    actions = {n["attrs"]["data-action"] for n in walk(page) if "data-action" in n["attrs"]}
    assert set(CALL_ACTIONS) | {"push", "dispatch", "ready", "pause", "lang"} <= actions


def test_the_page_stays_within_its_content_security_policy():
    """Served under script-src and style-src nonces only: no inline handler, no style
    attribute, no markup built from strings."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    assert not re.search(r"\son[a-z]+=|\sstyle=|<script|<style", html, re.IGNORECASE)
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|\.style\b|setAttribute\(\"style|eval\(", script)
    assert [html.count(mark) for mark in ("<!--STYLE-->", "<!--CONFIG-->", "<!--SCRIPT-->")] == [1, 1, 1]


# --- the callback queue, the ticket's recordings, severity and joint dispatch (issue 19) ---

CALLBACKS_PATH = "GET /api/callbacks"
RECORDINGS_PATH = f"GET /api/tickets/{TICKET}/recordings"
RECORDING = "hl12345-1795530292.2-1.wav"
RECORDINGS = {"status": 200, "body": {"ticket_id": TICKET, "recordings": [
    {"name": RECORDING, "call_id": CALL, "part": 1, "bytes": 40684, "seconds": 2.54, "started_at": 1_795_530_292.0}]}}
NOT_HANDLED = {"status": 403, "body": {"error": {"code": "forbidden",
                                                  "message": f"agent 1001 did not handle {TICKET}"}}}
HUNG_UP = {"type": "hung_up", "call_id": CALL}


def callback(id_: str, number: str, **changes: Any) -> dict[str, Any]:
    """An open request as GET /api/callbacks lists it."""
    return {"id": id_, "site": "12345", "number": number, "source": "ivr", "sources": ["ivr"], "ticket_id": None,
            "other_tickets": [], "call_id": None, "stage": "pending", "attempts": 0, "max_attempts": 3, "agent": None,
            "created_at": 1_796_000_012.3, "due_at": 1_796_000_012.3, "deadline": None, "reason": "", **changes}


def queue(*requests: dict[str, Any]) -> dict[str, Any]:
    return {"status": 200, "body": {"sites": [{"site": "12345", "pending": len(requests), "requests": list(requests)}]}}


def items(page: Tree, id_: str) -> list[str]:
    return [text(n) for n in by_id(page, id_)["children"]]


def test_the_callback_queue_shows_the_platforms_open_requests_as_the_server_gives_them():
    waiting = callback("cb1", "138****1234", source="missed", sources=["missed"], deadline=1_796_001_812.3)
    ringing_me = callback("cb2", "0513****66", sources=["ivr", "web"], ticket_id="12345-20261207-000003",
                          stage="agent_ringing", attempts=1, agent="1001")
    [start, english] = run_desk([{"click": "lang"}], {CALLBACKS_PATH: queue(waiting, ringing_me)})
    assert ("GET", "/api/callbacks", f"Bearer {TOKEN}") in [
        (f["method"], f["url"], f["authorization"]) for f in start["fetches"]]
    assert text(by_id(start["page"], "callback-count")) == "2 条"
    first, second = items(start["page"], "callback-list")
    assert first.startswith("138****1234 · 等待回电 · 漏接 · 已拨 0/3 次 · ")  # the number exactly as masked
    assert "应于" in first and "前回电" in first and "12345-" not in first  # a missed call's: no ticket yet
    assert second.startswith("0513****66 · 坐席振铃 · IVR、网上 · 已拨 1/3 次 · ")
    assert second.endswith("12345-20261207-000003正在呼叫您")  # the offer ringing this agent
    assert items(english["page"], "callback-list")[0].startswith("138****1234 · waiting · missed call · tried 0/3")
    assert by_id(start["page"], "error")["hidden"]


def test_the_callback_queue_is_read_again_every_ten_seconds_and_when_a_call_ends():
    routes = {CALLBACKS_PATH: [queue(callback("cb1", "138****1234")), queue(), queue(callback("cb3", "139****0001"))]}
    start, early, timer, ended = run_desk([{"advance": 9_000}, {"advance": 1_000}, {"ws": HUNG_UP}], routes,
                                          config(mode="sip"))
    asked = [[f["url"] for f in e["fetches"]].count("/api/callbacks") for e in (start, early, timer, ended)]
    assert asked == [1, 0, 1, 1]
    assert items(start["page"], "callback-list")[0].startswith("138****1234")
    assert items(timer["page"], "callback-list") == ["无"] and text(by_id(timer["page"], "callback-count")) == "0 条"
    assert items(ended["page"], "callback-list")[0].startswith("139****0001")


def test_a_refused_callback_read_shows_no_error_and_leaves_the_list():
    refused = {"status": 403, "body": {"error": {"code": "forbidden", "message": "not your platform"}}}
    start, later = run_desk([{"advance": 10_000}], {CALLBACKS_PATH: [queue(callback("cb1", "138****1234")), refused]})
    assert items(later["page"], "callback-list") == items(start["page"], "callback-list")
    assert by_id(later["page"], "error")["hidden"]


def test_recordings_are_listed_only_when_the_server_shows_them():
    routes = {RECORDINGS_PATH: [NOT_HANDLED, RECORDINGS]}  # ringing: not handled yet; after the call: its recording
    _, ringing, _, ended = run_desk([{"ws": RINGING}, {"ws": ANSWERED}, {"ws": HUNG_UP}], routes, config(mode="sip"))
    assert f"/api/tickets/{TICKET}/recordings" in [f["url"] for f in ringing["fetches"]]
    assert by_id(ringing["page"], "recordings-block")["hidden"] and by_id(ringing["page"], "error")["hidden"]
    assert not by_id(ended["page"], "recordings-block")["hidden"]
    [listed] = items(ended["page"], "recordings")
    assert listed.startswith(f"{RECORDING} · 2.5 s · ") and listed.endswith("获取录音")


def test_a_recording_is_fetched_with_the_token_and_played_from_a_blob_url():
    routes = {RECORDINGS_PATH: RECORDINGS, f"GET /api/tickets/{TICKET}/recordings/{RECORDING}": {
        "status": 200, "body": "RIFF-wav-bytes"}}
    second = {**RINGING, "call_id": "hl12345-1795530400.9",
              "ticket": {**RINGING["ticket"], "id": "12345-20261124-000020"}}
    steps = [{"ws": RINGING}, {"click": "recording", "data_key": RECORDING}, {"ws": second}]
    _, listed, fetched, next_call = run_desk(steps, routes, config(mode="sip"))
    assert text(by_id(listed["page"], "recordings")).endswith("获取录音") and listed["urls"]["made"] == []
    assert [(f["url"], f["authorization"]) for f in fetched["fetches"]] == [
        (f"/api/tickets/{TICKET}/recordings/{RECORDING}", f"Bearer {TOKEN}")]
    [made] = fetched["urls"]["made"]
    assert made == {"url": "blob:http://127.0.0.1:8080/1", "blob": "RIFF-wav-bytes"}
    [item] = by_id(fetched["page"], "recordings")["children"]
    audio = [n for n in walk(item) if n["tag"] == "audio"]
    links = [n for n in walk(item) if n["tag"] == "a"]
    assert [a["attrs"]["src"] for a in audio] == [made["url"]]
    assert [(a["attrs"]["href"], a["attrs"]["download"], text(a)) for a in links] == [(made["url"], RECORDING, "下载")]
    assert next_call["urls"]["revoked"] == [made["url"]]  # another ticket: the blob is let go
    assert by_id(next_call["page"], "recordings")["children"] != by_id(fetched["page"], "recordings")["children"]


def test_a_recording_that_cannot_be_fetched_says_so():
    routes = {RECORDINGS_PATH: RECORDINGS, f"GET /api/tickets/{TICKET}/recordings/{RECORDING}": {
        "status": 404, "body": {"error": {"code": "recording_not_found", "message": "gone"}}}}
    *_, failed = run_desk([{"ws": RINGING}, {"click": "recording", "data_key": RECORDING}], routes, config(mode="sip"))
    assert text(by_id(failed["page"], "error")) == "找不到该录音" and failed["urls"]["made"] == []


def test_the_policy_lets_the_page_play_blob_urls_and_nothing_more_than_it_did():
    policy = dict(d.strip().split(" ", 1) for d in headers("n0nce", None)["Content-Security-Policy"].split(";"))
    assert policy["media-src"] == "'self' blob:"  # the <audio> of a recording fetched with the token
    assert "blob:" not in policy["connect-src"] and "blob:" not in policy["script-src"]


def test_severity_is_sent_when_the_agent_changes_it():
    saved = {"id": TICKET, "category": "燃气泄漏", "summary": "小区燃气泄漏", "severity": "major"}
    routes = {f"PATCH /api/tickets/{TICKET}": {"status": 200, "body": saved}}
    steps = [{"ws": RINGING}, {"value": {"t-severity": "major"}}, {"click": "save"}, {"click": "save"}]
    _, ringing, _, major, again = run_desk(steps, routes, config(mode="sip"))
    assert by_id(ringing["page"], "t-severity")["value"] == "normal"
    [patch] = major["fetches"]
    assert patch["method"] == "PATCH" and patch["body"]["severity"] == "major"
    assert text(by_id(major["page"], "screen-ticket")).endswith("重大")
    assert "severity" not in again["fetches"][0]["body"]  # unchanged since: not sent again


def test_an_assisting_unit_is_dispatched_with_its_role_and_no_lead_is_said_in_words():
    units = {"jurisdiction": "qidong", "version": "1", "units": [{"id": "QD-GAS", "name": "燃气公司"}]}
    no_lead = {"status": 409, "body": {"error": {"code": "no_lead", "message": "no lead unit holds the case"}}}
    dispatched = {"status": 201, "body": {"unit": "QD-GAS", "unit_name": "燃气公司"}}
    routes = {"GET /api/units": {"status": 200, "body": units},
              f"POST /api/tickets/{TICKET}/dispatch": [no_lead, dispatched]}
    steps = [{"ws": RINGING}, {"value": {"dispatch-unit": "QD-GAS", "dispatch-role": "assisting"}},
             {"advance": 1_000},  # the page renders: the unit chosen enables 派单 (a browser's change event)
             {"click": "dispatch"}, {"click": "lang"}, {"click": "lang"}, {"click": "dispatch"}]
    entries = run_desk(steps, routes, config(mode="sip"))
    refused, english, done = entries[4], entries[5], entries[7]
    assert by_id(entries[0]["page"], "dispatch-role")["value"] == "lead"
    assert [f["body"] for f in refused["fetches"]] == [{"unit": "QD-GAS", "role": "assisting"}]
    assert text(by_id(refused["page"], "error")) == "尚无主办单位：请先派主办单位，再派协办单位"
    assert text(by_id(english["page"], "error")).startswith("no lead unit holds the case")
    assert text(by_id(done["page"], "notice")) == "已派协办单位：燃气公司"


# --- knowledge suggestions while the agent types (issue 20) ---------------------------------

def kb_url(q: str, limit: int = 5) -> str:
    return f"GET /api/knowledge/search?q={quote(q, safe=KB_SAFE)}&limit={limit}&include_peer=true"


KB_SAFE = "-_.!~*'()"  # what encodeURIComponent leaves as it is
KB_ENTRY = {"id": "kb-7", "question": "停水什么时候恢复", "answer": "请拨打自来水公司热线查询停水公告。" * 8,
            "category": "供水", "platform": "12345", "source": "市水务局", "shareable": True, "version": 3,
            "score": 0.9}
KB_FOUND = {"status": 200, "body": {"query": "停水", "results": [KB_ENTRY]}}


def kb_items(page: Tree) -> list[Tree]:
    return [n for n in walk(by_id(page, "kb-list")) if "data-entry" in n["attrs"]]


def test_knowledge_is_asked_once_the_agent_pauses_typing_the_summary():
    steps = [{"type": {"t-summary": "我"}}, {"advance": 100}, {"type": {"t-summary": "我家停"}}, {"advance": 200},
             {"type": {"t-summary": " 我家停水了 "}}, {"advance": 299}, {"advance": 1}]
    routes = {kb_url("我家停水了"): KB_FOUND}
    entries = run_desk(steps, routes, config(mode="sip"))
    searched = [[f for f in e["fetches"] if "/api/knowledge/" in f["url"]] for e in entries]
    assert [len(s) for s in searched] == [0, 0, 0, 0, 0, 0, 0, 1]  # three keystrokes, one request, 300 ms on
    [ask] = searched[-1]
    assert ask["url"] == kb_url("我家停水了")[4:] and ask["authorization"] == f"Bearer {TOKEN}"
    page = entries[-1]["page"]
    [item] = kb_items(page)
    shown = text(item)
    assert shown.startswith("停水什么时候恢复 供水 · 版本 3") and shown.endswith("…")
    assert len(shown) < 130 and by_id(page, "kb-note")["hidden"] and by_id(page, "error")["hidden"]


def test_a_suggestion_expands_to_the_whole_answer_on_a_click():
    steps = [{"type": {"kb-q": "停水"}}, {"advance": 300}, {"click_on": ["data-entry-toggle", "kb-7"]},
             {"click_on": ["data-entry-toggle", "kb-7"]}, {"click": "lang"}]
    *_, listed, opened, closed, english = run_desk(steps, {kb_url("停水"): KB_FOUND}, config(mode="sip"))
    assert text(kb_items(listed["page"])[0]).endswith("展开" + KB_ENTRY["answer"][:80] + "…")
    [whole] = kb_items(opened["page"])
    assert text(whole).endswith("收起" + KB_ENTRY["answer"]) and "kb-open" in whole["attrs"]["class"]
    assert by_id(opened["page"], "t-summary")["value"] == ""  # expanded, never copied into the ticket
    assert text(kb_items(closed["page"])[0]).endswith("…")
    assert text(kb_items(english["page"])[0]).startswith("停水什么时候恢复 供水 · version 3 more")
    assert by_id(english["page"], "kb-q")["attrs"]["placeholder"].startswith("search the knowledge base")
    assert all(not e["fetches"] for e in (opened, closed, english))


def test_knowledge_is_not_asked_for_fewer_than_two_characters_and_a_summary_is_cut_to_200():
    long = "市民反映" + "小区" * 150
    steps = [{"type": {"t-summary": "水"}}, {"advance": 1000}, {"type": {"t-summary": "  "}}, {"advance": 1000},
             {"type": {"t-summary": long}}, {"advance": 300}]
    entries = run_desk(steps, {}, config(mode="sip"))
    urls = [f["url"] for e in entries for f in e["fetches"] if "/api/knowledge/" in f["url"]]
    assert urls == [kb_url(long[:200])[4:]]


@pytest.mark.parametrize("reply", [{"status": 503, "body": {"error": {"code": "unavailable", "message": "down"}}},
                                   {"status": 401, "body": {"error": {"code": "unauthorized", "message": "x"}}},
                                   {"status": 500}])
def test_a_failed_knowledge_search_is_a_quiet_note_and_the_desk_goes_on(reply):
    steps = [{"type": {"kb-q": "停水"}}, {"advance": 300}, {"type": {"kb-q": "停水公告"}}, {"advance": 300}]
    routes = {kb_url("停水"): KB_FOUND, kb_url("停水公告"): reply}
    *_, found, _, failed = run_desk(steps, routes, config(mode="sip"))
    note = by_id(failed["page"], "kb-note")
    assert not note["hidden"] and text(note) == "知识库暂时不可用"
    assert by_id(failed["page"], "error")["hidden"]  # never the desk's error bar
    assert len(kb_items(failed["page"])) == len(kb_items(found["page"])) == 1  # what was suggested stays
    assert not enabled(failed["page"], "save") and enabled(failed["page"], "pause") == {"pause"}


def test_no_entry_found_is_said():
    steps = [{"type": {"t-summary": "外星人"}}, {"advance": 300}]
    *_, empty = run_desk(steps, {kb_url("外星人"): {"status": 200, "body": {"query": "外星人", "results": []}}},
                         config(mode="sip"))
    assert text(by_id(empty["page"], "kb-note")) == "没有相关条目" and kb_items(empty["page"]) == []


def test_an_entry_shared_by_the_other_platform_says_so():
    police = {**KB_ENTRY, "id": "QD-KB-018", "question": "无犯罪记录证明怎么开", "category": "户籍",
              "platform": "110", "from_peer": True}
    found = {"status": 200, "body": {"query": "无犯罪", "results": [KB_ENTRY, police], "peer_error": None}}
    *_, listed = run_desk([{"type": {"kb-q": "无犯罪"}}, {"advance": 300}], {kb_url("无犯罪"): found},
                          config(mode="sip"))
    own, shared = kb_items(listed["page"])
    assert "对方平台共享" not in text(own)
    assert text(shared).startswith("无犯罪记录证明怎么开 户籍 · 版本 3 · 对方平台共享")


def test_topic_tags_are_typed_in_one_field_and_sent_as_a_list_when_changed():
    saved = {"id": TICKET, "category": "燃气泄漏", "summary": "小区燃气泄漏", "tags": ["燃气安全", "冬季"]}
    routes = {f"PATCH /api/tickets/{TICKET}": {"status": 200, "body": saved}}
    steps = [{"ws": RINGING}, {"value": {"t-tags": " 燃气安全，冬季、燃气安全 "}}, {"click": "save"}, {"click": "save"}]
    _, ringing, _, tagged, again = run_desk(steps, routes, config(mode="sip"))
    assert by_id(ringing["page"], "t-tags")["value"] == ""
    [patch] = tagged["fetches"]
    assert patch["body"]["tags"] == ["燃气安全", "冬季"]  # split, trimmed, once each
    assert "tags" not in again["fetches"][0]["body"]  # unchanged since: not sent again
