"""The exchange plugin in the app: built in, documented, on only between two deployments of
one platform each (with both keys in the secrets file), off (and harmless) in one deployment
serving both platforms, its settings refused when the client could never send."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from exchange import schema, wire
from exchange.app_keys import EXCHANGE
from exchange.config import ExchangeConfig
from exchange.effects import Off, On, plan
from exchange.errors import ChannelOff
from exchange.keys import key_name
from exchange.plugin import ExchangePlugin
from hotline_link.app import BUILTIN_PLUGINS, App, load_config, openapi_document
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings
from linkage.keys import LINKAGE
from tests.unit.exchange_samples import ticket_12345
from tickets.keys import PUSH

POLICE_SITE = """
public_network_site = "110"
remote_seat_site = "110"

[[sites]]
id = "110"
intake = "110"
sip_port = 25070
ami_port = 25039
rtp_start = 31000
rtp_end = 31999
agents = ["2001"]
"""


LOOPBACK_PEER = 'exchange_peer_url = "http://127.0.0.1:8081"\nexchange_allow_http_loopback = true'


def police_config_file(tmp_path: Path, exchange: str = LOOPBACK_PEER, secrets: dict[str, str] | None = None,
                       extra: str = "") -> Path:
    """110's deployment's config file: its one site, ``extra`` settings, its [exchange]
    table, and its secrets file beside it."""
    keys = {key_name("110", "12345", "k2"): "d" * 40, key_name("12345", "110", "k1"): "u" * 40}
    lines = [f'{name} = "{value}"' for name, value in (keys if secrets is None else secrets).items()]
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text("\n".join(['ami_secret = "x"', *lines]) + "\n")
    os.chmod(secrets_file, 0o600)
    config = tmp_path / "hl.toml"
    config.write_text(f'state_dir = "{tmp_path}"\n{extra}{POLICE_SITE}\n[exchange]\n{exchange}\n')
    return config


def police_config(tmp_path: Path, exchange: str = LOOPBACK_PEER,
                  secrets: dict[str, str] | None = None) -> Settings:
    """110's deployment's settings (``police_config_file``)."""
    return load_config(police_config_file(tmp_path, exchange, secrets), env={})


def test_the_plugin_is_built_in_after_tickets():
    names = list(BUILTIN_PLUGINS)
    assert "exchange" in names and names.index("tickets") < names.index("exchange")
    assert BUILTIN_PLUGINS["exchange"].requires == ("tickets",)


def test_the_openapi_document_includes_the_exchange_paths():
    document = openapi_document()
    assert {wire.MESSAGES_PATH, schema.STATUS_PATH, schema.RESUME_PATH, schema.SKIP_PATH, schema.CASES_PATH,
            schema.CASES_EXPORT_PATH} <= set(document["paths"])
    assert document["paths"][schema.RESUME_PATH]["post"]["responses"]["404"]["description"].startswith("not_stopped")
    assert {"ExchangeStatus", "ExchangeQueueResumed", "ExchangeQueueSkipped", "ExchangeEnvelope", "ExchangeReceipt",
            "ExchangeCases", "ExchangeCase"} <= \
        set(document["components"]["schemas"])


def test_the_channel_runs_only_between_two_deployments_of_one_platform_each():
    assert plan({"12345", "110"}, "http://127.0.0.1:8081") == \
        Off("this deployment serves 110, 12345: the exchange channel joins two deployments of one platform each "
            "(12345's and 110's)")
    assert plan({"110"}, "") == Off("no exchange_peer_url in [exchange]: the exchange channel is off")
    assert plan({"110"}, "https://12345.example") == On("110", "12345")
    assert plan({"12345"}, "https://110.example") == On("12345", "110")
    assert isinstance(plan(set(), "https://110.example"), Off)


async def test_one_deployment_for_both_platforms_builds_with_the_channel_off(tmp_path):
    server = App(Settings(state_dir=tmp_path, ami_secret="x", exchange_peer_url="http://127.0.0.1:8081",
                          exchange_allow_http_loopback=True))
    service = server[EXCHANGE]
    assert service.enabled is False and "serves 110, 12345" in service.off_reason
    assert server[PUSH].channel is None  # push goes through the push outbox, as it always did
    with pytest.raises(ChannelOff, match="serves 110, 12345"):
        await service.hand_over(ticket_12345(), "push", "110")
    state = await service.state()
    assert (state["enabled"], state["link"]["state"], state["waiting"], state["waiting_by_direction"]) == \
        (False, "off", 0, {})
    assert service.view()["state"] == "off"  # the supervisor page says so
    client = TestClient(TestServer(server.web_app()))
    await client.start_server()
    try:
        resp = await client.post(wire.MESSAGES_PATH, data=b"{}")
        assert (resp.status, (await resp.json())["error"]["code"]) == (503, "exchange_off")
        resp = await client.get(wire.HELLO_PATH)  # the other side's probe: the link is down from there
        assert (resp.status, (await resp.json())["error"]["code"]) == (503, "exchange_off")
    finally:
        await client.close()
        await server.redis.aclose()


async def test_a_deployment_of_one_platform_with_a_peer_runs_the_channel_and_carries_push(tmp_path):
    server = App(police_config(tmp_path))
    service = server[EXCHANGE]
    assert service.enabled and service.channel is not None
    assert (service.channel.platform, service.channel.peer_platform, service.channel.peer_url) == \
        ("110", "12345", "http://127.0.0.1:8081")
    assert server[PUSH].channel is service and service.carries("12345") and not service.carries("110")
    assert [p.name for p in server.plugins].index("exchange") > [p.name for p in server.plugins].index("tickets")
    [plugin] = [p for p in server.plugins if isinstance(p, ExchangePlugin)]
    assert service.cases.states is None  # attached at start: linkage may load after exchange
    assert plugin.attach_states(plugin.services) is True
    assert service.cases.states is server[LINKAGE].records  # the cases' status is the closed loop's
    await server.redis.aclose()


def test_a_missing_key_is_refused_at_start_naming_the_secret(tmp_path):
    settings = police_config(tmp_path, secrets={key_name("110", "12345", "k2"): "d" * 40})
    with pytest.raises(ConfigError, match=re.escape("exchange_key_12345_to_110_<key id>")):
        App(settings)


@pytest.mark.parametrize("exchange, message", [
    ('exchange_peer_url = "http://12345.example:8080"',
     "exchange_peer_url: http:// is allowed only to a loopback address"),
    ('exchange_peer_url = "http://127.0.0.1:8081"',
     "exchange_peer_url: http:// is allowed only to a loopback address"),
    ('exchange_peer_url = "ftp://12345.example"', "exchange_peer_url: only https:// URLs are allowed"),
    ("exchange_timeout_s = 0", "exchange_timeout_s must be above 0"),
    ("exchange_timeout_s = 20.0\nexchange_lease_s = 10.0",
     "exchange_lease_s (10 s) must be longer than exchange_timeout_s (20 s)"),
    ("exchange_send_batch = 0", "exchange_send_batch must be from 1 to 1000"),
    ("exchange_max_deliveries = 0", "exchange_max_deliveries must be from 1 to 1000, got 0"),
    ("exchange_max_deliveries = 1001", "exchange_max_deliveries must be from 1 to 1000, got 1001"),
    ("exchange_max_deliveries = 2.5", "[exchange] exchange_max_deliveries: expected int, got 2.5"),
    ("exchange_probe_s = 0.5", "exchange_probe_s must be from 1 to 3600 seconds, got 0.5"),
    ("exchange_probe_s = 7200", "exchange_probe_s must be from 1 to 3600 seconds, got 7200"),
    ("exchange_probe_s = nan", "exchange_probe_s must be from 1 to 3600 seconds, got nan"),
])
def test_settings_the_client_could_never_send_with_are_refused(tmp_path, exchange, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        police_config(tmp_path, exchange)


def test_the_defaults_are_off_and_https_only():
    config = ExchangeConfig.parse({})
    assert (config.exchange_peer_url, config.exchange_allow_http_loopback) == ("", False)
    assert (config.exchange_max_deliveries, config.exchange_probe_s) == (10, 10.0)
    assert ExchangeConfig.parse({"exchange_peer_url": "https://12345.example:8443/"}).exchange_peer_url == "https://12345.example:8443"


@pytest.mark.parametrize("max_deliveries", [1, 1000])
def test_the_dead_letter_bound_takes_its_whole_range(tmp_path, max_deliveries):
    settings = police_config(tmp_path, f"{LOOPBACK_PEER}\nexchange_max_deliveries = {max_deliveries}")
    assert settings.section(ExchangeConfig).exchange_max_deliveries == max_deliveries
