"""Security of configuration: secrets stay out of repr and logs; AMI and FastAGI stay on
loopback unless an address is explicitly allowed; the sandbox's Asterisk binds loopback."""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import fields

import pytest
import structlog

from hotline_link.app import load_config
from hotline_link.asterisk.agi.server import FastAgiServer
from hotline_link.asterisk.render import render_site
from hotline_link.core.errors import ConfigError
from hotline_link.core.logs import SECRET_KEYS, configure_logging
from hotline_link.core.settings import Settings, load_settings
from tests.helpers import agent_passwords, free_tcp_port

MODULES = "/usr/lib/x86_64-linux-gnu/asterisk/modules"
SECRET_FIELDS = [f.name for f in fields(Settings) if not f.repr]


def test_secret_fields_are_known():
    assert {"ami_secret", "push_secret"} <= set(SECRET_FIELDS)


def test_secrets_never_in_repr_or_str():
    settings = Settings(**{name: f"s3cret-{name}-value" for name in SECRET_FIELDS})
    for text in (repr(settings), str(settings)):
        for name in SECRET_FIELDS:
            assert f"s3cret-{name}-value" not in text


def test_every_secret_setting_is_redacted_in_logs():
    assert set(SECRET_FIELDS) <= SECRET_KEYS
    out = io.StringIO()
    configure_logging("debug", stream=out)
    values = {name: f"s3cret-{name}-value" for name in set(SECRET_FIELDS) | SECRET_KEYS | {"agent_password"}}
    structlog.get_logger().info("test.secrets", **values)
    line = json.loads(out.getvalue())
    assert all(line[name] == "[redacted]" for name in values)
    assert "s3cret" not in out.getvalue()


def test_secrets_from_the_environment_stay_out_of_config_errors(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_AMI_SECRET": "s3cret-ami",
                           "HOTLINE_PUSH_SECRET": "s3cret-push", "HOTLINE_AGI_PORT": "nope"})
    assert "s3cret" not in str(refused.value)


def test_defaults_keep_ami_and_fastagi_on_loopback(tmp_path):
    settings = load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path)})
    assert settings.agi_host == "127.0.0.1" and settings.allow_remote_hosts == ""
    assert all(site.host == "127.0.0.1" for site in settings.sites)


@pytest.mark.parametrize("host", ["0.0.0.0", "", "10.1.2.3", "::", "agi.example.org", "127.0.0.1.evil"])
def test_a_non_loopback_agi_host_is_refused_unless_allowed(tmp_path, host):
    env = {"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_AGI_HOST": host}
    with pytest.raises(ConfigError, match="allow_remote_hosts"):
        load_settings(env=env)
    if host:
        assert load_settings(env={**env, "HOTLINE_ALLOW_REMOTE_HOSTS": f"192.0.2.1, {host}"}).agi_host == host


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_agi_hosts_are_accepted(tmp_path, host):
    assert load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_AGI_HOST": host}).agi_host == host


def test_a_non_loopback_ami_host_is_refused_unless_allowed(tmp_path):
    site = ('[[sites]]\nid = "12345"\nintake = "12345"\nsip_port = 5060\nami_port = 5038\n'
            'rtp_start = 10000\nrtp_end = 10100\nagents = ["1001"]\nhost = "10.9.8.7"\n')
    config = tmp_path / "hl.toml"
    config.write_text(f'state_dir = "{tmp_path}"\npublic_network_site = "12345"\noverflow_centers = ""\n'
                      f'ivr_sites = ""\n{site}')
    with pytest.raises(ConfigError, match=r"site 12345 host \(AMI\) '10.9.8.7'"):
        load_config(config, env={})
    config.write_text('allow_remote_hosts = "10.9.8.7"\n' + config.read_text())
    try:
        assert load_config(config, env={}).sites[0].host == "10.9.8.7"
    except ConfigError as exc:  # another rule of a one-site config, not the host rule
        assert "allow_remote_hosts" not in str(exc)


def test_rendered_sandbox_binds_ami_and_sip_to_loopback():
    settings = Settings(ami_secret="amisecret")
    for site in settings.sites:
        files = render_site(settings, site, MODULES, agent_passwords(site))
        manager = files["manager.conf"]
        binds = [line.split("=", 1)[1].strip() for line in manager.splitlines()
                 if line.replace(" ", "").startswith("bindaddr=")]
        assert binds == ["127.0.0.1"], site.id
        assert "permit = 127.0.0.1/255.255.255.255" in manager and "deny = 0.0.0.0/0.0.0.0" in manager
        http = files["http.conf"]
        assert "webenabled = yes" not in http
        http_binds = [line.split("=", 1)[1].strip() for line in http.splitlines()
                      if line.replace(" ", "").startswith(("bindaddr=", "tlsbindaddr="))]
        assert all(bind.startswith("127.0.0.1") for bind in http_binds), site.id
        pjsip_binds = [line.split("=", 1)[1].strip() for line in files["pjsip.conf"].splitlines()
                       if line.replace(" ", "").startswith("bind=")]
        assert pjsip_binds and all(bind.startswith("127.0.0.1") for bind in pjsip_binds), site.id


async def test_fastagi_listens_on_the_configured_loopback_address_only():
    server = FastAgiServer("127.0.0.1", free_tcp_port())
    await server.start()
    try:
        sockets = server._server.sockets  # type: ignore[union-attr]  # started just above
        assert sockets and all(s.getsockname()[0] == "127.0.0.1" for s in sockets)
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.close()
    finally:
        await server.stop()
