"""The exchange plugin: the channel between this deployment and the other platform's
(docs/exchange.md). It receives signed messages (``resources``), sends its own and applies
what comes in (``service``), writes our linkage steps back to the sender of a case, carries
the tickets plugin's system push when the channel is on, and shows operators where the
channel stands and the cases exchanged with the other platform (``operations``). Off (one
deployment serving both platforms, or no ``exchange_peer_url``), it runs nothing: the
endpoint answers ``exchange_off`` and push goes as it always did."""

from __future__ import annotations

from typing import Any, ClassVar

from aiohttp import web

from exchange import operations, resources, schema, wire
from exchange.app_keys import EXCHANGE
from exchange.config import ExchangeConfig
from exchange.errors import ChannelOff
from exchange.service import ExchangeService
from hotline_link.plugin import Deps, Plugin, Services
from hotline_link.web.openapi import Fragment
from linkage.keys import EXCHANGE_LOG, LINKAGE
from tickets.keys import PUSH, TICKETS, TIMELINE


async def _channel_off(request: web.Request) -> web.Response:
    service: Any = request.app.get(EXCHANGE)
    raise ChannelOff(getattr(service, "off_reason", "") or "the exchange channel does not run on this deployment")


class ExchangePlugin(Plugin):
    name = "exchange"
    requires = ("tickets",)
    api: ClassVar[Fragment] = {"paths": {**schema.PATHS, **schema.OPERATIONS, **schema.CASES},
                               "schemas": {**schema.SCHEMAS, **schema.OPERATION_SCHEMAS, **schema.CASES_SCHEMAS}}
    config_model = ExchangeConfig

    def load(self, deps: Deps) -> None:
        services = self.services = deps.services
        push = services.get(PUSH)
        self.service = services.provide(EXCHANGE, ExchangeService.for_settings(
            deps.settings, deps.redis, deps.bus, services.get(TICKETS), push))
        channel = self.service.channel
        if channel is not None:
            push.attach_channel(self.service)  # system push goes over the channel
            services.get(TIMELINE).attach_peer(channel)  # the other platform's story from messages
            services.provide(EXCHANGE_LOG, self.service.audit)  # the report counts between platforms from it

    @classmethod
    def add_routes(cls, app: web.Application) -> None:
        service = app.get(EXCHANGE)
        channel = service.channel if service is not None else None
        if service is not None and channel is not None:
            app.router.add_routes(resources.routes(channel.inbox, channel.keyring, channel.platform, service.clock))
        else:
            app.router.add_post(wire.MESSAGES_PATH, _channel_off)
            app.router.add_get(wire.HELLO_PATH, _channel_off)
        operations.add_routes(app)

    def attach_states(self, services: Services) -> bool:
        """The cases' ``status`` is our tickets' state in the closed loop, when the linkage
        plugin runs here (found at start: it may load after this plugin): whether it does."""
        linkage = services.get(LINKAGE) if LINKAGE in services else None
        if linkage is None:
            return False
        self.service.attach_states(linkage.records, linkage.units.names().get)
        return True

    async def start(self) -> None:
        self.attach_states(self.services)
        await self.service.start()

    async def stop(self) -> None:
        await self.service.stop()
