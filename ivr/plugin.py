"""The IVR plugin: the surge IVR's events and callback requests, and harassment screening."""

from __future__ import annotations

from typing import ClassVar

import structlog
from redis.exceptions import RedisError

from hotline_link.plugin import Deps, Plugin
from hotline_link.web.openapi import Fragment
from ivr import resources, schema
from ivr.callback import CallbackRoute
from ivr.config import IvrConfig
from ivr.events import IvrEvents
from ivr.harassment import HarassmentGuard, HarassmentPolicy
from ivr.keys import HARASSMENT, IVR_EVENTS
from tickets.keys import TICKETS

log = structlog.get_logger(__name__)


class IvrPlugin(Plugin):
    name = "ivr"
    routes = (resources.add_routes,)
    api: ClassVar[Fragment] = {"paths": schema.PATHS, "schemas": schema.SCHEMAS}
    config_model = IvrConfig
    requires = ("tickets",)

    def load(self, deps: Deps) -> None:
        settings, services = deps.settings, deps.services
        self.guard = services.provide(HARASSMENT, HarassmentGuard(deps.redis, HarassmentPolicy(
            settings.harassment_max_calls, settings.harassment_window_s), deps.bus))
        self.events = services.provide(IVR_EVENTS, IvrEvents(deps.ami, deps.bus))
        deps.agi.add_route("callback", CallbackRoute(settings, services.get(TICKETS), deps.bus))


    async def start(self) -> None:
        self.events.attach()
        try:  # flags kept by a number as presented, from before flags were kept by identity
            await self.guard.migrate_flags()
        except (RedisError, OSError) as exc:  # screening goes on; the next start tries again
            log.error("harassment.migrate_failed", reason=str(exc))
