"""The routing hook plugin: the dialplan's FastAGI ``route`` (screening, then a seat from the
seat pool, with the ticket riding along). When the exchange plugin runs its channel, a call
the other platform transferred here takes its ticket through it (found in the services
registry at start), so the call and its handover message open one ticket."""

from __future__ import annotations

from agi_scripts.route import RouteHook
from exchange.app_keys import EXCHANGE
from hotline_link.plugin import Deps, Plugin
from ivr.keys import HARASSMENT
from seat_pool.keys import ROUTER
from tickets.keys import TICKETS


class RouteHookPlugin(Plugin):
    name = "route_hook"
    requires = ("tickets", "seat_pool", "ivr")

    def load(self, deps: Deps) -> None:
        services = self.services = deps.services
        self.hook = RouteHook(services.get(TICKETS), services.get(ROUTER), deps.bus,
                              screen=services.get(HARASSMENT).screen)
        deps.agi.add_route("route", self.hook)

    async def start(self) -> None:
        exchange = self.services.get(EXCHANGE) if EXCHANGE in self.services else None
        if exchange is not None and exchange.enabled:
            self.hook.attach_intake(exchange)
