"""The plugin contract: each capability (``tickets``, ``seat_pool``, ``call_control``, ...) is a
``Plugin`` in its own ``plugin.py``. The app builds the shared ``Deps`` once, loads the
enabled plugins in dependency order (each builds its services, publishes the ones others
need under typed keys, adds its AGI routes and bus consumers), adds their HTTP routes, starts
them in that order and stops them in reverse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from aiohttp import web
from redis.asyncio import Redis

from hotline_link.asterisk.agi.server import FastAgiServer
from hotline_link.asterisk.ami.manager import AmiManager
from hotline_link.core.bus import EventBus
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Section, Settings
from hotline_link.web.auth import TokenBook
from hotline_link.web.openapi import Fragment

T = TypeVar("T")
ServiceKey = web.AppKey  # a service's typed key: the same object keys it in the web app


@dataclass
class Services:
    """What plugins publish for each other and for their handlers, by typed key."""

    by_key: dict[web.AppKey[Any], Any] = field(default_factory=dict)

    def provide(self, key: web.AppKey[T], service: T) -> T:
        if key in self.by_key:
            raise ConfigError(f"service {key!r} is provided twice")
        self.by_key[key] = service
        return service

    def get(self, key: web.AppKey[T]) -> T:
        try:
            return self.by_key[key]  # provide() stored a T under this key
        except KeyError:
            raise ConfigError(f"no plugin provides {key!r}: enable the plugin that does") from None

    def __contains__(self, key: web.AppKey[Any]) -> bool:
        return key in self.by_key


@dataclass
class Deps:
    """What the app builds once and hands every plugin."""

    settings: Settings
    redis: Redis
    ami: AmiManager
    bus: EventBus
    agi: FastAgiServer
    tokens: TokenBook | None
    services: Services


class Plugin:
    """One capability. Subclasses set ``name`` and ``requires`` (plugins whose services they
    use, loaded and started before them) and override what they need."""

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    routes: ClassVar[tuple[Callable[[web.Application], None], ...]] = ()  # its resources' add_routes
    api: ClassVar[Fragment] = {}  # its schema's paths (and schemas)
    # the model of this plugin's settings section (its TOML table), if it has one
    config_model: ClassVar[type[Section] | None] = None

    @classmethod
    def load_config(cls, settings: Settings) -> Section | None:
        """Parse this plugin's section of ``settings`` (a bad or unknown key is a ConfigError
        naming the file and key) and check the config against its rules; the app calls it at
        load_config for every enabled plugin."""
        section = settings.section(cls.config_model) if cls.config_model is not None else None
        cls.check_settings(settings)
        return section

    @staticmethod
    def check_settings(settings: Settings) -> None:
        """Refuse (ConfigError) a config this plugin cannot run on; called at load_config."""

    def load(self, deps: Deps) -> None:
        """Build the services, publish the shared ones, add AGI routes and bus consumers."""

    @classmethod
    def add_routes(cls, app: web.Application) -> None:
        """Add the HTTP routes (services are in ``app`` under their keys)."""
        for add in cls.routes:
            add(app)

    @classmethod
    def openapi(cls) -> Fragment:
        """This plugin's part of the OpenAPI document: ``{"paths": ..., "schemas": ...}``."""
        return cls.api

    async def start(self) -> None:
        """Attach to AMI events and start background work (before AMI and AGI open)."""

    async def stop(self) -> None:
        """Stop background work (after HTTP, AGI and AMI closed)."""


def load_order(plugins: list[Plugin]) -> list[Plugin]:
    """``plugins`` in an order where each comes after those it requires (stable otherwise);
    a requirement no enabled plugin meets, or a cycle, is a ConfigError."""
    by_name = {p.name: p for p in plugins}
    ordered: list[Plugin] = []
    visiting: set[str] = set()

    def visit(plugin: Plugin) -> None:
        if plugin in ordered:
            return
        if plugin.name in visiting:
            raise ConfigError(f"plugins require each other in a cycle through {plugin.name!r}")
        visiting.add(plugin.name)
        for needed in plugin.requires:
            if needed not in by_name:
                raise ConfigError(f"plugin {plugin.name!r} requires plugin {needed!r}, which is not enabled")
            visit(by_name[needed])
        visiting.discard(plugin.name)
        ordered.append(plugin)

    for plugin in plugins:
        visit(plugin)
    return ordered
