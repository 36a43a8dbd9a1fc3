"""The ``[knowledge]`` section: the jurisdiction it loads, the peer it asks and the secret
token for it, each refused at load_config when wrong; and the plugin in the app."""

from __future__ import annotations

import os

import pytest

from hotline_link.app import BUILTIN_PLUGINS, load_config
from hotline_link.core.errors import ConfigError
from hotline_link.plugin import load_order
from knowledge.config import KnowledgeConfig, jurisdiction_of
from knowledge.plugin import peer_target

TOKEN = "a-peer-token-of-110-0123456789"


def _config(tmp_path, text: str, secrets: str | None = None):
    path = tmp_path / "hl.toml"
    path.write_text(f'state_dir = "{tmp_path}"\n{text}\n')
    if secrets is not None:
        secret_file = tmp_path / "secrets.toml"
        secret_file.write_text(secrets)
        os.chmod(secret_file, 0o600)
    return path


def test_the_jurisdiction_is_the_catalogs_unless_set(tmp_path):
    assert jurisdiction_of(load_config(_config(tmp_path, ""), env={})) == "qidong"  # linkage_jurisdiction
    assert jurisdiction_of(load_config(_config(tmp_path, '[tickets]\ncatalog_jurisdiction = "siyang"'),
                                       env={})) == "siyang"
    assert jurisdiction_of(load_config(_config(tmp_path, '[knowledge]\njurisdiction = "wuqia"'), env={})) == "wuqia"


@pytest.mark.parametrize(("text", "message"), [
    ('[knowledge]\njurisdiction = "atlantis"', r"\[knowledge\] jurisdiction: .*no knowledge file 'atlantis'"),
    ('[knowledge]\npeer_url = "http://110.example"', r"peer_url: http:// is allowed only to a loopback address"),
    ('[knowledge]\npeer_timeout_s = 30', r"peer_timeout_s must be above 0 and at most 10"),
    ('[knowledge]\nsearch_everything = true', r"\[knowledge\] search_everything: unknown setting"),
    ('[knowledge]\npeer_url = "https://110.example"', r"no knowledge_peer_token"),
])
def test_a_bad_knowledge_setting_is_refused(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(_config(tmp_path, text), env={})


def test_the_peer_is_the_exchange_peer_unless_set(tmp_path):
    settings = load_config(_config(tmp_path, '[exchange]\nexchange_peer_url = "https://110.example:8443"'), env={})
    assert peer_target(settings) == ("https://110.example:8443", False)
    settings = load_config(_config(tmp_path, '[knowledge]\npeer_allow_http_loopback = true\n'
                                             'peer_url = "http://127.0.0.1:8081/"',
                                   f'knowledge_peer_token = "{TOKEN}"\n'), env={})
    assert peer_target(settings) == ("http://127.0.0.1:8081", True)
    assert settings.section(KnowledgeConfig).peer_timeout_s == 2.0
    with pytest.raises(ConfigError, match="shorter than 16"):
        load_config(_config(tmp_path, '[knowledge]\npeer_url = "https://110.example"',
                            'knowledge_peer_token = "short"\n'), env={})


def test_the_ivr_comes_after_the_knowledge_base():
    order = [p.name for p in load_order([cls() for cls in BUILTIN_PLUGINS.values()])]
    assert order.index("knowledge") < order.index("ivr")
    assert BUILTIN_PLUGINS["ivr"].requires == ("tickets", "knowledge")
