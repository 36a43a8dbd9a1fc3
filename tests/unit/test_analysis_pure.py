"""The analysis's pure parts with hand-worked figures: hot spots, the summary, the
baseline, the alert state machine, cue clusters, report periods, names and rendering.
Every moment is fixed (no test depends on today's date)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from analysis import alerts, figures, report
from analysis.alerts import QUIET, Clear, Raise, Rule
from analysis.config import AnalysisConfig, TagRule
from analysis.errors import BadGrouping, BadRange
from analysis.figures import Disputes
from hotline_link.core.errors import ConfigError
from hotline_link.core.zone import HOTLINE_ZONE
from tickets.store import Ticket

T0 = dt.datetime(2026, 12, 6, 10, 0, tzinfo=HOTLINE_ZONE).timestamp()  # a Sunday, 10:00 in Beijing
H, D = 3600.0, 86400.0
_seq = iter(range(1, 10**6))


def ticket(at: float, category: str = "供水", division: str = "320602", *, summary: str = "", site: str = "12345",
           channel: str = "", source_platform: str = "", caller: str = "", tags: tuple[str, ...] = (),
           received: bool = False, restricted: bool = False) -> Ticket:
    n = next(_seq)
    return Ticket(f"{site}-20261206-{n:06d}", site, "" if channel else f"c{n}", category, summary, source_platform,
                  0.0 if received else at, caller=caller, division_code=division, channel=channel,
                  received_at=at if received else 0.0, tags=tags, restricted=restricted)


# --- hot spots ------------------------------------------------------------------------


def test_hotspots_by_two_keys_count_and_order():
    tickets = [ticket(T0 - 100, "供水", "320602") for _ in range(3)] + \
              [ticket(T0 - 50, "燃气", "320602") for _ in range(2)] + \
              [ticket(T0 - 10, "供水", "320611") for _ in range(2)] + [ticket(T0 - 5, "燃气", "320611")]
    groups = figures.hotspots(tickets, ("category", "division_code"))
    assert [(g["category"], g["division_code"], g["count"]) for g in groups] == [
        ("供水", "320602", 3), ("供水", "320611", 2), ("燃气", "320602", 2), ("燃气", "320611", 1)]
    assert groups[0]["ticket_ids"] == [t.id for t in tickets[:3]]


def test_hotspots_by_day_hour_platform_channel_and_tag():
    rules = (TagRule(tag="停水", categories=("供水",), words=("停水",)),)
    late = dt.datetime(2026, 12, 5, 23, 30, tzinfo=HOTLINE_ZONE).timestamp()  # 15:30 UTC: still the 5th here
    tickets = [ticket(late, summary="小区停水", channel="web", received=True),
               ticket(T0, summary="停水两天", source_platform="110", tags=("冬季",)),
               ticket(T0, "燃气", summary="停水")]  # the rule names 供水 only
    by_day = figures.hotspots(tickets, ("day", "hour"))
    assert [(g["day"], g["hour"], g["count"]) for g in by_day] == [("2026-12-06", "10", 2), ("2026-12-05", "23", 1)]
    by_platform = figures.hotspots(tickets, ("platform", "channel"))
    assert [(g["platform"], g["channel"], g["count"]) for g in by_platform] == [
        ("110", "", 1), ("12345", "", 1), ("12345", "web", 1)]  # a tie: by key
    by_tag = figures.hotspots(tickets, ("tag",), rules)
    assert [(g["tag"], g["count"]) for g in by_tag] == [("停水", 2), ("", 1), ("冬季", 1)]


def test_grouping_and_range_are_checked():
    assert figures.parse_grouping(None) == ("category", "division_code")
    assert figures.parse_grouping("tag, hour") == ("tag", "hour")
    for bad in ("caller", "category,category", "category,"):
        with pytest.raises(BadGrouping):
            figures.parse_grouping(bad)
    assert figures.parse_range(None, None, T0) == (T0 - D, T0)
    assert figures.parse_range("2026-12-06", str(T0), 0) == (T0 - 10 * H, T0)
    assert figures.parse_range("2026-12-06T01:00:00+00:00", None, T0) == (T0 - H, T0)
    for start, end in (("yesterday", None), (str(T0), str(T0 - 1)), ("2025-01-01", "2026-12-06"), ("-5", None)):
        with pytest.raises(BadRange):
            figures.parse_range(start, end, T0)


# --- the summary ----------------------------------------------------------------------


def test_summary_figures():
    rules = (TagRule(tag="燃气安全", words=("燃气", "煤气")),)
    tickets = [ticket(T0 - D, "供水", "320602", caller="13812345678", summary="停水"),
               ticket(T0 - 2 * H, "供水", "320602", caller="13812345678", channel="sms", summary="又停水"),
               ticket(T0 - H, "燃气", "320611", caller="13900001111", summary="煤气味", tags=("冬季",)),
               ticket(T0 - 3 * H, "政务咨询", "", summary="社保卡怎么办"),
               ticket(T0 - 30, "政务咨询", "320602", summary="公积金怎么提取"),
               ticket(T0 - 20, "法律咨询", "320602", caller="13812345678")]
    disputes = {tickets[0].id: Disputes(bounced=1), tickets[2].id: Disputes(refused=2, lead_dispatches=2),
                tickets[3].id: Disputes(lead_dispatches=1)}  # one dispatch is no dispute
    s = figures.summary(tickets, T0 - 2 * D, T0, rules, disputes)
    assert (s["from"], s["to"], s["total"]) == (T0 - 2 * D, T0, 6)
    assert s["by_category"] == [{"category": "供水", "count": 2}, {"category": "政务咨询", "count": 2},
                                {"category": "法律咨询", "count": 1}, {"category": "燃气", "count": 1}]
    assert s["by_division"][0] == {"division_code": "320602", "count": 4}
    assert s["top_places"] == [{"division_code": "320602", "count": 4}, {"division_code": "320611", "count": 1}]
    assert s["by_channel"] == [{"channel": "call", "count": 5}, {"channel": "sms", "count": 1}]
    assert s["by_day"] == [{"day": "2026-12-05", "count": 1}, {"day": "2026-12-06", "count": 5}]
    assert s["tags"] == [{"tag": "冬季", "count": 1}, {"tag": "燃气安全", "count": 1}]
    assert s["repeat_callers"] == [{"caller": "138****5678", "count": 3}]
    assert s["frequent_questions"] == [{"category": "政务咨询", "count": 2, "example": "公积金怎么提取"},
                                       {"category": "法律咨询", "count": 1, "example": ""}]
    assert s["disputed"] == [{"category": "供水", "bounced": 1, "refused": 0, "redispatched": 0, "total": 1},
                             {"category": "燃气", "bounced": 0, "refused": 1, "redispatched": 1, "total": 1}]


# --- early warning --------------------------------------------------------------------

RULE = Rule(window_s=H, baseline_days=7, min_count=5, ratio=3.0, baseline_floor=0.5, cue_min_count=3)


def _previous(per_day: list[int], category: str = "供水") -> list[list[Ticket]]:
    return [[ticket(T0 - (d + 1) * D - 60, category) for _ in range(n)] for d, n in enumerate(per_day)]


def test_the_baseline_is_the_mean_of_the_same_window_on_seven_days():
    means = alerts.baseline(_previous([1, 0, 2, 0, 0, 3, 1]), 7)
    assert means == {("供水", "320602"): 1.0}  # (1+0+2+0+0+3+1) / 7
    [hot] = alerts.surges([ticket(T0 - 60) for _ in range(5)], _previous([1, 0, 2, 0, 0, 3, 1]), RULE)
    assert (hot.count, hot.baseline, hot.hot) == (5, 1.0, True)  # 5 >= 5 and 5 >= 3 x 1.0
    [steady] = alerts.surges([ticket(T0 - 60) for _ in range(5)], _previous([2] * 7), RULE)
    assert (steady.count, steady.baseline, steady.hot) == (5, 2.0, False)  # 5 < 3 x 2.0


def test_a_zero_baseline_counts_as_the_floor_and_the_minimum_holds():
    [few] = alerts.surges([ticket(T0 - 60) for _ in range(4)], [], RULE)
    assert (few.baseline, few.hot) == (0.0, False)  # 4 < alert_min_count
    [five] = alerts.surges([ticket(T0 - 60) for _ in range(5)], [], RULE)
    assert five.hot  # 5 >= 3 x 0.5
    floor = Rule(min_count=1, ratio=3.0, baseline_floor=2.0)
    [one] = alerts.surges([ticket(T0 - 60) for _ in range(5)], [], floor)
    assert not one.hot  # 5 < 3 x 2.0


def _run(counts: list[int], baselines: list[int]) -> list[tuple[str, int]]:
    """A key scanned every 10 minutes: each scan's window count against a flat baseline;
    what was raised or cleared, by scan number."""
    state, out = QUIET, []
    for i, (count, per_day) in enumerate(zip(counts, baselines, strict=True)):
        [w] = alerts.surges([ticket(T0 - 60) for _ in range(count)], _previous([per_day] * 7), RULE) or [
            alerts.quiet_now(json.dumps(["surge", "供水", "320602", ""]))]
        state, actions = alerts.step(state, w, T0 + i * 600, H, f"al-{i}")
        out += [("raise" if isinstance(a, Raise) else "clear", i) for a in actions]
        if isinstance(next(iter(actions), None), Raise):
            assert isinstance(actions[0], Raise) and actions[0].watched.count == count
    return out


def test_an_alert_is_raised_once_per_surge_and_again_after_a_quiet_window():
    # scans 0-1 quiet, 2-5 a surge (raised once), 6-12 below (a whole hour: cleared at 12), 13 a new surge
    counts = [1, 2, 9, 10, 12, 8, 2, 1, 0, 0, 0, 1, 1, 7]
    assert _run(counts, [0] * len(counts)) == [("raise", 2), ("clear", 12), ("raise", 13)]


def test_a_dip_shorter_than_a_window_does_not_raise_again():
    counts = [9, 9, 1, 1, 9, 9, 1, 9]  # dips of 20 and 10 minutes
    assert _run(counts, [0] * len(counts)) == [("raise", 0)]


def test_a_steady_high_category_never_alerts():
    assert _run([30] * 20, [30] * 20) == []  # 30 a window, as on each of the 7 days before


def test_the_state_survives_a_round_trip():
    state, _ = alerts.step(QUIET, alerts.Watched("surge", "供水", "1", "", 9, 0.0, (), True), T0, H, "al-1")
    assert alerts.State.loads(state.dumps()) == state
    after, actions = alerts.step(state, alerts.quiet_now(json.dumps(["surge", "供水", "1", ""])), T0 + 60, H, "x")
    assert after.cool_since == T0 + 60 and actions == []
    done, actions = alerts.step(after, alerts.quiet_now(json.dumps(["surge", "供水", "1", ""])), T0 + 60 + H, H, "x")
    assert done == QUIET and actions == [Clear("al-1")]


def test_a_cue_cluster_in_one_division():
    cues = ("燃气泄漏", "泄漏", "着火")
    tickets = [ticket(T0 - 60, "燃气", "320602", summary="闻到燃气泄漏的味道") for _ in range(3)] + \
              [ticket(T0 - 60, "供水", "320602", summary="水管泄漏")] + \
              [ticket(T0 - 60, "燃气", "320611", summary="燃气泄漏")] + \
              [ticket(T0 - 60, "其他", "320602", summary="着火了")]
    found = {(w.division_code, w.cue): w for w in alerts.cue_clusters(tickets, cues, RULE)}
    assert {k: (w.count, w.hot) for k, w in found.items()} == {
        ("320602", "燃气泄漏"): (3, True), ("320602", "泄漏"): (1, False), ("320611", "燃气泄漏"): (1, False),
        ("320602", "着火"): (1, False)}
    hot = found[("320602", "燃气泄漏")]
    assert (hot.kind, hot.category, hot.ticket_ids) == ("cue", "燃气", tuple(t.id for t in tickets[:3]))
    assert alerts.detail("燃气", "320602", 6, 0.0, "燃气泄漏") == "燃气泄漏 320602 ×6"
    assert alerts.detail("供水", "320602", 12, 0.4, "") == "供水 320602 ×12 (基线 0.4)"


def test_the_config_refuses_bad_values_and_unknown_keys():
    config = AnalysisConfig.parse({"tag_rules": [{"tag": "燃气安全", "words": ["燃气"]}], "alert_window_s": 1800})
    assert config.tag_rules[0].words == ("燃气",) and config.alert_window_s == 1800.0
    for bad in ({"alert_ratio": 0.5}, {"alert_min_count": 0}, {"window": 3}, {"tag_rules": [{"tag": ""}]},
                {"tag_rules": [{"tag": "x", "colour": "red"}]}, {"alert_scan_s": -1}):
        with pytest.raises(ConfigError):
            AnalysisConfig.parse(bad)


# --- reports --------------------------------------------------------------------------


def test_the_periods_that_ended():
    jan = dt.datetime(2027, 1, 1, 0, 5, tzinfo=HOTLINE_ZONE).timestamp()
    periods = {kind: (period, start, end) for kind, period, start, end in report.ended_periods(jan)}
    dec1 = dt.datetime(2026, 12, 1, tzinfo=HOTLINE_ZONE).timestamp()
    oct1 = dt.datetime(2026, 10, 1, tzinfo=HOTLINE_ZONE).timestamp()
    jan1 = dt.datetime(2026, 1, 1, tzinfo=HOTLINE_ZONE).timestamp()
    end = dt.datetime(2027, 1, 1, tzinfo=HOTLINE_ZONE).timestamp()
    assert periods == {"monthly": ("2026-12", dec1, end), "quarterly": ("2026-Q4", oct1, end),
                       "yearly": ("2026", jan1, end)}
    mid = {kind: period for kind, period, _, _ in report.ended_periods(T0)}
    assert mid == {"monthly": "2026-11", "quarterly": "2026-Q3", "yearly": "2025"}


def test_report_names_are_strict():
    assert report.parse_name("12345-monthly-2026-11.json") == ("12345", "monthly", "2026-11", "json")
    assert report.parse_name("110-quarterly-2026-Q4.html") == ("110", "quarterly", "2026-Q4", "html")
    assert report.parse_name("12345-yearly-2026.csv") == ("12345", "yearly", "2026", "csv")
    for bad in ("../12345-monthly-2026-11.json", "12345-monthly-2026-13.json", "12345-monthly-2026-Q1.json",
                "12345-yearly-2026-11.csv", "12345-monthly-2026-11.json.bak", "12345-monthly-2026-11.pdf",
                ".12345-monthly-2026-11.json.partial", "12345-monthly-2026-11.json/", "a/b-monthly-2026-11.json"):
        assert report.parse_name(bad) is None, bad


def test_report_rendering_escapes_and_defuses():
    tickets = [ticket(T0, "<script>alert(1)</script>", "=1+2", caller="13812345678"),
               ticket(T0, "<script>alert(1)</script>", "=1+2", caller="13812345678")]
    s = figures.summary(tickets, T0 - D, T0 + 1)
    files = report.render(s, "12345", "monthly", "2026-11")
    assert set(files) == {"json", "csv", "html"}
    assert "<script>" not in files["html"] and "&lt;script&gt;" in files["html"]
    assert "13812345678" not in "".join(files.values()) and "138****5678" in files["html"]
    assert "by_division,'=1+2,count,2" in files["csv"].splitlines()
    data = json.loads(files["json"])
    assert (data["platform"], data["kind"], data["period"], data["total"]) == ("12345", "monthly", "2026-11", 2)
    assert "月交流" in files["html"]


def test_a_frequent_questions_example_is_never_restricted_and_masks_numbers():
    tickets = [ticket(T0 - H, "政务咨询", "320602", summary="打13812345678问社保怎么转"),
               ticket(T0 - 30, "政务咨询", "320602", summary="涉密的事情", restricted=True)]
    s = figures.summary(tickets, T0 - D, T0, (), {})
    [row] = s["frequent_questions"]
    assert row["count"] == 2 and "涉密" not in row["example"] and "13812345678" not in row["example"], row
    assert row["example"].startswith("打138") and row["example"].endswith("问社保怎么转"), row


def test_a_question_counts_as_a_consultation_by_its_words_too():
    tickets = [ticket(T0 - H, "户籍", "320602", summary="新生儿落户需要什么材料"),
               ticket(T0 - 30, "户籍", "320602", summary="户口本丢了")]
    assert figures.summary(tickets, T0 - D, T0)["frequent_questions"] == []  # no 咨询 category
    s = figures.summary(tickets, T0 - D, T0, consult=("需要什么材料", "去哪里办"))
    assert s["frequent_questions"] == [{"category": "户籍", "count": 1, "example": "新生儿落户需要什么材料"}]
