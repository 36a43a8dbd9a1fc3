"""The sandbox's two deployments: each one's config, secrets and tokens hold only what its
agency holds, and load as a deployment of one platform with the exchange channel on."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from devtools.sandbox import Sandbox, deployments
from exchange.config import ExchangeConfig
from exchange.effects import On, plan
from exchange.service import keyring_for
from hotline_link.app import load_config
from hotline_link.core.settings import Settings, read_secret_file
from hotline_link.web.auth import read_toml_private


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Sandbox, dict[str, str]]:
    box = Sandbox(Settings(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache"))
    shared = box.load_or_create_secrets()
    deployments.write_deployments(box._rendered_settings(shared), shared)
    return box, shared


def _loaded(box: Sandbox, platform: str) -> Settings:
    return deployments.load_deployments(box.settings.state_dir)[platform]


def test_each_deployment_serves_its_own_sites_on_its_own_redis_and_ports(sandbox) -> None:
    box, shared = sandbox
    hotline, police = _loaded(box, "12345"), _loaded(box, "110")
    assert [s.id for s in hotline.sites] == ["12345", "remote"] and [s.id for s in police.sites] == ["110"]
    assert (hotline.redis_url, police.redis_url) == ("redis://127.0.0.1:26380/0", "redis://127.0.0.1:26381/0")
    assert (hotline.agi_port, police.agi_port, hotline.http_port, police.http_port) == (4573, 4574, 8080, 8081)
    assert hotline.redis_password == shared["redis_password_deployment_12345"] != police.redis_password
    for settings, peer_port in ((hotline, 8081), (police, 8080)):
        config = settings.section(ExchangeConfig)
        assert config.exchange_peer_url == f"http://127.0.0.1:{peer_port}"
        on = plan(settings.platform_ids, config.exchange_peer_url)
        assert isinstance(on, On)
        keyring_for(settings, on)  # both directions' keys are there, or this raises


def test_no_deployment_holds_the_other_agency_secrets_or_tokens(sandbox) -> None:
    box, shared = sandbox
    hotline_dir = deployments.deployment_dir(box.settings.state_dir, "12345")
    police_dir = deployments.deployment_dir(box.settings.state_dir, "110")
    hotline, police = read_secret_file(hotline_dir / "secrets.toml"), read_secret_file(police_dir / "secrets.toml")
    assert police["ami_secret_110"] == shared["ami_secret_110"] and "ami_secret" not in police
    assert shared["ami_secret_110"] not in hotline.values() and shared["ami_secret"] not in police.values()
    assert not any(k.startswith("agent_password_110_") for k in hotline)
    assert not any(k.startswith(("agent_password_12345_", "agent_password_remote_")) for k in police)
    assert shared["redis_password_deployment_110"] not in hotline.values()
    hotline_tokens = {t["token"] for t in read_toml_private(hotline_dir / "tokens.toml")["tokens"]}
    police_tokens = read_toml_private(police_dir / "tokens.toml")["tokens"]
    assert not hotline_tokens & {t["token"] for t in police_tokens}
    assert {t.get("agent") for t in police_tokens if t["role"] == "agent"} == set(box.settings.site("110").agents)
    for directory in (hotline_dir, police_dir):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        for name in ("config.toml", "secrets.toml", "tokens.toml"):
            assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600


def test_site_110_asks_its_own_deployment_first_and_opens_its_ami_with_its_own_secret(sandbox) -> None:
    box, shared = sandbox
    rendered = box._rendered_settings(shared)
    assert rendered.agi_addresses(rendered.site("110")) == ("127.0.0.1:4574", "127.0.0.1:4573")
    assert rendered.agi_addresses(rendered.site("12345")) == ("127.0.0.1:4573",)
    assert rendered.ami_secret_for("110") == shared["ami_secret_110"] != rendered.ami_secret_for("12345")
    # the one-server layout reads both from the sandbox's secrets file
    one = load_config(None, env={"HOTLINE_STATE_DIR": str(box.settings.state_dir)})
    assert (one.ami_secret_for("110"), one.ami_secret_for("remote")) == (shared["ami_secret_110"],
                                                                          shared["ami_secret"])


def test_rewriting_keeps_the_tokens_a_running_server_accepts(sandbox) -> None:
    box, shared = sandbox
    path = deployments.deployment_dir(box.settings.state_dir, "110") / "tokens.toml"
    before = path.read_text()
    deployments.write_deployments(replace(box._rendered_settings(shared)), shared)
    assert path.read_text() == before


def test_each_deployment_holds_only_the_peer_token_the_other_issued_it(sandbox) -> None:
    box, _ = sandbox
    dirs = {p: deployments.deployment_dir(box.settings.state_dir, p) for p in ("12345", "110")}
    for platform, other in (("12345", "110"), ("110", "12345")):
        held = read_secret_file(dirs[platform] / "secrets.toml")["knowledge_peer_token"]
        issued = read_toml_private(dirs[other] / "tokens.toml")["tokens"]
        assert [t["role"] for t in issued if t["token"] == held] == ["peer"]
