"""Seat skills: which idle seats may take a call, in which order. Pure."""

from __future__ import annotations

import pytest

from hotline_link.app import load_config
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings
from seat_pool.config import skills_of_site
from seat_pool.selection import SeatView
from seat_pool.skills import able_seats, default_skills, wanted_skills
from seat_pool.state import SeatState


def view(seat: str, since: float, state: SeatState = SeatState.IDLE) -> SeatView:
    return SeatView("12345", seat, state, since)


SKILLS = {"1001": ("general", "police_desk"), "1002": ("general",), "1003": ("general",),
          "1004": ("general", "police_desk")}
VIEWS = [view("1001", 30.0), view("1002", 10.0), view("1003", 20.0), view("1004", 5.0, SeatState.TALKING)]


def test_general_call_takes_the_longest_idle_general_seat():
    assert [v.seat for v in able_seats(VIEWS, SKILLS, wanted_skills("12345", ""))] == ["1002", "1003", "1001"]


def test_case_from_110_prefers_the_police_desk_then_any_general_seat():
    wanted = wanted_skills("12345", "110")
    assert wanted == ("police_desk", "general")
    assert [v.seat for v in able_seats(VIEWS, SKILLS, wanted)] == ["1001", "1002", "1003"]


def test_110_calls_want_intake_seats_only():
    views = [SeatView("110", "2001", SeatState.IDLE, 1.0), SeatView("110", "2002", SeatState.IDLE, 2.0)]
    skills = {"2001": ("training",), "2002": ("intake",)}
    assert [v.seat for v in able_seats(views, skills, wanted_skills("110", ""))] == ["2002"]


def test_a_seat_without_skills_listed_takes_any_call():
    assert [v.seat for v in able_seats([view("1009", 1.0)], {}, ("police_desk",))] == ["1009"]


def test_defaults_and_config_table(tmp_path):
    assert default_skills("12345", ("1001", "1002", "1003"))["1003"] == ("general",)
    assert default_skills("12345", ("1001",))["1001"] == ("general", "police_desk")
    assert default_skills("110", ("2001",)) == {"2001": ("intake",)}
    config = tmp_path / "hl.toml"
    config.write_text('[skills]\n"1003" = ["general", "police_desk"]\n')
    settings = load_config(config, env={})
    assert skills_of_site(settings, settings.site("12345"))["1003"] == ("general", "police_desk")
    assert skills_of_site(Settings(), Settings().site("12345"))["1003"] == ("general",)


# every seat of 110 without the intake skill its calls need
NO_INTAKE_SEAT = "[skills]\n" + "".join(f'"{n}" = ["general"]\n' for n in Settings().site("110").agents)


@pytest.mark.parametrize("table", ['skills = 3', '[skills]\n"1001" = []', '[skills]\n"1001" = [1]',
                                   '[skills]\n"1001" = ["polce_desk"]', NO_INTAKE_SEAT])
def test_bad_skills_table_is_a_config_error(tmp_path, table):
    config = tmp_path / "hl.toml"
    config.write_text(table + "\n")
    with pytest.raises(ConfigError, match="skills"):
        load_config(config, env={})


def test_the_settings_overflow_defaults_are_the_policys_own():
    """The seat pool's section takes its overflow defaults from the policy: one value each."""
    from dataclasses import fields

    from seat_pool.config import SeatPoolConfig, overflow_policy
    from seat_pool.overflow_policy import OverflowPolicyConfig

    assert overflow_policy(Settings()) == OverflowPolicyConfig() == SeatPoolConfig().overflow_policy()
    assert {f"overflow_{f.name}" for f in fields(OverflowPolicyConfig)} <= set(SeatPoolConfig.model_fields)
