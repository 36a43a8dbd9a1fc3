"""The knowledge base plugin (知识库, 一问一答): loads the jurisdiction's data file into Redis
at start, serves search and editing over HTTP, and asks the other platform's deployment for
its shareable entries on request. The IVR's self-service answers are read from it by the
ivr plugin (which re-synthesises a prompt when its entry changes); nothing here knows the IVR.

The jurisdiction: ``[knowledge] jurisdiction``, else the one the tickets plugin ranks its
catalog with (``catalog_jurisdiction``, else ``linkage_jurisdiction``), else ``default``.
"""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

import aiohttp
import structlog

from exchange.config import ExchangeConfig
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings, read_secret_file
from hotline_link.core.tasks import cancel_and_wait
from hotline_link.plugin import Deps, Plugin
from hotline_link.web.openapi import Fragment
from knowledge import resources, schema
from knowledge.config import PEER_TOKEN_SECRET, KnowledgeConfig, jurisdiction_of, peer_token
from knowledge.entries import load_jurisdiction
from knowledge.keys import KNOWLEDGE
from knowledge.peer import PeerSearch
from knowledge.redis_keys import KnowledgeKeys
from knowledge.service import KnowledgeService
from knowledge.store import KnowledgeStore

log = structlog.get_logger(__name__)


def _peer_token(settings: Settings) -> str:
    secrets = read_secret_file(settings.secrets_file) if settings.secrets_file.exists() else {}
    try:
        return peer_token(secrets)
    except ValueError as exc:
        raise ConfigError(f"{settings.secrets_file}: {exc}") from None


def peer_target(settings: Settings) -> tuple[str, bool]:
    """The other deployment's base URL ("" for none) and whether plain http to loopback is allowed."""
    config = settings.section(KnowledgeConfig)
    if config.peer_url:
        return config.peer_url, config.peer_allow_http_loopback
    exchange = settings.section(ExchangeConfig)
    return exchange.exchange_peer_url, config.peer_allow_http_loopback or exchange.exchange_allow_http_loopback


class KnowledgePlugin(Plugin):
    name = "knowledge"
    routes = (resources.add_routes,)
    api: ClassVar[Fragment] = {"paths": schema.PATHS, "schemas": schema.SCHEMAS}
    config_model = KnowledgeConfig

    @staticmethod
    def check_settings(settings: Settings) -> None:
        if settings.section(KnowledgeConfig).peer_url and not _peer_token(settings):
            raise ConfigError(f"[knowledge] peer_url is set but the secrets file has no {PEER_TOKEN_SECRET} "
                              "(a peer token of the other deployment)")
        load_jurisdiction(jurisdiction_of(settings))  # a broken shipped file is refused now

    def load(self, deps: Deps) -> None:
        settings = deps.settings
        self.settings = settings
        self.jurisdiction = jurisdiction_of(settings)
        url, _ = peer_target(settings)
        missing = "no peer deployment is configured" if not url else \
            f"no {PEER_TOKEN_SECRET} in the secrets file" if not _peer_token(settings) else ""
        self.service = deps.services.provide(KNOWLEDGE, KnowledgeService(
            KnowledgeStore(deps.redis, KnowledgeKeys.of(self.jurisdiction)), deps.bus, clock=time.time,
            jurisdiction=self.jurisdiction, platforms=settings.platform_ids,
            peer_missing=missing or "the peer is not connected yet"))
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        url, allow_http = peer_target(self.settings)
        token = _peer_token(self.settings) if url else ""
        if url and token:
            self._session = aiohttp.ClientSession()
            self.service.peer = PeerSearch(self._session, url, token, allow_http_loopback=allow_http,
                                           timeout_s=self.settings.section(KnowledgeConfig).peer_timeout_s)
        self._tasks.append(asyncio.create_task(self.service.warm_up(), name="knowledge-warm-up"))
        try:  # the knowledge base is a help: a broken file or Redis must not keep the hotline down
            await self.service.load_file(load_jurisdiction(self.jurisdiction))
        except Exception as exc:
            log.error("knowledge.load_failed", jurisdiction=self.jurisdiction, error=str(exc)[:300],
                      kind=type(exc).__name__)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []
        if self._session is not None:
            await self._session.close()
            self._session = None
