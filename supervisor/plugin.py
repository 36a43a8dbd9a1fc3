"""The supervisor plugin: the live page, its event stream, history and figures."""

from __future__ import annotations

from typing import ClassVar

from call_control.keys import CALLS
from hotline_link.plugin import Deps, Plugin
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
        services = deps.services
        self.supervisor = services.provide(SUPERVISOR, SupervisorService(
            deps.settings, deps.bus, deps.redis, services.get(SEAT_REGISTRY), deps.ami, services.get(CALLS).book))


    async def start(self) -> None:
        self.supervisor.start()

    async def stop(self) -> None:
        await self.supervisor.stop()
