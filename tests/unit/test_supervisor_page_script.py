"""The supervisor page's script renders the exchange link panel (交互通道) from the snapshot
the server sends, in Chinese by default and in English after the toggle; with the channel
off it says so. The script (supervisor/static/app.js) runs under node on a stand-in DOM
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
from hotline_link.core.events import ExchangeAlert, ExchangeLinkChanged
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
    if NODE is None:
        pytest.fail("node is not installed (Debian package nodejs): run 'make install'")
    done = subprocess.run([NODE, str(HARNESS), str(STATIC / "app.js")], capture_output=True, text=True, timeout=60,
                          input=json.dumps({"page": _page(), "snapshots": snapshots, "lang": lang}))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


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
