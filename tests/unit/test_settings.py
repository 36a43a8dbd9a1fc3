from pathlib import Path

import pytest

from hotline_link.errors import ConfigError
from hotline_link.settings import load_settings, read_secret_file


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
