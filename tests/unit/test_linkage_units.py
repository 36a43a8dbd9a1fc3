"""The units directory, the working calendar and the deadline policy (pure)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_link.core.errors import ConfigError
from linkage.policy import ESCALATED, SUPERVISED, load_config, next_step, parse_config
from linkage.units import check_against_catalog, load_jurisdiction_units, parse_units
from tickets.catalog import load_jurisdiction

HEAD = ("schema,1\nversion,2026.11.24\njurisdiction,test\n"
        "id,name,level,duty_phone,backup_phone,webhook_url,secret_ref,handles\n")
TZ = dt.timezone(dt.timedelta(hours=8))


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


def test_shipped_qidong_directory_follows_plan_003_levels_and_matches_the_catalog():
    units = load_jurisdiction_units("qidong")
    check_against_catalog(units, load_jurisdiction("qidong"))
    level = {u.name: u.level for u in units.units}
    assert level["燃气公司"] == 1 and level["市公安局"] == 1 and level["城市管理局"] == 1
    assert level["民政局"] == 2 and level["市场监管局"] == 2
    assert level["属地镇（街道）"] == 3
    assert [u.id for u in units.for_entry("QD-12345-068")] == ["QD-GAS"]
    assert [u.id for u in units.for_entry("QD-110-017")] == ["QD-POLICE"]  # prefix handle


def test_a_unit_with_webhook_carries_a_secret_reference_not_a_secret():
    units = parse_units(HEAD + "U1,燃气公司,1,77009,78009,https://gas.example/hl,unit_secret_gas,A-1\n", "t.csv")
    unit = units.get("U1")
    assert unit.by_system and unit.secret_ref == "unit_secret_gas" and unit.handles == ("A-1",)


@pytest.mark.parametrize("row, reason", [
    ("U1,燃气公司,4,77009,,,,", "t.csv:5: level must be 1, 2 or 3"),
    ("U1,燃气公司,1,call-me,,,,", "t.csv:5: duty_phone 'call-me' is not a dialable number"),
    ("U1,燃气公司,1,77009,,https://gas.example/hl,,", "t.csv:5: a webhook_url needs a secret_ref"),
    ("U1,燃气公司,1,77009,,https://gas.example/hl,S3cr3t-Value!,", "t.csv:5: secret_ref 'S3cr3t-Value!'"),
    ("U1,燃气公司,1,77009,,ftp://gas,x,", "t.csv:5: webhook_url 'ftp://gas' must start"),
    ("U1,,1,77009,,,,", "t.csv:5: column 'name' is empty"),
    ("U1,燃气公司,1,77009", "t.csv:5: expected 8 fields"),
])
def test_a_malformed_row_is_refused_with_file_line_and_reason(row, reason):
    with pytest.raises(ConfigError) as err:
        parse_units(HEAD + row + "\n", "t.csv")
    assert str(err.value).startswith(reason)


def test_duplicate_ids_and_unknown_catalog_entries_are_refused():
    with pytest.raises(ConfigError, match=r"t.csv:6: duplicate unit id 'U1' \(first on line 5\)"):
        parse_units(HEAD + "U1,a,1,1100,,,,\nU1,b,2,1200,,,,\n", "t.csv")
    units = parse_units(HEAD.replace("jurisdiction,test", "jurisdiction,qidong") + "U1,a,1,1100,,,,QD-999\n", "t.csv")
    with pytest.raises(ConfigError, match=r"t.csv:5: handles 'QD-999': no such entry"):
        check_against_catalog(units, load_jurisdiction("qidong"))


CAL = {"timezone": "Asia/Shanghai", "weekdays": ["mon", "tue", "wed", "thu", "fri"],
       "hours": ["08:30-12:00", "14:00-17:30"], "holidays": ["2026-10-01"], "workdays": ["2026-10-10"]}
LEVELS = {"1": {"accept_s": 300, "arrive_s": 1800, "result_s": 86400, "remind_s": 900},
          "2": {"accept_s": 900, "arrive_s": 7200, "result_s": 259200, "remind_s": 3600},
          "3": {"accept_s": 3600, "arrive_s": 7200, "result_s": 36000, "remind_s": 1800}}


def config(**changes):
    raw = {"schema": 1, "calendar": CAL, "levels": LEVELS, "escalation": {"contact": "指挥中心", "phone": "77999"},
           "repeats": {"window_s": 86400, "threshold": 3}, **changes}
    return parse_config(raw, "test.toml")


def test_level_3_counts_working_time_only_across_lunch_nights_weekends_holidays_and_makeup_days():
    cal = config().calendar
    # Tuesday 2026-11-24 11:30 + 1 h working time: 30 min before lunch, 30 min after 14:00
    assert cal.add_working(at("2026-11-24T11:30"), 3600) == at("2026-11-24T14:30")
    # Friday 17:00 + 1 h: 30 min on Friday, the rest Monday morning
    assert cal.add_working(at("2026-11-27T17:00"), 3600) == at("2026-11-30T09:00")
    # 2026-10-01 (Thursday) is a holiday; Saturday 2026-10-10 is a make-up working day
    assert cal.next_working(at("2026-10-01T09:00")) == at("2026-10-02T08:30")
    assert cal.is_working(at("2026-10-10T09:00")) and not cal.is_working(at("2026-10-11T09:00"))
    assert not cal.is_working(at("2026-11-24T12:30")) and cal.is_working(at("2026-11-24T08:30"))


def test_deadlines_by_level_from_acceptance():
    cfg = config()
    accepted = at("2026-11-27T17:00")  # Friday evening
    assert cfg.due(1, "arrive", accepted) == accepted + 1800  # on scene within 30 minutes, 24 h
    assert cfg.due(2, "result", accepted) == accepted + 259200
    assert cfg.due(3, "accept", accepted) == at("2026-11-30T09:00")  # working time only
    assert cfg.dispatch_start(3, at("2026-11-28T10:00")) == at("2026-11-30T08:30")  # queued to Monday
    assert cfg.dispatch_start(1, at("2026-11-28T10:00")) == at("2026-11-28T10:00")
    assert cfg.remind_due(1, 1000.0) == 1900.0


def test_first_overdue_is_supervision_second_is_escalation():
    assert next_step(0) == SUPERVISED and next_step(1) == ESCALATED and next_step(5) == ESCALATED


@pytest.mark.parametrize("changes, reason", [
    ({"schema": 2}, "schema must be 1"),
    ({"levels": {"1": LEVELS["1"]}}, "levels: expected tables"),
    ({"levels": {**LEVELS, "2": {**LEVELS["2"], "arrive_s": -1}}}, "levels.2.arrive_s"),
    ({"levels": {**LEVELS, "1": {**LEVELS["1"], "accept_s": 99999}}}, "levels.1: expected accept_s <= arrive_s"),
    ({"calendar": {**CAL, "hours": ["14:00-12:00"]}}, "ends before it starts"),
    ({"calendar": {**CAL, "hours": ["08:00-12:00", "11:00-13:00"]}}, "periods overlap"),
    ({"calendar": {**CAL, "timezone": "Mars/Base"}}, "unknown time zone"),
    ({"calendar": {**CAL, "holidays": ["tomorrow"]}}, "'tomorrow' is not a YYYY-MM-DD"),
    ({"repeats": {"window_s": 60, "threshold": 1}}, "repeats.threshold"),
    ({"escalation": {"contact": "x", "phone": "call"}}, "escalation: expected"),
    ({"levels": {**LEVELS, "1": 5}}, "levels: expected tables"),
    ({"calendar": 5}, "calendar: expected a table"),
    ({"repeats": {"window_s": float("nan"), "threshold": 3}}, "repeats.window_s"),
    ({"levels": {**LEVELS, "3": {**LEVELS["3"], "result_s": float("inf")}}}, "levels.3.result_s"),
])
def test_bad_linkage_config_is_refused_with_the_key(changes, reason):
    with pytest.raises(ConfigError) as err:
        config(**changes)
    assert str(err.value).startswith("test.toml: ") and reason in str(err.value)


# what a TOML file can hold: any section or key replaced by any such value
_TOML = st.recursive(st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats() | st.text(max_size=12),
                     lambda inner: (st.lists(inner, max_size=3)
                                    | st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                     max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(section=st.sampled_from(["schema", "levels", "calendar", "escalation", "repeats", "version"]),
       key=st.sampled_from(["", "1", "2", "3", "timezone", "weekdays", "hours", "holidays", "workdays",
                            "window_s", "threshold", "contact", "phone", "accept_s"]),
       value=_TOML)
def test_any_malformed_linkage_config_is_a_config_error(section, key, value):
    raw = {"schema": 1, "calendar": dict(CAL), "levels": dict(LEVELS),
           "escalation": {"contact": "指挥中心", "phone": "77999"}, "repeats": {"window_s": 86400, "threshold": 3}}
    if key and isinstance(raw.get(section), dict):
        raw[section] = {**raw[section], key: value}
    else:
        raw[section] = value
    try:
        parse_config(raw, "test.toml")
    except ConfigError as exc:
        assert str(exc).startswith("test.toml: ")


def test_a_calendar_with_no_working_day_is_refused_not_looped_forever():
    cfg = config(calendar={**CAL, "weekdays": []})
    with pytest.raises(ConfigError, match="no working period"):
        cfg.due(3, "accept", at("2026-11-24T09:00"))


def test_shipped_config_loads():
    cfg = load_config()
    assert cfg.levels[1].arrive_s == 1800 and cfg.repeat_threshold >= 2
