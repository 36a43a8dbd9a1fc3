"""The supervisor plugin: the live page, its event stream, history and figures. When the
exchange plugin is loaded, the page shows its link to the other deployment (found in the
services registry at start: exchange may load after this plugin)."""

from __future__ import annotations

from typing import ClassVar

from call_control.keys import CALLS
from exchange.app_keys import EXCHANGE
from hotline_link.plugin import Deps, Plugin, Services
from hotline_link.web.openapi import Fragment
from seat_pool.keys import SEAT_REGISTRY
from supervisor import resources, schema
from supervisor.config import SupervisorConfig
from supervisor.keys import SUPERVISOR
from supervisor.service import SupervisorService


class SupervisorPlugin(Plugin):
    name = "supervisor"
    routes = (resources.add_routes,)
    api: ClassVar[Fragment] = {"paths": schema.PATHS, "schemas": schema.SCHEMAS}
    config_model = SupervisorConfig
    requires = ("seat_pool", "call_control")

    def load(self, deps: Deps) -> None:
        services = self.services = deps.services
        self.supervisor = services.provide(SUPERVISOR, SupervisorService(
            deps.settings, deps.bus, deps.redis, services.get(SEAT_REGISTRY), deps.ami, services.get(CALLS).book))

    def attach_exchange(self, services: Services) -> bool:
        """The page shows the exchange link if the exchange plugin is loaded (its channel on
        or off): whether it is."""
        if EXCHANGE not in services:
            return False
        self.supervisor.attach_exchange(services.get(EXCHANGE))
        return True

    async def start(self) -> None:
        self.attach_exchange(self.services)
        self.supervisor.start()

    async def stop(self) -> None:
        await self.supervisor.stop()
