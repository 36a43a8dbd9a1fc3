"""Each capability's settings section: its TOML table, the old flat names (for one release,
with a warning), the environment names, and messages naming the file and key."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from hotline_link.app import load_config
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings
from linkage.config import LinkageConfig
from seat_pool.config import SeatPoolConfig
from seat_pool.plugin import SeatPoolPlugin


def _config(tmp_path, text: str):
    path = tmp_path / "hl.toml"
    path.write_text(f'state_dir = "{tmp_path}"\n{text}\n')
    return path


def test_a_capabilitys_keys_are_read_from_its_table(tmp_path):
    path = _config(tmp_path, '[seat_pool]\noverflow_enter_wait_s = 30\nwrap_up_s = 5\n'
                             '[seat_pool.skills]\n"1003" = ["general", "police_desk"]\n')
    with capture_logs() as logs:
        settings = load_config(path, env={})
    section = settings.section(SeatPoolConfig)
    assert (section.overflow_enter_wait_s, section.wrap_up_s) == (30.0, 5.0)
    assert section.skills["1003"] == ("general", "police_desk")
    assert settings.overflow_enter_wait_s == 30.0  # the flat view reads the section
    assert section.overflow_policy().enter_wait_s == 30.0
    assert not [e for e in logs if e["event"] == "settings.flat_name_deprecated"]


def test_an_old_flat_name_still_works_with_a_warning(tmp_path):
    path = _config(tmp_path, "overflow_enter_wait_s = 40\nphone_ring_s = 30\n")
    with capture_logs() as logs:
        settings = load_config(path, env={})
    assert settings.section(SeatPoolConfig).overflow_enter_wait_s == 40.0
    assert settings.section(LinkageConfig).phone_ring_s == 30
    warned = {(e["name"], e["use"]) for e in logs if e["event"] == "settings.flat_name_deprecated"}
    assert warned == {("overflow_enter_wait_s", "[seat_pool] overflow_enter_wait_s"),
                      ("phone_ring_s", "[linkage] phone_ring_s")}
    assert all(e["log_level"] == "warning" for e in logs if e["event"] == "settings.flat_name_deprecated")


def test_the_table_wins_over_the_flat_name_and_the_environment_over_both(tmp_path):
    path = _config(tmp_path, "wrap_up_s = 1\n[seat_pool]\nwrap_up_s = 2\n")
    assert load_config(path, env={}).section(SeatPoolConfig).wrap_up_s == 2.0
    settings = load_config(path, env={"HOTLINE_WRAP_UP_S": "7.5"})
    assert settings.section(SeatPoolConfig).wrap_up_s == 7.5
    assert settings.wrap_up_s == 7.5


def test_a_bad_value_names_the_file_and_the_key(tmp_path):
    path = _config(tmp_path, '[seat_pool]\nqueue_max_wait_s = "soon"\n')
    with pytest.raises(ConfigError) as refused:
        load_config(path, env={})
    assert str(refused.value) == f"config file {path}: [seat_pool] queue_max_wait_s: expected float, got 'soon'"
    path = _config(tmp_path, "[linkage]\nphone_ring_s = 4\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path, env={})
    assert str(refused.value) == (f"config file {path}: [linkage] "
                                  "phone_ring_s must be from 5 to 120 seconds, got 4")


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_config(None, env={"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_OVERFLOW_TICK_S": "0"})
    assert str(refused.value) == ("setting overflow_tick_s: queue_max_wait_s and overflow_tick_s must be above 0 "
                                  "(environment HOTLINE_OVERFLOW_TICK_S)")


def test_an_unknown_key_in_a_section_is_refused(tmp_path):
    path = _config(tmp_path, "[seat_pool]\noverflow_enter_wiat_s = 30\n")
    with pytest.raises(ConfigError, match=rf"config file {path}: \[seat_pool\] overflow_enter_wiat_s: "
                                          "unknown setting; known: seat_claim_ttl_s, wrap_up_s"):
        load_config(path, env={})


def test_an_unknown_table_is_refused(tmp_path):
    path = _config(tmp_path, "[seat_poll]\nwrap_up_s = 3\n")
    with pytest.raises(ConfigError, match="unknown settings seat_poll"):
        load_config(path, env={})


def test_a_disabled_plugins_section_is_not_checked(tmp_path):
    path = _config(tmp_path, 'plugins = "tickets"\n[linkage]\nphone_ring_s = 4\n')
    assert load_config(path, env={}).plugin_names == ("tickets",)


def test_a_plugin_parses_its_own_section():
    settings = Settings(overflow_enter_wait_s=90)
    section = SeatPoolPlugin.load_config(settings)
    assert isinstance(section, SeatPoolConfig) and section.overflow_enter_wait_s == 90.0
    with pytest.raises(ConfigError, match="overflow policy: exit_wait_s"):
        SeatPoolPlugin.load_config(Settings(overflow_enter_wait_s=10))


def test_flat_names_set_in_code_reach_the_section():
    from dataclasses import replace

    settings = replace(Settings(wrap_up_s=3), ivr_sites="", http_port=1)
    assert (settings.wrap_up_s, settings.ivr_site_ids, settings.http_port) == (3.0, frozenset(), 1)
    assert settings.with_values(wrap_up_s=4).section(SeatPoolConfig).wrap_up_s == 4.0
    assert Settings().unknown_overrides() == [] and Settings(wrap_upp_s=1).unknown_overrides() == ["wrap_upp_s"]
    with pytest.raises(AttributeError):
        _ = Settings().no_such_setting
