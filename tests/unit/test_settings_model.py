"""Core's settings as a typed model: a bad value names where it was written (the config
file and key, or the environment variable) and why; unknown keys are refused; old flat
names of a capability's keys still work, with a warning; secrets stay out of messages."""

from __future__ import annotations

import re

import pytest
from structlog.testing import capture_logs

from hotline_link.app import BUILTIN_PLUGINS, load_config
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import CORE_KEYS, env_names, load_settings
from seat_pool.config import SeatPoolConfig

SITE = ('[[sites]]\nid = "12345"\nintake = "12345"\nsip_port = 5060\nami_port = 5038\n'
        'rtp_start = 10000\nrtp_end = 10100\nagents = ["1001"]\n')


def _config(tmp_path, text: str):
    path = tmp_path / "hl.toml"
    path.write_text(f'state_dir = "{tmp_path}"\n{text}\n')
    return path


def _refusal(path=None, **env: str) -> str:
    with pytest.raises(ConfigError) as refused:
        load_config(path, env=env)
    return str(refused.value)


@pytest.mark.parametrize("line, message", [
    ('agi_port = "forty"', "agi_port: expected int, got 'forty'"),
    ("http_port = 80.5", "http_port: expected int, got 80.5"),
    ("ami_reconnect_max_s = true", "ami_reconnect_max_s: expected float, got True"),
    ("cache_dir = 5", "cache_dir: expected Path, got 5"),
    ("seat_liveness_s = 4000", "seat_liveness_s must be at most 3600 seconds, got 4000"),
    ("directory = 5", 'directory: expected a table of name = "number"'),
    ('[directory]\nfire = "11x"', "directory.fire: '11x' is not a dialable number"),
])
def test_a_bad_type_in_the_config_file_names_the_file_and_the_key(tmp_path, line, message):
    path = _config(tmp_path, line)
    assert _refusal(path) == f"config file {path}: {message}"


@pytest.mark.parametrize("name, value, message", [
    ("HOTLINE_AGI_PORT", "forty", "setting agi_port: expected int, got 'forty'"),
    ("HOTLINE_SEAT_LIVENESS_S", "4", "seat_liveness_s must be at least 5 seconds, got 4"),
    ("HOTLINE_MEDIA_TIMEOUT_S", "soon", "setting media_timeout_s: expected int, got 'soon'"),
    ("HOTLINE_AGI_HOST", "10.0.0.1", "agi_host '10.0.0.1' is not a loopback address"),
    ("HOTLINE_AMI_USERNAME", "a;b", "setting ami_username: ';', '[' and ']' are not allowed"),
])
def test_a_bad_environment_value_names_the_variable(tmp_path, name, value, message):
    said = _refusal(HOTLINE_STATE_DIR=str(tmp_path), **{name: value})
    assert said.startswith(message) and said.endswith(f"(environment {name})")


def test_the_environment_wins_over_the_file_and_is_named_when_bad(tmp_path):
    path = _config(tmp_path, "agi_port = 5000")
    assert load_config(path, env={"HOTLINE_AGI_PORT": "4600"}).agi_port == 4600
    said = _refusal(path, HOTLINE_AGI_PORT="x")
    assert said == "setting agi_port: expected int, got 'x' (environment HOTLINE_AGI_PORT)"


def test_unknown_keys_are_refused_at_the_top_and_in_a_site(tmp_path):
    path = _config(tmp_path, "agi_prot = 1\nhtpp_port = 2")
    assert _refusal(path) == f"config file {path}: unknown settings agi_prot, htpp_port"
    path = _config(tmp_path, 'public_network_site = "12345"\n' + SITE + 'hots = "10.0.0.1"\n')
    assert _refusal(path).startswith(f"config file {path}: sites[0].hots: unknown setting; known: id, intake,")


@pytest.mark.parametrize("change, message", [
    ("", "sites[0]: missing sip_port, ami_port, rtp_start, rtp_end, agents"),
    ('sip_port = "x"\nami_port = 1\nrtp_start = 1\nrtp_end = 2\nagents = ["1"]', "sites[0].sip_port: expected int"),
    ('sip_port = 0\nami_port = 1\nrtp_start = 1\nrtp_end = 2\nagents = ["1"]', "sites[0].sip_port must be at least 1"),
    ('sip_port = 1\nami_port = 1\nrtp_start = 1\nrtp_end = 2\nagents = "1001"', "sites[0].agents: expected a list"),
    ("sip_port = 1\nami_port = 1\nrtp_start = 2\nrtp_end = 2\nagents = [1001]", "site a: rtp_start must be below"),
])
def test_a_bad_site_names_the_file_and_the_site(tmp_path, change, message):
    path = _config(tmp_path, f'[[sites]]\nid = "a"\n{change}')
    assert _refusal(path).startswith(f"config file {path}: {message}")


def test_agents_written_as_numbers_are_taken_as_names(tmp_path):
    path = _config(tmp_path, 'public_network_site = "12345"\noverflow_centers = ""\nivr_sites = ""\n'
                   + SITE.replace('["1001"]', "[1001, 1002]"))
    assert load_config(path, env={}).sites[0].agents == ("1001", "1002")


def test_an_old_flat_name_still_works_with_a_warning_and_is_named_when_bad(tmp_path):
    path = _config(tmp_path, "wrap_up_s = 5\nagi_port = 4600")
    with capture_logs() as logs:
        settings = load_config(path, env={})
    assert (settings.section(SeatPoolConfig).wrap_up_s, settings.wrap_up_s, settings.agi_port) == (5.0, 5.0, 4600)
    assert [(e["name"], e["use"], e["log_level"]) for e in logs if e["event"] == "settings.flat_name_deprecated"] == [
        ("wrap_up_s", "[seat_pool] wrap_up_s", "warning")]
    path = _config(tmp_path, 'wrap_up_s = "soon"')
    assert _refusal(path) == f"config file {path}: wrap_up_s: expected float, got 'soon'"


def test_a_bad_secret_from_the_secrets_file_names_the_file_and_never_the_secret(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('ami_secret = "s3cret;value"\n')
    secrets.chmod(0o600)
    said = _refusal(HOTLINE_STATE_DIR=str(tmp_path))
    assert said.startswith(f"secrets file {secrets}: ami_secret: ';', '[' and ']' are not allowed")
    assert "s3cret" not in said
    said = _refusal(HOTLINE_STATE_DIR=str(tmp_path), HOTLINE_AMI_SECRET="s3cret\nvalue")
    assert "a line break" in said and "s3cret" not in said


def test_every_scalar_key_has_its_environment_name():
    sections = [p.config_model for p in BUILTIN_PLUGINS.values() if p.config_model is not None]
    names = env_names(sections)
    assert names["HOTLINE_AGI_PORT"] == ("", "agi_port")
    assert names["HOTLINE_AMI_SECRET"] == ("", "ami_secret")
    assert names["HOTLINE_WRAP_UP_S"] == ("seat_pool", "wrap_up_s")
    assert names["HOTLINE_PHONE_RING_S"] == ("linkage", "phone_ring_s")
    assert all(re.fullmatch(r"HOTLINE_[A-Z0-9_]+", name) for name in names)
    assert {key for table, key in names.values() if not table} == set(CORE_KEYS) - {"sites", "directory"}
    assert "HOTLINE_SKILLS" not in names and "HOTLINE_PUSH_TARGETS" not in names  # tables: TOML only


def test_settings_from_toml_are_typed(tmp_path):
    path = _config(tmp_path, 'agi_port = "4600"\nami_ping_interval_s = 2\nmedia_timeout_s = 60.0\n'
                             '[directory]\nfire = 119\n')
    settings = load_settings(path, env={"HOTLINE_CACHE_DIR": str(tmp_path / "cache")})
    assert (settings.agi_port, settings.ami_ping_interval_s, settings.media_timeout_s) == (4600, 2.0, 60)
    assert isinstance(settings.ami_ping_interval_s, float) and settings.directory == {"fire": "119"}
    assert settings.cache_dir == tmp_path / "cache" and settings.state_dir == tmp_path


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "a;b:1", "host:port"])
def test_a_site_fastagi_address_that_is_not_host_port_is_refused(tmp_path, address):
    path = _config(tmp_path, 'public_network_site = "12345"\n' + SITE + f'agi = ["{address}"]\n')
    assert "site 12345: agi" in _refusal(path) and "is not host:port" in _refusal(path)


def test_a_site_fastagi_server_off_loopback_must_be_allowed(tmp_path):
    path = _config(tmp_path, 'public_network_site = "12345"\n' + SITE + 'agi = ["10.0.0.9:4573"]\n')
    assert "site 12345 agi '10.0.0.9' is not a loopback address" in _refusal(path)
    allowed = _config(tmp_path, 'public_network_site = "12345"\nallow_remote_hosts = "10.0.0.9"\n' + SITE
                      + 'agi = ["10.0.0.9:4573", "127.0.0.1:4574"]\n')
    settings = load_config(allowed, env={})
    assert settings.agi_addresses(settings.site("12345")) == ("10.0.0.9:4573", "127.0.0.1:4574")


def test_a_site_own_ami_secret_comes_from_the_secrets_file(tmp_path):
    (tmp_path / "secrets.toml").write_text('ami_secret = "shared-one"\nami_secret_12345 = "own-one"\n')
    (tmp_path / "secrets.toml").chmod(0o600)
    settings = load_config(_config(tmp_path, 'public_network_site = "12345"\n' + SITE), env={})
    assert (settings.ami_secret, settings.ami_secret_for("12345"), settings.ami_secret_for("x")) == (
        "shared-one", "own-one", "shared-one")
    assert "own-one" not in repr(settings)
