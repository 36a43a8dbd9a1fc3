"""The seat pool plugin: seat states from AMI, the waiting queue, overflow to remote seats,
and the router that claims a seat for each call."""

from __future__ import annotations

from typing import ClassVar

from hotline_link.core.settings import Settings
from hotline_link.plugin import Deps, Plugin
from hotline_link.web.openapi import Fragment
from seat_pool import resources, schema
from seat_pool.config import SeatPoolConfig, check_settings
from seat_pool.keys import OVERFLOW, ROUTER, SEAT_REGISTRY, SEATS, WAITING_QUEUE
from seat_pool.overflow import OverflowController
from seat_pool.registry import SeatRegistry
from seat_pool.router import CallRouter
from seat_pool.store import SeatStore
from seat_pool.waiting import WaitingQueue

# a queued call its router has not touched for this long was left by a router that died
QUEUE_STALE_S = 5.0


class SeatPoolPlugin(Plugin):
    name = "seat_pool"
    routes = (resources.add_routes,)
    api: ClassVar[Fragment] = {"paths": schema.PATHS, "schemas": schema.SCHEMAS}
    config_model = SeatPoolConfig

    @staticmethod
    def check_settings(settings: Settings) -> None:
        check_settings(settings)

    def load(self, deps: Deps) -> None:
        settings, services = deps.settings, deps.services
        config = settings.section(SeatPoolConfig)
        seats = services.provide(SEATS, SeatStore(deps.redis, config.seat_claim_ttl_s, config.wrap_up_s))
        self.registry = services.provide(SEAT_REGISTRY, SeatRegistry(settings, seats, deps.ami, deps.bus))
        queue = services.provide(WAITING_QUEUE, WaitingQueue(deps.redis, stale_after_s=QUEUE_STALE_S))
        self.overflow = services.provide(OVERFLOW, OverflowController(settings, seats, queue, deps.bus))
        self.router = services.provide(ROUTER, CallRouter(settings, seats, queue, self.overflow, deps.bus))


    async def start(self) -> None:
        self.registry.attach()
        self.router.attach()
        self.overflow.start()

    async def stop(self) -> None:
        await self.overflow.stop()
