"""The call control plugin: the call book fed by AMI, one-click (blind) transfer, the
three-way call, and the agents' event stream."""

from __future__ import annotations

from typing import ClassVar

from call_control import resources, schema
from call_control.agent_events import AgentEvents
from call_control.conference.service import ConferenceService
from call_control.config import CallControlConfig
from call_control.context import CallControlContext
from call_control.keys import AGENT_EVENTS, CALLS, CONFERENCES, TRANSFERS
from call_control.locks import CallLocks
from call_control.tracker import CallTracker
from call_control.transfer.service import TransferService
from hotline_link.plugin import Deps, Plugin
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
        tickets = services.get(TICKETS)
        self.calls = services.provide(CALLS, CallTracker(deps.ami, deps.bus))
        context = CallControlContext(settings, deps.ami, self.calls.book, tickets, CallLocks(deps.redis), deps.bus)
        self.transfers = services.provide(TRANSFERS, TransferService(context))
        self.conferences = services.provide(CONFERENCES, ConferenceService(context))
        services.provide(AGENT_EVENTS, AgentEvents(deps.bus, tickets,
                                                   frozenset(a for site in settings.sites for a in site.agents)))


    async def start(self) -> None:
        self.calls.attach()
        self.transfers.attach()
        self.conferences.attach()
