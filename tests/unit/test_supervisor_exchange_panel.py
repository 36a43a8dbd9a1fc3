"""The supervisor page shows the exchange link (交互通道): its plugin attaches the exchange
service when that plugin is loaded (the channel on, or off in one deployment for both
platforms), and the page follows a real partition between two deployments."""

from __future__ import annotations

from exchange.link import DOWN_AFTER
from hotline_link.app import BUILTIN_PLUGINS, App
from hotline_link.core.settings import Settings
from supervisor.keys import SUPERVISOR
from supervisor.plugin import SupervisorPlugin
from supervisor.service import SupervisorService
from tests.unit.exchange_samples import T12345, ticket_12345
from tests.unit.test_exchange_link_deployments import CONNECT_ERROR
from tests.unit.test_exchange_plugin_app import police_config


async def test_the_supervisor_page_shows_the_exchange_link_when_the_plugin_is_loaded(tmp_path):
    one = App(Settings(state_dir=tmp_path / "one", ami_secret="x", exchange_peer_url="http://127.0.0.1:8081",
                       exchange_allow_http_loopback=True))
    two = App(police_config(tmp_path))
    chosen = [cls() for name, cls in BUILTIN_PLUGINS.items() if name != "exchange"]
    (tmp_path / "without").mkdir()
    without = App(police_config(tmp_path / "without"), plugins=chosen)
    for server, loaded, state in ((one, True, "off"), (two, True, "unknown"), (without, False, "off")):
        plugin = next(p for p in server.plugins if isinstance(p, SupervisorPlugin))
        assert plugin.attach_exchange(server.services) is loaded
        panel = server[SUPERVISOR].snapshot()["exchange"]
        assert (panel["enabled"], panel["state"]) == (state != "off", state)
        await server.redis.aclose()
    assert server[SUPERVISOR].exchange is None  # without the exchange plugin


async def test_the_supervisor_page_sees_the_partition_and_its_backlog(deployments):
    hotline, police = deployments
    page = SupervisorService(Settings(ami_secret="x"), hotline.bus, None, None, None, None)  # type: ignore[arg-type]
    page.attach_exchange(hotline.service)  # as the supervisor plugin does at start
    assert (page.snapshot()["exchange"]["state"], page.snapshot()["exchange"]["enabled"]) == ("unknown", True)
    await police.down()
    await hotline.tickets.save(ticket_12345())
    queued_at = hotline.clock.now
    await hotline.push.push(T12345, "110")
    for attempt in range(DOWN_AFTER):
        hotline.clock.now += 10 if attempt else 0  # each past the last one's back-off
        assert await hotline.service.send_once() == 1
    assert await hotline.service.link_once() is False  # the link loop's round: no probe, the backlog read
    panel = page.snapshot()["exchange"]
    assert (panel["state"], panel["error"], panel["waiting"], panel["waiting_by_direction"]) == \
        ("down", CONNECT_ERROR, 1, {"12345->110": 1, "110->12345": 0})
    assert (panel["platform"], panel["peer_platform"], panel["stopped_count"], panel["dead_count"]) == \
        ("12345", "110", 0, 0)
    assert page.dashboard.snapshot(hotline.clock.now)["exchange"]["oldest_waiting_s"] == hotline.clock.now - queued_at
    await police.up()
    hotline.clock.now += 10  # past the back-off
    await hotline.settle(police)
    await hotline.service.link_once()
    panel = page.snapshot()["exchange"]
    assert (panel["state"], panel["waiting"], panel["oldest_waiting_s"]) == ("up", 0, None)
