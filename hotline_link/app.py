"""The composition root: builds the shared ``Deps`` (settings, Redis, AMI, the event bus,
FastAGI, tokens), loads the enabled plugins in dependency order, starts them in that order
and stops them in reverse. Nothing else wires capabilities together."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from agi_scripts.plugin import RouteHookPlugin
from analysis.plugin import AnalysisPlugin
from call_control.callbacks.plugin import CallbacksPlugin
from call_control.plugin import CallControlPlugin
from desk.plugin import DeskPlugin
from exchange.plugin import ExchangePlugin
from hotline_link.asterisk.agi.server import FastAgiServer
from hotline_link.asterisk.ami.manager import AmiManager
from hotline_link.core.bus import EventBus
from hotline_link.core.errors import ConfigError
from hotline_link.core.redis_client import redis_client
from hotline_link.core.settings import Settings, load_settings
from hotline_link.plugin import Deps, Plugin, Services, load_order
from hotline_link.web.auth import TokenBook
from hotline_link.web.http import BUS, OPENAPI_DOCUMENT, SETTINGS, TOKENS, Handler, build_web_app
from hotline_link.web.openapi import document
from ivr.plugin import IvrPlugin
from knowledge.plugin import KnowledgePlugin
from linkage.plugin import LinkagePlugin
from seat_pool.plugin import SeatPoolPlugin
from supervisor.plugin import SupervisorPlugin
from tickets.plugin import TicketsPlugin

log = structlog.get_logger(__name__)
T = TypeVar("T")

BUILTIN_PLUGINS: dict[str, type[Plugin]] = {plugin.name: plugin for plugin in (
    TicketsPlugin, LinkagePlugin, ExchangePlugin, SeatPoolPlugin, CallControlPlugin, KnowledgePlugin, IvrPlugin,
    SupervisorPlugin, DeskPlugin, RouteHookPlugin, CallbacksPlugin, AnalysisPlugin)}


def build_app(settings: Settings, tokens: TokenBook | None, bus: EventBus,
              services: Mapping[web.AppKey[Any], Any], health: Handler,
              plugins: Iterable[type[Plugin] | Plugin] = ()) -> web.Application:
    """The HTTP app: ``/health``, the shared keys, every service under its key, and the
    plugins' routes (every built-in one when none are given)."""
    chosen = list(plugins) or list(BUILTIN_PLUGINS.values())
    app = build_web_app()
    app[OPENAPI_DOCUMENT] = openapi_document(chosen)
    app.router.add_get("/health", health)
    app[SETTINGS] = settings
    app[TOKENS] = tokens
    app[BUS] = bus
    for key, service in services.items():
        app[key] = service
    for plugin in chosen:
        plugin.add_routes(app)
    return app


def openapi_document(plugins: Iterable[type[Plugin] | Plugin] = ()) -> dict[str, Any]:
    """The OpenAPI document of these plugins (every built-in one when none are given)."""
    return document(plugin.openapi() for plugin in (list(plugins) or list(BUILTIN_PLUGINS.values())))


def enabled_plugins(settings: Settings) -> list[type[Plugin]]:
    names = settings.plugin_names or tuple(BUILTIN_PLUGINS)
    unknown = [n for n in names if n not in BUILTIN_PLUGINS]
    if unknown:
        raise ConfigError(f"plugins: unknown plugin {', '.join(unknown)}; known: {', '.join(BUILTIN_PLUGINS)}")
    return [BUILTIN_PLUGINS[n] for n in names]


def load_config(config_file: Path | None = None, env: Any = None) -> Settings:
    """The settings, checked by core and by every enabled plugin, which parses its own section.
    Every built-in plugin's section is read (a disabled plugin's keys are not unknown ones)."""
    sections = [plugin.config_model for plugin in BUILTIN_PLUGINS.values() if plugin.config_model is not None]
    settings = load_settings(config_file, env, sections)
    for plugin in enabled_plugins(settings):
        plugin.load_config(settings)
    return settings


class App:
    """One hotline-link instance: its deps and its plugins. ``app[KEY]`` is a plugin's service."""

    def __init__(self, settings: Settings, plugins: Sequence[Plugin] | None = None) -> None:
        if missing := [site.id for site in settings.sites if not settings.ami_secret_for(site.id)]:
            raise ConfigError(f"no AMI secret for site {', '.join(missing)}: set HOTLINE_AMI_SECRET (or "
                              f"ami_secret_<site> in {settings.secrets_file}), or run 'hotline-link sandbox up' "
                              "to create it")
        self.settings = settings
        self.bus = EventBus()
        # a Redis that stops answering must not hold a caller or a request forever
        self.redis = redis_client(settings, decode_responses=True, socket_timeout=10, socket_connect_timeout=3)
        self.ami = AmiManager(settings)
        self.agi = FastAgiServer(settings.agi_host, settings.agi_port, settings.agi_max_sessions)
        self.tokens = TokenBook.from_file(settings.tokens_path) if settings.tokens_path.exists() else None
        self.services = Services()
        self.deps = Deps(settings, self.redis, self.ami, self.bus, self.agi, self.tokens, self.services)
        chosen = list(plugins) if plugins is not None else [cls() for cls in enabled_plugins(settings)]
        self.plugins = load_order(chosen)
        for plugin in self.plugins:
            plugin.load(self.deps)
        self._runner: web.AppRunner | None = None
        self._started: list[Plugin] = []

    def __getitem__(self, key: web.AppKey[T]) -> T:
        return self.services.get(key)

    def web_app(self) -> web.Application:
        return build_app(self.settings, self.tokens, self.bus, self.services.by_key, self.health, self.plugins)

    async def health(self, request: web.Request) -> web.Response:
        sites = {site: conn.connected.is_set() for site, conn in self.ami.sites.items()}
        try:
            redis_ok = bool(await self.redis.ping())
        except Exception:
            redis_ok = False
        healthy = redis_ok and all(sites.values())
        return web.json_response({"healthy": healthy, "redis": redis_ok, "ami": sites},
                                 status=200 if healthy else 503)

    async def start(self, http: bool = True) -> None:
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise ConfigError(f"Redis at {self.settings.redis_url} is not reachable: {exc}") from None
        if self.tokens is None:
            log.warning("server.no_tokens", tokens_file=str(self.settings.tokens_path))
        for plugin in self.plugins:
            await plugin.start()
            self._started.append(plugin)
        try:
            await self.agi.start()
        except OSError as exc:
            await self.stop()
            raise ConfigError(f"FastAGI port {self.settings.agi_port} is not free: {exc.strerror}") from None
        self.ami.start()
        if http:
            self._runner = web.AppRunner(self.web_app(), access_log=None)  # its lines would hold ?token=
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.settings.http_host, self.settings.http_port)
            try:
                await site.start()
            except OSError as exc:
                await self.stop()
                raise ConfigError(f"HTTP port {self.settings.http_port} is not free: {exc.strerror}") from None
        log.info("server.started", agi_port=self.settings.agi_port,
                 http_port=self.settings.http_port if http else None,
                 plugins=[p.name for p in self.plugins])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.agi.stop()
        await self.ami.stop()
        while self._started:
            await self._started.pop().stop()
        await self.redis.aclose()
        log.info("server.stopped")


async def run_forever(settings: Settings) -> None:
    app = App(settings)
    await app.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await app.stop()
