import re
from pathlib import Path

import pytest

from hotline_link.app import load_config
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import load_settings, read_secret_file
from linkage.keys import LINKAGE


def test_defaults_have_three_sites_with_distinct_ports(tmp_path):
    settings = load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path)})
    assert [s.id for s in settings.sites] == ["12345", "110", "remote"]
    assert len({s.sip_port for s in settings.sites}) == 3
    assert settings.site("110").intake == "110"
    assert settings.site("remote").intake == ""


def test_env_overrides_toml(tmp_path):
    config = tmp_path / "hl.toml"
    config.write_text('agi_port = 5000\nredis_url = "redis://10.0.0.1:6379/1"\n'
                      f'state_dir = "{tmp_path}"\n')
    settings = load_settings(config, env={"HOTLINE_AGI_PORT": "4600"})
    assert settings.agi_port == 4600
    assert settings.redis_url == "redis://10.0.0.1:6379/1"


def test_bad_number_names_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="agi_port: expected int"):
        load_settings(env={"HOTLINE_AGI_PORT": "forty", "HOTLINE_STATE_DIR": str(tmp_path)})


def test_unknown_setting_and_bad_toml_are_refused(tmp_path):
    unknown = tmp_path / "a.toml"
    unknown.write_text("agi_prot = 1\n")
    with pytest.raises(ConfigError, match="unknown settings agi_prot"):
        load_settings(unknown, env={})
    broken = tmp_path / "b.toml"
    broken.write_text("agi_port = \n")
    with pytest.raises(ConfigError, match=str(broken)):
        load_settings(broken, env={})


def test_sites_from_toml_are_validated(tmp_path):
    config = tmp_path / "sites.toml"
    config.write_text(f'state_dir = "{tmp_path}"\n'
                      '[[sites]]\nid = "a"\nsip_port = 5060\nami_port = 5038\n'
                      'rtp_start = 10000\nrtp_end = 10100\nagents = ["1"]\n'
                      '[[sites]]\nid = "b"\nsip_port = 5060\nami_port = 5039\n'
                      'rtp_start = 10000\nrtp_end = 10100\nagents = ["2"]\n')
    with pytest.raises(ConfigError, match="sip port 5060 already used by site a"):
        load_settings(config, env={})
    config.write_text('[[sites]]\nid = "a"\nsip_port = 5060\n')
    with pytest.raises(ConfigError, match=r"sites\[0\]: missing ami_port"):
        load_settings(config, env={})


def test_secret_comes_from_a_private_file_and_stays_out_of_repr(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('ami_secret = "s3cr3t"\n')
    secrets.chmod(0o600)
    settings = load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path)})
    assert settings.ami_secret == "s3cr3t"
    assert "s3cr3t" not in repr(settings)
    secrets.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        read_secret_file(Path(secrets))


def test_phone_timings_from_toml_and_env(tmp_path):
    config = tmp_path / "hl.toml"
    config.write_text(f'state_dir = "{tmp_path}"\nphone_ring_s = 30\nphone_retry_delay_s = 90.5\n')
    settings = load_config(config, env={"HOTLINE_PHONE_ANSWER_WINDOW_S": "45"})
    assert (settings.phone_ring_s, settings.phone_retry_delay_s, settings.phone_answer_window_s) == (30, 90.5, 45.0)
    defaults = load_config(env={"HOTLINE_STATE_DIR": str(tmp_path)})
    assert (defaults.phone_ring_s, defaults.phone_retry_delay_s, defaults.phone_answer_window_s) == (20, 120.0, 60.0)


@pytest.mark.parametrize("name, value, message", [
    ("PHONE_RING_S", "4", "phone_ring_s must be from 5 to 120 seconds, got 4"),
    ("PHONE_RING_S", "121", "phone_ring_s must be from 5 to 120 seconds, got 121"),
    ("PHONE_RING_S", "-20", "phone_ring_s must be from 5 to 120"),
    ("PHONE_RING_S", "20.5", "phone_ring_s: expected int"),
    ("PHONE_RETRY_DELAY_S", "0", "phone_retry_delay_s must be above 0 and at most 86400 seconds, got 0.0"),
    ("PHONE_RETRY_DELAY_S", "-1", "phone_retry_delay_s must be above 0"),
    ("PHONE_RETRY_DELAY_S", "nan", "phone_retry_delay_s must be above 0"),
    ("PHONE_RETRY_DELAY_S", "inf", "phone_retry_delay_s must be above 0"),
    ("PHONE_RETRY_DELAY_S", "86401", "phone_retry_delay_s must be above 0 and at most 86400"),
    ("PHONE_ANSWER_WINDOW_S", "0", "phone_answer_window_s must be above 0 and at most 600 seconds"),
    ("PHONE_ANSWER_WINDOW_S", "601", "phone_answer_window_s must be above 0 and at most 600"),
    ("PHONE_ANSWER_WINDOW_S", "a minute", "phone_answer_window_s: expected float"),
])
def test_bad_phone_timings_are_refused_with_the_setting_named(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(env={f"HOTLINE_{name}": value, "HOTLINE_STATE_DIR": str(tmp_path)})


def test_the_server_calls_units_with_the_phone_timings_of_its_settings(tmp_path):
    from hotline_link.app import App
    from hotline_link.core.settings import Settings
    from linkage.phone import PhoneTimings

    server = App(Settings(state_dir=tmp_path, ami_secret="x", phone_ring_s=30, phone_retry_delay_s=90.0,
                             phone_answer_window_s=45.0))
    assert server[LINKAGE].phone is not None
    assert server[LINKAGE].phone.timings == PhoneTimings(ring_s=30, retry_delay_s=90.0, answer_window_s=45.0)


@pytest.mark.parametrize("line, message", [
    ("phone_ring_s = 20.5", "phone_ring_s: expected int, got 20.5"),
    ("phone_ring_s = true", "phone_ring_s: expected int, got True"),
    ("phone_retry_delay_s = false", "phone_retry_delay_s: expected float, got False"),
])
def test_a_whole_number_setting_refuses_fractions_and_booleans_from_toml(tmp_path, line, message):
    config = tmp_path / "hl.toml"
    config.write_text(f'state_dir = "{tmp_path}"\n{line}\n')
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(config, env={})


def test_a_whole_float_is_taken_for_a_whole_number_setting(tmp_path):
    config = tmp_path / "hl.toml"
    config.write_text(f'state_dir = "{tmp_path}"\nphone_ring_s = 30.0\n')
    assert load_config(config, env={}).phone_ring_s == 30


@pytest.mark.parametrize("config, message", [
    ('ami_username = "hotline\\nwrite = system"', "ami_username: a line break"),
    ('ami_username = "hotline;x"', "ami_username: ';', '\\[' and '\\]' are not allowed"),
    ('[[sites]]\nid = "12345]"\nintake = "12345"\nsip_port = 1\nami_port = 2\nrtp_start = 3\nrtp_end = 4\n'
     'agents = ["1001"]',
     "id must be"),
    ('[[sites]]\nid = "12345"\nintake = "12345"\nsip_port = 1\nami_port = 2\nrtp_start = 3\nrtp_end = 4\n'
     'agents = ["10;01"]',
     "agent '10;01' must be"),
    ('[directory]\n"110\\n[x]" = "110"', "directory: name"),
])
def test_values_that_would_break_a_config_line_are_refused(tmp_path, config, message):
    path = tmp_path / "c.toml"
    path.write_text(config + "\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(path, env={})
