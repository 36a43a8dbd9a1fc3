"""The linkage report from a fixture of events whose totals were worked out by hand."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re

import pytest

from linkage.errors import BadRange
from linkage.report import HTML_HEADERS, compute, parse_range, render_csv, render_html

T0, T1, T2, T3 = (f"12345-20261101-00000{i}" for i in range(4))
T4, T5, T6, T7, T8, T9 = (f"12345-20261101-00000{i}" for i in range(4, 10))
P1 = "110-20261101-000001"
DUE, LATER = 1500, 2300  # deadlines: passed before the range's end (2000), and still ahead at its end


def ev(at, name, **data):
    return {"event": name, "at": at, "data": data}


def u1(at, name, ticket, **data):
    return ev(at, name, ticket_id=ticket, unit="U1", site="12345", **data)


def u2(at, name, ticket, **data):
    return ev(at, name, ticket_id=ticket, unit="U2", site="12345", **data)


EVENTS = [
    u1(998, "linkage.accepted", T0, arrive_due=DUE),  # before the range: ignored
    u1(999, "linkage.dispatched", T1, accept_due=DUE),  # before the range: ignored
    ev(1001, "linkage.handover", source="12345", target="110", mode="一键转接"),
    ev(1002, "linkage.handover", source="12345", target="110", mode="一键转接"),
    ev(1003, "linkage.handover", source="110", target="12345", mode="三方通话"),
    ev(1004, "linkage.handover", source="110", target="12345", mode="系统推送", bounced=True),
    # U1 (a 12345 unit): T1..T3 dispatched and accepted; T1 on time, T2 late, T3 never arrives
    *[u1(1010 + i, "linkage.dispatched", t, accept_due=DUE) for i, t in enumerate((T1, T2, T3))],
    *[u1(1020 + i, "linkage.accepted", t, arrive_due=DUE) for i, t in enumerate((T1, T2, T3))],
    u1(1030, "linkage.arrived", T1, on_time=True),
    u1(1031, "linkage.arrived", T2, on_time=False),
    u1(1035, "linkage.arrived", T0, on_time=True),  # accepted before the range: counted, not in the rate
    u1(1040, "linkage.resolved", T1, resolved=True),
    u1(1041, "linkage.resolved", T2, resolved=False),
    ev(1050, "linkage.supervised", ticket_id=T3, unit="U1", stage="arrive"),  # platform from the ticket id
    ev(1051, "linkage.escalated", ticket_id=T3, unit="U1", stage="arrive"),
    u1(1060, "linkage.callback", T1, result="满意"),
    u1(1061, "linkage.callback", T2, result="不满意"),
    # U2 (a 12345 unit): T4 on time, resolved, 基本满意; T5 resolved without an arrival, 未回访;
    # T7 never accepted; T6 dispatched and T8 accepted near the end, still within their deadlines
    *[u2(1100 + i, "linkage.dispatched", t, accept_due=DUE) for i, t in enumerate((T4, T5, T7))],
    u2(1102, "linkage.accepted", T4, arrive_due=DUE),
    u2(1103, "linkage.accepted", T5, arrive_due=DUE),
    u2(1104, "linkage.arrived", T4, on_time=True),
    u2(1105, "linkage.resolved", T4, resolved=True),
    u2(1106, "linkage.resolved", T5, resolved=True),
    u2(1107, "linkage.callback", T4, result="基本满意"),
    u2(1108, "linkage.callback", T5, result="未回访"),
    u2(1900, "linkage.dispatched", T6, accept_due=LATER),
    u2(1940, "linkage.dispatched", T8, accept_due=LATER),
    u2(1950, "linkage.accepted", T8, arrive_due=LATER),
    # U3 (a 110 unit): dispatched, never accepted, 督办 once
    ev(1200, "linkage.dispatched", ticket_id=P1, unit="U3", site="110", accept_due=DUE),
    ev(1300, "linkage.supervised", ticket_id=P1, unit="U3", stage="accept"),
    # repeat calls carry no unit: T1 twice (then 双哨联办) and P1 once go to the units they were
    # dispatched to in the range; T9 was dispatched before it, so only its platform counts it
    ev(1400, "linkage.repeat", ticket_id=T1, site="12345", repeats=1),
    ev(1401, "linkage.repeat", ticket_id=T1, site="12345", repeats=2),
    ev(1402, "linkage.joint", ticket_id=T1, site="12345", calls=3),
    ev(1403, "linkage.repeat", ticket_id=P1, site="110", repeats=1),
    ev(1404, "linkage.repeat", ticket_id=T9, site="12345", repeats=1),
    ev(2000, "linkage.handover", source="12345", target="110", mode="系统推送"),  # end is exclusive
]


def test_figures_match_the_totals_worked_out_by_hand():
    report = compute(EVENTS, 1000, 2000, {"U1": "燃气公司"})
    # handovers: 12345->110 two transfers; 110->12345 one three-way call and one push, which bounced
    # (the push at 2000 is past the end)
    assert report["handovers"] == {"110->12345": {"一键转接": 0, "三方通话": 1, "系统推送": 1, "回流": 1},
                                   "12345->110": {"一键转接": 2, "三方通话": 0, "系统推送": 0, "回流": 0}}
    # U1: dispatched T1 T2 T3 = 3, accepted 3; arrived T1 (on time) T2 (late) T0 (on time) = 3, 2 on time;
    # results T1 (resolved) T2 (not) = 2, 1; 督办 + 提级 on T3; callbacks 满意 + 不满意: 2 answered, 1
    # satisfied; repeat calls T1 x2, 双哨联办 once.
    # 签收率: T1 T2 T3 dispatched, all accepted = 3/3. 按时到场率: accepted in the range T1 T2 T3 (T0 was
    # accepted before it), T3's arrival was due at 1500 < 2000 so it is in: 1 on time (T1) of 3.
    # 解决率 1/2, 满意度 1/2.
    assert report["units"]["U1"] == {
        "name": "燃气公司", "dispatched": 3, "accepted": 3, "arrived": 3, "on_time_arrivals": 2,
        "results": 2, "resolved": 1, "supervised": 1, "escalated": 1,
        "callbacks": 2, "callbacks_answered": 2, "callbacks_unanswered": 0, "satisfied": 1,
        "repeat_calls": 2, "joint": 1, "refused": 0, "assisting": 0,
        "accept_base": 3, "accept_base_accepted": 3, "arrive_base": 3, "arrive_base_on_time": 1,
        "acceptance_rate": 1.0, "on_time_arrival_rate": 0.3333, "resolution_rate": 0.5, "satisfaction": 0.5}
    # U2: dispatched T4 T5 T7 T6 T8 = 5, accepted T4 T5 T8 = 3; arrived T4 on time = 1; results T4 T5
    # both resolved = 2; callbacks 基本满意 (answered, satisfied) + 未回访 (counted, not answered).
    # 签收率: T6 is still within its deadline (2300) and left out; T8 accepted is in: T4 T5 T8 of
    # T4 T5 T7 T8 = 3/4. 按时到场率: T8 is still within its arrival deadline and left out; T5 was
    # resolved without an arrival and counts as not on time: T4 of T4 T5 = 1/2. 解决率 2/2, 满意度 1/1.
    assert report["units"]["U2"] == {
        "name": "", "dispatched": 5, "accepted": 3, "arrived": 1, "on_time_arrivals": 1,
        "results": 2, "resolved": 2, "supervised": 0, "escalated": 0,
        "callbacks": 2, "callbacks_answered": 1, "callbacks_unanswered": 1, "satisfied": 1,
        "repeat_calls": 0, "joint": 0, "refused": 0, "assisting": 0,
        "accept_base": 4, "accept_base_accepted": 3, "arrive_base": 2, "arrive_base_on_time": 1,
        "acceptance_rate": 0.75, "on_time_arrival_rate": 0.5, "resolution_rate": 1.0, "satisfaction": 1.0}
    # U3: P1 dispatched, its acceptance due at 1500 and never made: 签收率 0/1; 督办 once; one repeat
    # call; nothing accepted, resolved or called back: those rates have nothing to divide by
    assert report["units"]["U3"] == {
        "name": "", "dispatched": 1, "accepted": 0, "arrived": 0, "on_time_arrivals": 0,
        "results": 0, "resolved": 0, "supervised": 1, "escalated": 0,
        "callbacks": 0, "callbacks_answered": 0, "callbacks_unanswered": 0, "satisfied": 0,
        "repeat_calls": 1, "joint": 0, "refused": 0, "assisting": 0,
        "accept_base": 1, "accept_base_accepted": 0, "arrive_base": 0, "arrive_base_on_time": 0,
        "acceptance_rate": 0.0, "on_time_arrival_rate": None, "resolution_rate": None, "satisfaction": None}
    # 12345 = U1 + U2, plus T9's repeat call (no unit) and the bounced push it received:
    # dispatched 3+5 = 8, accepted 3+3 = 6, arrived 3+1 = 4 (2+1 = 3 on time), results 2+2 = 4
    # (1+2 = 3 resolved), callbacks 2+2 = 4 (2+1 = 3 answered, 0+1 = 1 未回访, 1+1 = 2 satisfied),
    # repeat calls 2 + T9 = 3, 1 双哨联办, 回流 1.
    # 签收率 (3+3)/(3+4) = 6/7 = 0.8571; 按时到场率 (1+1)/(3+2) = 2/5; 解决率 3/4; 满意度 2/3.
    assert report["platforms"]["12345"] == {
        "dispatched": 8, "accepted": 6, "arrived": 4, "on_time_arrivals": 3,
        "results": 4, "resolved": 3, "supervised": 1, "escalated": 1,
        "callbacks": 4, "callbacks_answered": 3, "callbacks_unanswered": 1, "satisfied": 2,
        "repeat_calls": 3, "joint": 1, "refused": 0, "assisting": 0,
        "accept_base": 7, "accept_base_accepted": 6, "arrive_base": 5, "arrive_base_on_time": 2,
        "bounced_in": 1, "joint_cases": 0,
        "acceptance_rate": 0.8571, "on_time_arrival_rate": 0.4, "resolution_rate": 0.75, "satisfaction": 0.6667}
    # 110 = U3; it received no bounced push (the bounced one went to 12345)
    assert report["platforms"]["110"] == {
        "dispatched": 1, "accepted": 0, "arrived": 0, "on_time_arrivals": 0,
        "results": 0, "resolved": 0, "supervised": 1, "escalated": 0,
        "callbacks": 0, "callbacks_answered": 0, "callbacks_unanswered": 0, "satisfied": 0,
        "repeat_calls": 1, "joint": 0, "refused": 0, "assisting": 0,
        "accept_base": 1, "accept_base_accepted": 0, "arrive_base": 0, "arrive_base_on_time": 0,
        "bounced_in": 0, "joint_cases": 0,
        "acceptance_rate": 0.0, "on_time_arrival_rate": None, "resolution_rate": None, "satisfaction": None}
    assert set(report) == {"from", "to", "handovers", "platforms", "units", "exchange", "callback_queue",
                           "definitions"}
    assert report["callback_queue"] == {}  # no callback steps logged
    assert report["exchange"] is None  # one deployment: no exchange channel to count from


def test_a_rate_never_passes_100_percent_across_the_range_edge():
    # accepted before the range, arrived on time in it; dispatched before it, accepted in it
    events = [u1(1010, "linkage.arrived", T0, on_time=True), u1(1020, "linkage.accepted", T2, arrive_due=LATER)]
    unit = compute(events, 1000, 2000)["units"]["U1"]
    assert (unit["arrived"], unit["accepted"], unit["dispatched"]) == (1, 1, 0)
    assert (unit["on_time_arrival_rate"], unit["acceptance_rate"]) == (None, None)  # T2 still has time


def test_the_report_states_its_definitions():
    report = compute(EVENTS, 1000, 2000)
    satisfaction = report["definitions"]["satisfaction"]
    assert "满意 + 基本满意" in satisfaction and "未回访单独计数，不计入分母" in satisfaction
    page = render_html(report, "联动报告", "2026-11-01 至 2026-11-30")
    assert satisfaction in page and report["definitions"]["on_time_arrival_rate"] in page


def test_csv_has_one_row_per_figure():
    report = compute(EVENTS, 1000, 2000)
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    assert rows[0] == ["scope", "name", "figure", "value"]
    assert ["handover", "12345->110", "一键转接", "2"] in rows
    assert ["handover", "110->12345", "回流", "1"] in rows
    assert ["unit", "U1", "resolution_rate", "0.5"] in rows
    assert ["unit", "U3", "satisfaction", ""] in rows  # no callbacks: empty, not 0
    assert ["platform", "12345", "callbacks_unanswered", "1"] in rows


def test_csv_cells_are_not_spreadsheet_formulas():
    report = compute([ev(1001, "linkage.dispatched", ticket_id=T1, unit="=HYPERLINK(1)", site="@x")], 1000, 2000,
                     {"=HYPERLINK(1)": "+cmd"})
    text = render_csv(report)
    assert "'=HYPERLINK(1)" in text and "'@x" in text and "'+cmd" not in text  # names are not in the CSV
    assert not any(row[1][:1] in "=+-@" for row in csv.reader(io.StringIO(text)))


def test_html_is_self_contained_with_svg_charts_and_a4_print_css():
    page = render_html(compute(EVENTS, 1000, 2000, {"U1": "燃气<公司>"}), "联动报告", "2026-11-01 至 2026-11-30")
    assert "@page { size: A4" in page and "@media print" in page
    assert "break-inside: avoid" in page  # tables and charts are not cut across pages
    # charts: handovers by mode, the platforms' rates, three unit rates, 督办/提级
    assert page.count("<svg") == 6 and page.count("</svg>") == 6
    assert not re.search(r"https?:|//|url\(|@import|<script|<link|<img|<iframe", page)  # no outside asset
    assert "燃气&lt;公司&gt;" in page and "燃气<公司>" not in page  # escaped
    assert "33.3%" in page  # U1's on-time arrival rate
    assert ">—<" in page and ">-<" not in page  # U3's rates with nothing to divide by


def test_html_escapes_every_text_that_comes_from_data():
    hostile = '<script>alert("x")</script>'
    events = [ev(1001, "linkage.handover", source=hostile, target="110", mode="一键转接"),
              ev(1002, "linkage.dispatched", ticket_id=T1, unit=hostile, site=hostile),
              ev(1003, "linkage.supervised", ticket_id=T1, unit=hostile)]
    page = render_html(compute(events, 1000, 2000, {hostile: hostile}), hostile, hostile)
    assert "<script" not in page and hostile not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_the_html_headers_allow_its_own_stylesheet_and_nothing_else():
    page = render_html(compute(EVENTS, 1000, 2000), "联动报告", "2026-11-01 至 2026-11-30")
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(styles) == 1 and "style=" not in page  # one stylesheet, no inline style attributes
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    policy = HTML_HEADERS["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; ") and f"style-src 'sha256-{digest}'" in policy
    assert "script-src" not in policy and "unsafe" not in policy and HTML_HEADERS["X-Content-Type-Options"] == "nosniff"


def test_long_unit_names_keep_their_distinct_ends_in_charts():
    names = {f"Q{i}": f"启东市某某街道办事处第{i}联动单位" for i in (1, 2)}
    events = [ev(1001 + i, "linkage.resolved", ticket_id=f"T{i}", unit=f"Q{i}", site="12345", resolved=True)
              for i in (1, 2)]
    page = render_html(compute(events, 1000, 2000, names), "联动报告", "")
    assert ">启东市某某街道…处第1联动单位<" in page and ">启东市某某街道…处第2联动单位<" in page
    assert "<title>启东市某某街道办事处第1联动单位</title>" in page  # the whole name as the tooltip


def test_an_empty_period_renders_without_data():
    report = compute([], 1000, 2000)
    assert (report["handovers"], report["platforms"], report["units"]) == ({}, {}, {})
    page = render_html(report, "联动报告", "2026-11-01 至 2026-11-30")
    assert "本期无数据" in page and "<svg" not in page
    assert render_csv(report) == "scope,name,figure,value\n"


def test_date_range_is_local_days_with_the_last_included():
    start, end = parse_range("2026-11-01", "2026-11-30")
    assert end - start == 30 * 86400
    assert start == 1793462400.0  # 2026-11-01 00:00 in Asia/Shanghai (UTC+8)


@pytest.mark.parametrize("a, b, reason", [
    ("2026-11-30", "2026-11-01", "--to 2026-11-01 is before --from 2026-11-30"),
    ("yesterday", "2026-11-01", "--from 'yesterday' is not a date"),
    ("2026-02-30", "2026-03-01", "--from '2026-02-30' is not a date"),
    ("2020-01-01", "2026-01-01", "longer than 400 days"),
])
def test_bad_range_is_a_clear_error(a, b, reason):
    with pytest.raises(BadRange) as err:
        parse_range(a, b)
    assert reason in str(err.value) and err.value.status == 400


def test_report_command_refuses_a_bad_range_before_reaching_redis(monkeypatch, capsys):
    from hotline_link.cli import main

    monkeypatch.setenv("HOTLINE_REDIS_URL", "redis://127.0.0.1:9/0")  # nothing listens there
    assert main(["report", "--from", "2026-11-30", "--to", "2026-11-01"]) == 2
    assert "hotline-link: error: --to 2026-11-01 is before --from 2026-11-30" in capsys.readouterr().err


def test_joint_cases_assisting_units_and_refusals():
    lead = {"site": "12345", "unit": "U1"}
    helper = {"site": "12345", "unit": "U2", "role": "assisting"}
    events = [
        ev(1010, "linkage.dispatched", ticket_id=T1, accept_due=DUE, **lead),
        ev(1011, "linkage.dispatched", ticket_id=T1, accept_due=DUE, **helper),
        ev(1012, "linkage.accepted", ticket_id=T1, arrive_due=DUE, **helper),  # U2 first: T1's rates follow U1
        ev(1013, "linkage.resolved", ticket_id=T1, resolved=False, **helper),
        ev(1014, "linkage.accepted", ticket_id=T1, arrive_due=DUE, **lead),
        ev(1015, "linkage.resolved", ticket_id=T1, resolved=True, **lead),
        ev(1020, "linkage.dispatched", ticket_id=T2, accept_due=DUE, **lead),
        ev(1021, "linkage.dispatched", ticket_id=T2, accept_due=DUE, **helper),
        ev(1022, "linkage.refused", ticket_id=T2, reason="not ours", **helper),
        ev(1023, "linkage.refused", ticket_id=T2, reason="not ours", **lead),
        ev(1030, "linkage.dispatched", ticket_id=T3, accept_due=DUE, **lead),  # not joint
    ]
    report = compute(events, 1000, 2000)
    platform, u1, u2 = report["platforms"]["12345"], report["units"]["U1"], report["units"]["U2"]
    assert (platform["joint_cases"], platform["refused"], platform["dispatched"]) == (2, 2, 3)
    assert (platform["results"], platform["resolved"], platform["resolution_rate"]) == (1, 1, 1.0)
    assert (u1["dispatched"], u1["assisting"], u1["refused"], u1["accept_base"]) == (3, 0, 1, 3)
    assert (u2["dispatched"], u2["assisting"], u2["refused"], u2["results"], u2["resolved"]) == (2, 2, 1, 1, 0)
    assert u2["accept_base"] == 0  # an assisting part is not in the tickets' rates
    assert "联合调处" in render_html(report, "t", "p") and "拒收" in render_html(report, "t", "p")
    assert "unit,U2,refused,1" in render_csv(report)
