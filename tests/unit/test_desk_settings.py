"""A site's browser phones: ``webrtc_agents`` (a subset of its agents) register over SIP
over WebSocket on ``wss_port``; a config that breaks either rule is refused with the site
and the reason, where it was written."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from hotline_link.app import load_config
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings, SiteSettings

SITE = ('[[sites]]\nid = "12345"\nintake = "12345"\nsip_port = 5060\nami_port = 5038\n'
        'rtp_start = 10000\nrtp_end = 10100\nagents = ["1001", "1021"]\n')
HEAD = 'public_network_site = "12345"\n'
TAIL = '[seat_pool]\noverflow_centers = ""\nivr_sites = ""\n'


def _load(tmp_path, site_lines: str):
    path = tmp_path / "hl.toml"
    path.write_text(f'state_dir = "{tmp_path}"\n{HEAD}{SITE}{site_lines}{TAIL}')
    return load_config(path, env={})


def _refusal(tmp_path, site_lines: str) -> str:
    with pytest.raises(ConfigError) as refused:
        _load(tmp_path, site_lines)
    return str(refused.value)


def test_a_site_has_no_browser_phones_by_default():
    site = SiteSettings("12345", "12345", 25060, 25038, 30000, 30999, ("1001",))
    assert (site.webrtc_agents, site.wss_port, site.webrtc_url()) == ((), 0, None)


def test_browser_phones_and_their_port_are_read_from_the_site(tmp_path):
    site = _load(tmp_path, "webrtc_agents = [1021]\nwss_port = 25089\n").sites[0]
    assert (site.webrtc_agents, site.wss_port) == (("1021",), 25089)  # a number is taken as a name
    assert site.webrtc_url() == "wss://127.0.0.1:25089/ws"


def test_a_browser_phone_must_be_one_of_the_sites_agents(tmp_path):
    said = _refusal(tmp_path, 'webrtc_agents = ["1021", "2001"]\nwss_port = 25089\n')
    assert said == f"config file {tmp_path / 'hl.toml'}: site 12345: webrtc_agents 2001 not among its agents"


def test_browser_phones_need_the_wss_port(tmp_path):
    said = _refusal(tmp_path, 'webrtc_agents = ["1021"]\n')
    assert said.startswith(f"config file {tmp_path / 'hl.toml'}: site 12345: webrtc_agents need wss_port")


@pytest.mark.parametrize("value, message", [
    ("65536", "sites[0].wss_port must be at most 65535, got 65536"),
    ("-1", "sites[0].wss_port must be at least 0, got -1"),
    ('"x"', "sites[0].wss_port: expected int, got 'x'"),
])
def test_the_wss_port_is_a_port_or_zero(tmp_path, value, message):
    assert _refusal(tmp_path, f"wss_port = {value}\n") == f"config file {tmp_path / 'hl.toml'}: {message}"


def test_two_sites_cannot_share_a_wss_port():
    sites = [SiteSettings("12345", "12345", 25060, 25038, 30000, 30999, ("1001",), wss_port=25089),
             SiteSettings("110", "110", 25070, 25039, 31000, 31999, ("2001",), wss_port=25089)]
    with pytest.raises(ValueError, match="site 110: wss port 25089 already used by site 12345"):
        TypeAdapter(Settings).validate_python({"sites": sites, "public_network_site": "12345"})


def test_a_sandbox_deployment_keeps_its_sites_browser_phones():
    import tomllib

    from devtools.sandbox.deployments import _site_table

    site = SiteSettings("12345", "12345", 25060, 25038, 30000, 30999, ("1001", "1021"),
                        webrtc_agents=("1021",), wss_port=25089)
    [table] = tomllib.loads(_site_table(site))["sites"]
    assert (table["webrtc_agents"], table["wss_port"]) == (["1021"], 25089)
    plain = tomllib.loads(_site_table(SiteSettings("110", "110", 25070, 25039, 31000, 31999, ("2001",))))
    assert "webrtc_agents" not in plain["sites"][0] and "wss_port" not in plain["sites"][0]
