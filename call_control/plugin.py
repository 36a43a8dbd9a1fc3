"""The call control plugin: the call book fed by AMI, one-click (blind) transfer, the
three-way call, and the agents' event stream. When the exchange plugin runs its channel to
the other deployment, transfers and three-way calls to that platform send their handover
over it (found in the services registry at start: exchange may load after this plugin)."""

from __future__ import annotations

from typing import ClassVar

from call_control import resources, schema
from call_control.agent_events import AgentEvents
from call_control.conference.service import ConferenceService
from call_control.config import CallControlConfig
from call_control.consult.service import ConsultService
from call_control.context import CallControlContext
from call_control.keys import AGENT_EVENTS, CALLS, CONFERENCES, CONSULTS, TRANSFERS
from call_control.locks import CallLocks
from call_control.phone_keys import ConsultHook, PhoneTransferHook
from call_control.tracker import CallTracker
from call_control.transfer.service import TransferService
from exchange.app_keys import EXCHANGE
from hotline_link.plugin import Deps, Plugin, Services
from hotline_link.web.openapi import Fragment
from tickets.keys import TICKETS


class CallControlPlugin(Plugin):
    name = "call_control"
    routes = (resources.add_routes,)
    api: ClassVar[Fragment] = {"paths": schema.PATHS, "schemas": schema.SCHEMAS}
    config_model = CallControlConfig
    requires = ("tickets",)

    def load(self, deps: Deps) -> None:
        settings, services = deps.settings, deps.services
        self.services = services
        tickets = services.get(TICKETS)
        self.calls = services.provide(CALLS, CallTracker(deps.ami, deps.bus))
        context = CallControlContext(settings, deps.ami, self.calls.book, tickets, CallLocks(deps.redis), deps.bus)
        self.transfers = services.provide(TRANSFERS, TransferService(context))
        self.conferences = services.provide(CONFERENCES, ConferenceService(context))
        self.consults = services.provide(CONSULTS, ConsultService(context))
        site_ids = frozenset(site.id for site in settings.sites)
        deps.agi.add_route("phone_transfer", PhoneTransferHook(self.transfers, site_ids))
        deps.agi.add_route("consult", ConsultHook(self.consults, site_ids))
        services.provide(AGENT_EVENTS, AgentEvents(deps.bus, tickets,
                                                   frozenset(a for site in settings.sites for a in site.agents)))

    def attach_exchange(self, services: Services) -> bool:
        """Transfers and three-way calls hand over over the exchange channel, if it runs
        here: whether it does."""
        exchange = services.get(EXCHANGE) if EXCHANGE in services else None
        if exchange is None or not exchange.enabled:
            return False
        self.transfers.attach_handover(exchange)
        self.consults.attach_handover(exchange)
        self.conferences.attach_handover(exchange)
        return True

    async def start(self) -> None:
        self.attach_exchange(self.services)
        self.calls.attach()
        self.transfers.attach()
        self.consults.attach()
        self.conferences.attach()
