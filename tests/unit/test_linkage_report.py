"""The linkage report from a fixture of events whose totals were worked out by hand."""

from __future__ import annotations

import csv
import io
import re

import pytest

from linkage.errors import BadRange
from linkage.report import compute, parse_range, render_csv, render_html

T1, T2, T3 = "12345-20261101-000001", "12345-20261101-000002", "12345-20261101-000003"
T4, T5, P1 = "12345-20261101-000004", "12345-20261101-000005", "110-20261101-000001"


def ev(at, name, **data):
    return {"event": name, "at": at, "data": data}


EVENTS = [
    ev(999, "linkage.dispatched", ticket_id=T1, unit="U1", site="12345"),  # before the range: ignored
    ev(1001, "linkage.handover", source="12345", target="110", mode="一键转接"),
    ev(1002, "linkage.handover", source="12345", target="110", mode="一键转接"),
    ev(1003, "linkage.handover", source="110", target="12345", mode="三方通话"),
    ev(1004, "linkage.handover", source="110", target="12345", mode="系统推送", bounced=True),
    # U1 (a 12345 unit): three tickets dispatched and accepted
    *[ev(1010 + i, "linkage.dispatched", ticket_id=t, unit="U1", site="12345") for i, t in enumerate((T1, T2, T3))],
    *[ev(1020 + i, "linkage.accepted", ticket_id=t, unit="U1", site="12345") for i, t in enumerate((T1, T2, T3))],
    ev(1030, "linkage.arrived", ticket_id=T1, unit="U1", site="12345", on_time=True),
    ev(1031, "linkage.arrived", ticket_id=T2, unit="U1", site="12345", on_time=False),
    ev(1040, "linkage.resolved", ticket_id=T1, unit="U1", site="12345", resolved=True),
    ev(1041, "linkage.resolved", ticket_id=T2, unit="U1", site="12345", resolved=False),
    ev(1050, "linkage.supervised", ticket_id=T3, unit="U1", stage="arrive"),  # platform from the ticket id
    ev(1051, "linkage.escalated", ticket_id=T3, unit="U1", stage="arrive"),
    ev(1060, "linkage.callback", ticket_id=T1, unit="U1", site="12345", result="满意"),
    ev(1061, "linkage.callback", ticket_id=T2, unit="U1", site="12345", result="不满意"),
    # U2 (a 12345 unit): two dispatched, one accepted, on time, resolved, 基本满意; one 未回访
    ev(1100, "linkage.dispatched", ticket_id=T4, unit="U2", site="12345"),
    ev(1101, "linkage.dispatched", ticket_id=T5, unit="U2", site="12345"),
    ev(1102, "linkage.accepted", ticket_id=T4, unit="U2", site="12345"),
    ev(1103, "linkage.arrived", ticket_id=T4, unit="U2", site="12345", on_time=True),
    ev(1104, "linkage.resolved", ticket_id=T4, unit="U2", site="12345", resolved=True),
    ev(1105, "linkage.callback", ticket_id=T4, unit="U2", site="12345", result="基本满意"),
    ev(1106, "linkage.callback", ticket_id=T5, unit="U2", site="12345", result="未回访"),
    # U3 (a 110 unit): dispatched, never accepted, 督办 once
    ev(1200, "linkage.dispatched", ticket_id=P1, unit="U3", site="110"),
    ev(1300, "linkage.supervised", ticket_id=P1, unit="U3", stage="accept"),
    # repeat calls: two on a 12345 ticket (then 双哨联办), one on a 110 ticket
    ev(1400, "linkage.repeat", ticket_id=T1, site="12345", repeats=1),
    ev(1401, "linkage.repeat", ticket_id=T1, site="12345", repeats=2),
    ev(1402, "linkage.joint", ticket_id=T1, site="12345", calls=3),
    ev(1403, "linkage.repeat", ticket_id=P1, site="110", repeats=1),
    ev(2000, "linkage.handover", source="12345", target="110", mode="系统推送"),  # end is exclusive
]


def test_figures_match_the_totals_worked_out_by_hand():
    report = compute(EVENTS, 1000, 2000, {"U1": "燃气公司"})
    # handovers: 12345->110 two transfers; 110->12345 one three-way call, one (bounced) push
    assert report["handovers"] == {"110->12345": {"一键转接": 0, "三方通话": 1, "系统推送": 1},
                                   "12345->110": {"一键转接": 2, "三方通话": 0, "系统推送": 0}}
    u1 = report["units"]["U1"]
    # U1: 3 dispatched, 3 accepted, 2 arrived (1 on time), 2 results (1 resolved),
    # 1 督办 + 1 提级 (T3), callbacks 满意 + 不满意
    assert (u1["name"], u1["dispatched"], u1["accepted"], u1["arrived"], u1["on_time_arrivals"]) == ("燃气公司", 3, 3, 2, 1)
    assert (u1["results"], u1["resolved"], u1["supervised"], u1["escalated"]) == (2, 1, 1, 1)
    assert (u1["callbacks"], u1["callbacks_answered"], u1["satisfied"]) == (2, 2, 1)
    # rates: 3/3 accepted; 1 on time of 3 accepted; 1 resolved of 2 results; 1 satisfied of 2 answered
    assert (u1["acceptance_rate"], u1["on_time_arrival_rate"], u1["resolution_rate"], u1["satisfaction"]) == \
        (1.0, 0.3333, 0.5, 0.5)
    u2 = report["units"]["U2"]
    # U2: 1 of 2 accepted; 1 on time of 1 accepted; 1/1 resolved; 基本满意 counts, 未回访 is not answered
    assert (u2["acceptance_rate"], u2["on_time_arrival_rate"], u2["resolution_rate"], u2["satisfaction"]) == \
        (0.5, 1.0, 1.0, 1.0)
    assert (u2["callbacks"], u2["callbacks_answered"]) == (2, 1)
    u3 = report["units"]["U3"]
    # U3: nothing accepted: acceptance 0, the other rates have nothing to divide by
    assert (u3["dispatched"], u3["supervised"], u3["acceptance_rate"], u3["on_time_arrival_rate"]) == (1, 1, 0.0, None)
    p = report["platforms"]["12345"]
    # 12345 = U1 + U2: 5 dispatched, 4 accepted, 3 arrived (2 on time), 3 results (2 resolved),
    # 4 callbacks (3 answered, 2 satisfied), 2 repeat calls, 1 双哨联办, 1 bounced push received
    assert (p["dispatched"], p["accepted"], p["arrived"], p["on_time_arrivals"]) == (5, 4, 3, 2)
    assert (p["results"], p["resolved"], p["supervised"], p["escalated"]) == (3, 2, 1, 1)
    assert (p["repeat_calls"], p["joint"], p["bounced_in"]) == (2, 1, 1)
    assert (p["acceptance_rate"], p["on_time_arrival_rate"], p["resolution_rate"], p["satisfaction"]) == \
        (0.8, 0.5, 0.6667, 0.6667)
    q = report["platforms"]["110"]
    assert (q["dispatched"], q["accepted"], q["supervised"], q["repeat_calls"], q["bounced_in"]) == (1, 0, 1, 1, 0)


def test_csv_has_one_row_per_figure():
    report = compute(EVENTS, 1000, 2000)
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    assert rows[0] == ["scope", "name", "figure", "value"]
    assert ["handover", "12345->110", "一键转接", "2"] in rows
    assert ["unit", "U1", "resolution_rate", "0.5"] in rows
    assert ["unit", "U3", "satisfaction", ""] in rows  # no callbacks: empty, not 0


def test_html_is_self_contained_with_svg_charts_and_a4_print_css():
    page = render_html(compute(EVENTS, 1000, 2000, {"U1": "燃气<公司>"}), "联动报告", "2026-11-01 至 2026-11-30")
    assert "@page { size: A4" in page and page.count("<svg") == 4
    assert not re.search(r"(src|href)=\"(https?:)?//", page) and "<script" not in page
    assert "燃气&lt;公司&gt;" in page and "燃气<公司>" not in page  # escaped
    assert "33.3%" in page  # U1's on-time arrival rate


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
