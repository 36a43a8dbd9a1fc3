"""The desk's HTTP side on a real aiohttp server with the real middlewares: the page opens
for an agent's own token only, under a nonce-based Content-Security-Policy, with JsSIP and
its config inlined; the softphone endpoint answers the agent's own token only, a browser
phone (webrtc, with its SIP password) or a desk phone (sip); the plugin does not load
without the JsSIP bundle."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from desk import assets
from desk.page import config_block
from desk.plugin import DeskPlugin
from desk.schema import DeskConfig, SoftphoneConfig
from hotline_link.app import openapi_document
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings, SiteSettings
from hotline_link.web.auth import Principal, TokenBook
from seat_pool.state import SeatState
from tests.helpers import web_app_of

TOKENS = {"1021": ("agent-1021-token-0123456789", Principal("agent", "1021")),
          "1001": ("agent-1001-token-0123456789", Principal("agent", "1001")),
          "supervisor": ("supervisor-token-0123456789", Principal("supervisor")),
          "admin": ("admin-token-0123456789abcdef", Principal("admin"))}
PASSWORD = "pw-12345-1021-0123456789"
SITE = SiteSettings("12345", "12345", 25060, 25038, 30000, 30999, ("1001", "1021"), webrtc_agents=("1021",),
                    wss_port=25089)


def _settings(state_dir: Path, secrets: str | None = f'agent_password_12345_1021 = "{PASSWORD}"\n') -> Settings:
    state_dir.mkdir(exist_ok=True)
    if secrets is not None:
        path = state_dir / "secrets.toml"
        path.write_text(secrets)
        path.chmod(0o600)
    return Settings(ami_secret="x", state_dir=state_dir, sites=(SITE,), public_network_site="12345")


async def _states(site: str) -> dict[str, SeatState]:
    return {"1001": SeatState.PAUSED, "1021": SeatState.IDLE}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    stand_in = SimpleNamespace(tokens=TokenBook(TOKENS.values()), settings=_settings(tmp_path / "state"),
                               registry=SimpleNamespace(states=_states))
    async with TestClient(TestServer(web_app_of(stand_in))) as served:
        yield served


def _bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who][0]}"}


def _config_of(page: str) -> dict[str, object]:
    [data] = re.findall(r'<script type="application/json" id="desk-config">(.*?)</script>', page, re.S)
    return json.loads(data)


async def test_the_page_opens_for_the_agent_under_a_nonce_policy_with_jssip_inlined(client):
    resp = await client.get(f"/desk?token={TOKENS['1021'][0]}")
    assert resp.status == 200 and resp.content_type == "text/html"
    page = await resp.text()
    policy = resp.headers["Content-Security-Policy"]
    [nonce] = re.findall(r"script-src 'nonce-([A-Za-z0-9_-]{16,})'", policy)
    assert policy == (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
                      "connect-src 'self' wss://127.0.0.1:25089/ws; media-src 'self' blob:; img-src 'self' data:; "
                      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    assert (resp.headers["Cache-Control"], resp.headers["Referrer-Policy"], resp.headers["X-Content-Type-Options"]) \
        == ("no-store", "no-referrer", "nosniff")
    assert re.findall(r"<style[^>]*>", page) == [f'<style nonce="{nonce}">']
    executed = re.findall(r"<script(?! type=\"application/json\")[^>]*>", page)
    assert executed == [f'<script nonce="{nonce}">'] * 2  # JsSIP, then the page's script
    assert assets.jssip() in page and "var JsSIP=" in page
    assert page.count("</script>") == 3  # no early end inside the inlined bundle
    config = _config_of(page)
    assert (config["agent"], config["site"], config["platform"], config["other_platform"], config["other_number"],
            config["seat"]) == ("1021", "12345", "12345", "110", "110", "idle")
    assert config["softphone"] == {"mode": "webrtc", "ws_url": "wss://127.0.0.1:25089/ws",
                                   "sip_uri": "sip:1021@127.0.0.1", "authorization_user": "1021",
                                   "password": PASSWORD, "display_name": "12345 1021"}
    again = await client.get("/desk", headers=_bearer("1021"))
    assert again.headers["Content-Security-Policy"] != policy  # a nonce per response


async def test_a_desk_phone_agent_gets_the_page_without_a_phone_to_register(client):
    resp = await client.get(f"/desk?token={TOKENS['1001'][0]}")
    assert resp.status == 200
    assert "connect-src 'self'; " in resp.headers["Content-Security-Policy"]
    config = _config_of(await resp.text())
    assert config["softphone"]["mode"] == "sip" and config["softphone"]["password"] is None
    assert config["seat"] == "paused"


@pytest.mark.parametrize("query", ["", "?token=", "?token=agent-1021-token-012345678x"])
async def test_the_page_needs_a_token(client, query):
    resp = await client.get(f"/desk{query}")
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("who", ["supervisor", "admin"])
async def test_the_page_is_the_agents_only(client, who):
    resp = await client.get(f"/desk?token={TOKENS[who][0]}")
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden"


async def test_the_softphone_of_a_browser_phone_and_of_a_desk_phone(client):
    browser = await (await client.get("/api/agents/1021/softphone", headers=_bearer("1021"))).json()
    assert browser == {"mode": "webrtc", "ws_url": "wss://127.0.0.1:25089/ws", "sip_uri": "sip:1021@127.0.0.1",
                       "authorization_user": "1021", "password": PASSWORD, "display_name": "12345 1021"}
    desk_phone = await (await client.get("/api/agents/1001/softphone", headers=_bearer("1001"))).json()
    assert desk_phone == {"mode": "sip", "ws_url": None, "sip_uri": "sip:1001@127.0.0.1",
                          "authorization_user": "1001", "password": None, "display_name": "12345 1001"}


@pytest.mark.parametrize("who, agent, status", [("1001", "1021", 403), ("supervisor", "1021", 403),
                                                ("admin", "1021", 403), ("1021", "1021", 200)])
async def test_the_softphone_answers_the_agents_own_token_only(client, who, agent, status):
    resp = await client.get(f"/api/agents/{agent}/softphone", headers=_bearer(who))
    assert resp.status == status, await resp.text()
    assert PASSWORD not in await resp.text() or status == 200


async def test_the_softphone_takes_no_token_in_the_query(client):
    resp = await client.get(f"/api/agents/1021/softphone?token={TOKENS['1021'][0]}")
    assert resp.status == 401


async def test_a_browser_phone_without_its_password_is_the_servers_fault(tmp_path):
    stand_in = SimpleNamespace(tokens=TokenBook(TOKENS.values()), settings=_settings(tmp_path, secrets="other = 1\n"),
                               registry=SimpleNamespace(states=_states))
    async with TestClient(TestServer(web_app_of(stand_in))) as served:
        resp = await served.get("/api/agents/1021/softphone", headers=_bearer("1021"))
        error = (await resp.json())["error"]
        assert (resp.status, error["code"]) == (503, "softphone_unconfigured")
        assert "agent_password_12345_1021" in error["message"]
        page = await served.get(f"/desk?token={TOKENS['1021'][0]}")
        assert page.status == 503
        assert (await served.get("/api/agents/1001/softphone", headers=_bearer("1001"))).status == 200  # no password


def test_no_value_of_the_config_can_end_its_script_element():
    phone = SoftphoneConfig(mode="sip", ws_url=None, sip_uri="sip:1001@h", authorization_user="1001", password=None,
                            display_name="</script><script>alert(1)</script>")
    block = config_block(DeskConfig(agent="1001", site="12345", platform="12345", other_platform="110",
                                    other_number="110", wrap_up_s=0, seat=None, softphone=phone))
    assert block.count("<") == 2 and block.endswith("</script>")  # its own tags only
    data = block.removeprefix('<script type="application/json" id="desk-config">').removesuffix("</script>")
    assert json.loads(data)["softphone"]["display_name"] == "</script><script>alert(1)</script>"


def test_the_plugin_does_not_load_without_the_jssip_bundle(monkeypatch):
    DeskPlugin().load(SimpleNamespace())  # type: ignore[arg-type]  # the bundle is there (make install)
    monkeypatch.setattr(assets, "JSSIP_BUNDLE", "vendor/no-such-bundle.js")
    with pytest.raises(ConfigError, match=r"desk/vendor/no-such-bundle.js, is missing: run 'make install'"):
        DeskPlugin().load(SimpleNamespace())  # type: ignore[arg-type]


def test_the_bundle_is_jssip_and_runs_outside_a_browser():
    import shutil
    import subprocess

    node = shutil.which("node")
    assert node is not None, "node is not installed (Debian package nodejs): run 'make install'"
    probe = ("const vm = require('vm'), fs = require('fs'); const box = {}; vm.createContext(box);"
             "vm.runInContext(fs.readFileSync(process.argv[1], 'utf-8'), box); const sip = box.JsSIP;"
             "console.log(JSON.stringify([typeof sip.UA, typeof sip.WebSocketInterface, sip.version]))")
    bundle = Path(assets.__file__).with_name("vendor") / "jssip.min.js"
    done = subprocess.run([node, "-e", probe, str(bundle)], capture_output=True, text=True, timeout=60, check=True)
    ua, socket, version = json.loads(done.stdout)
    lock = json.loads((Path(assets.__file__).with_name("package-lock.json")).read_text())
    assert (ua, socket, version) == ("function", "function", lock["packages"]["node_modules/jssip"]["version"])


def test_the_openapi_document_has_the_desk():
    paths = openapi_document()["paths"]
    assert paths["/desk"]["get"]["responses"]["200"]["content"] == {"text/html": {}}
    assert paths["/api/agents/{agent}/softphone"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/SoftphoneConfig"}
    assert "SoftphoneConfig" in openapi_document()["components"]["schemas"]
