"""Agents registered for a test are unregistered after it, so the next test starts clean."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest

from devtools.sip.peers import SipPeers, free_udp_port
from hotline_link.core.settings import Settings, agent_password


@dataclass
class Softphones:
    peers: SipPeers
    secrets: dict[str, str]
    registered: list[tuple[object, str, int]] = field(default_factory=list)

    def password(self, site, agent: str) -> str:
        return agent_password(self.secrets, site.id, agent)

    async def register(self, site, agent: str) -> int:
        port = free_udp_port()
        await self.peers.register(site, agent, self.password(site, agent), port)
        self.registered.append((site, agent, port))
        return port


@pytest.fixture
async def softphones(peers: SipPeers, agent_secrets: dict[str, str],
                     sandbox_settings: Settings) -> AsyncIterator[Softphones]:
    phones = Softphones(peers, agent_secrets)
    yield phones
    await peers.stop_all()  # the ports free again: each unregister binds its registration's port
    for site, agent, port in phones.registered:
        await peers.register(site, agent, phones.password(site, agent), port, expires=0)


@pytest.fixture
async def cc_server(server_settings: Settings, log_lines):
    """A server with short ring times, so failure paths take seconds; every channel a test
    leaves behind is hung up before the next test."""
    from hotline_link.app import App
    from tests.helpers import hangup_everything

    srv = App(replace(server_settings, transfer_ring_s=4, transfer_wait_s=20, conference_ring_s=5))
    await srv.start()
    await srv.ami.wait_connected(15)
    yield srv
    await hangup_everything(srv)
    await srv.stop()


@pytest.fixture
async def proxied_server(server_settings: Settings, log_lines):
    """A server that reaches the 12345 site's AMI through a TCP proxy the test can cut."""
    from devtools.faults import TcpProxy
    from hotline_link.app import App
    from tests.helpers import hangup_everything

    site = server_settings.site("12345")
    proxy = TcpProxy(site.host, site.ami_port)
    await proxy.start()
    sites = tuple(replace(s, ami_port=proxy.port) if s.id == "12345" else s for s in server_settings.sites)
    srv = App(replace(server_settings, sites=sites))
    await srv.start(http=False)
    await srv.ami.wait_connected(15)
    yield srv, proxy
    await hangup_everything(srv)
    await srv.stop()
    await proxy.close()


@dataclass
class Deployed:
    """One of the sandbox's two deployments, served for a test: its server and its Redis."""

    platform: str
    server: object
    redis: object  # redis.asyncio.Redis of this deployment's own Redis

    async def keys(self, pattern: str) -> list[str]:
        return [key async for key in self.redis.scan_iter(pattern, count=1000)]


@pytest.fixture
async def two_deployments(sandbox_settings: Settings, log_lines) -> AsyncIterator[dict[str, Deployed]]:
    """The 12345 and the 110 deployment (devtools.sandbox.deployments), each a server on its
    own Redis with only its own sites, tokens and secrets, joined by the exchange channel.
    The test owns both Redis: they start and end empty."""
    from redis.asyncio import Redis

    from devtools.sandbox import Sandbox, deployments
    from hotline_link.app import App
    from tests.helpers import free_tcp_port, hangup_everything

    Sandbox(sandbox_settings).clear()
    loaded = deployments.load_deployments(sandbox_settings.state_dir)
    ports = {platform: free_tcp_port() for platform in loaded}
    served: dict[str, Deployed] = {}
    try:
        for platform, settings in loaded.items():
            peer = next(p for p in loaded if p != platform)
            redis = Redis.from_url(settings.redis_url, password=settings.redis_password, decode_responses=True)
            await redis.flushall()
            app = App(replace(settings, http_port=ports[platform], ami_reconnect_min_s=0.2, ami_reconnect_max_s=1.0,
                              transfer_ring_s=4, transfer_wait_s=20, conference_ring_s=5,
                              exchange_peer_url=f"http://127.0.0.1:{ports[peer]}"))
            served[platform] = Deployed(platform, app, redis)
            await app.start()
        for one in served.values():
            await one.server.ami.wait_connected(15)
        yield served
    finally:
        for one in served.values():
            with contextlib.suppress(Exception):
                await hangup_everything(one.server)
            await one.server.stop()
            await one.redis.flushall()
            await one.redis.aclose()
