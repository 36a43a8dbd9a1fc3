"""``/api/classify`` ranks with the deployment's jurisdiction: the catalog of the linkage
units directory it runs (``linkage_jurisdiction``), unless ``[tickets]
catalog_jurisdiction`` names another. The real tickets plugin, loaded by the real ``App``,
behind the real routes and middlewares on an aiohttp test server; the recommender is the
real one (jieba), built once off the loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline_link.app import App, build_app
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings, load_settings
from hotline_link.web.auth import Principal, TokenBook
from linkage.config import LinkageConfig
from linkage.dispatching import Dispatcher
from linkage.policy import load_config
from linkage.units import load_jurisdiction_units
from tickets.config import TicketsConfig, classify_jurisdiction
from tickets.keys import RECOMMENDER
from tickets.plugin import TicketsPlugin
from tickets.store import Ticket

AGENT_TOKEN = "agent-1001-token-0123456789"
ZOMBIE_CAR = "我们小区里停了一辆僵尸车，好几个月没人动了"  # 泗阳 附件1 一.8 names 僵尸车


async def _no_health(request: web.Request) -> web.Response:
    return web.json_response({"healthy": True})


@pytest.fixture
async def deployment() -> AsyncIterator[Callable[..., Any]]:
    clients: list[TestClient] = []

    async def start(settings: Settings) -> tuple[App, TestClient]:
        server = App(settings, [TicketsPlugin()])
        tokens = TokenBook([(AGENT_TOKEN, Principal("agent", "1001"))])
        client = TestClient(TestServer(build_app(settings, tokens, server.bus, server.services.by_key,
                                                 _no_health, server.plugins)))
        await client.start_server()
        clients.append(client)
        return server, client

    yield start
    for client in clients:
        await client.close()


async def _classify(client: TestClient, text: str) -> dict[str, Any]:
    resp = await client.post("/api/classify", json={"text": text},
                             headers={"Authorization": f"Bearer {AGENT_TOKEN}"})
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def test_a_siyang_deployment_classifies_with_siyangs_catalog(deployment):
    server, client = await deployment(Settings(ami_secret="x", linkage_jurisdiction="siyang"))
    advice = await _classify(client, ZOMBIE_CAR)
    assert advice["entry_id"] == "SY-12345-8" and advice["platform"] == "12345"
    assert (advice["category"], advice["sub_category"]) == ("非紧急政务服务", "车辆停放类")  # siyang's only
    assert server[RECOMMENDER].jurisdiction == "siyang"
    assert (await server[RECOMMENDER].get()).catalog.jurisdiction == "siyang"


async def test_an_unconfigured_deployment_classifies_with_its_units_jurisdiction_qidong(deployment):
    assert LinkageConfig().linkage_jurisdiction == "qidong"  # the shipped deployment's units
    _, client = await deployment(Settings(ami_secret="x"))
    advice = await _classify(client, "家里煤气泄漏了，闻到很大的煤气味")
    assert advice["entry_id"].startswith("QD-") and advice["platform"] == "110" and advice["emergency"] is True


async def test_catalog_jurisdiction_overrides_the_units_one_and_default_stays_default(deployment):
    _, client = await deployment(Settings(ami_secret="x", linkage_jurisdiction="siyang",
                                          catalog_jurisdiction="default"))
    advice = await _classify(client, ZOMBIE_CAR)
    assert advice["entry_id"].startswith("D-"), advice


async def test_a_huangchuan_deployment_proposes_its_own_units_matter(deployment):
    _, client = await deployment(Settings(ami_secret="x", linkage_jurisdiction="huangchuan"))
    advice = await _classify(client, "超市里有人卖无碘盐冒充食盐")
    assert advice["entry_id"] == "HC-12345-28" and advice["responsible_unit"] == "县盐业局"


def test_the_tickets_table_sets_the_catalog_and_a_catalog_not_shipped_is_refused(tmp_path: Path):
    env = {"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_AMI_SECRET": "s3cret-ami"}
    config = tmp_path / "hl.toml"
    config.write_text('[linkage]\nlinkage_jurisdiction = "siyang"\n[tickets]\ncatalog_jurisdiction = "wuqia"\n',
                      encoding="utf-8")
    settings = load_settings(config, env, [TicketsConfig, LinkageConfig])
    assert settings.section(TicketsConfig).catalog_jurisdiction == "wuqia"
    config.write_text('[tickets]\ncatalog_jurisdiction = "atlantis"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"hl\.toml.*catalog_jurisdiction.*no catalog 'atlantis'"):
        load_settings(config, env, [TicketsConfig]).section(TicketsConfig)


@pytest.mark.parametrize("configured, units, chosen", [
    ("", "siyang", "siyang"),
    ("", "huangchuan", "huangchuan"),
    ("wuqia", "qidong", "wuqia"),
    ("", "/etc/hotline-link/units.csv", "default"),  # a units file of one's own names no catalog
    ("", "", "default"),  # no linkage capability known
])
def test_which_catalog_a_deployment_classifies_with(configured, units, chosen):
    assert classify_jurisdiction(configured, units) == chosen


async def test_dispatch_proposals_rank_with_the_units_jurisdictions_catalog():
    # the dispatcher's recommender and proposal use only its units directory
    dispatcher = Dispatcher(None, None, None, None, None, None, units=load_jurisdiction_units("siyang"),
                            config=load_config(None), clock=lambda: 0.0)
    recommender = await dispatcher.recommender()
    assert recommender.catalog.jurisdiction == "siyang"
    hint = recommender.recommend(ZOMBIE_CAR)
    ticket = Ticket(id="12345-20261206-000001", site="12345", call_id="c1", category="车辆停放",
                    summary=ZOMBIE_CAR, created_at=1795530292.5)
    assert [u.name for u in dispatcher.proposal(ticket, hint.entry_id, hint.responsible_unit)] == ["住建局", "城管局"]
