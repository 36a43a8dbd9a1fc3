"""The routing hook plugin: the dialplan's FastAGI ``route`` (screening, then a seat from the
seat pool, with the ticket riding along)."""

from __future__ import annotations

from agi_scripts.route import RouteHook
from hotline_link.plugin import Deps, Plugin
from ivr.keys import HARASSMENT
from seat_pool.keys import ROUTER
from tickets.keys import TICKETS


class RouteHookPlugin(Plugin):
    name = "route_hook"
    requires = ("tickets", "seat_pool", "ivr")

    def load(self, deps: Deps) -> None:
        services = deps.services
        deps.agi.add_route("route", RouteHook(services.get(TICKETS), services.get(ROUTER), deps.bus,
                                              screen=services.get(HARASSMENT).screen))
