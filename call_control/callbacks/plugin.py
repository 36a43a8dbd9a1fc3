"""The callback queue plugin (回电): requests from the IVR, the web and missed calls, offered
to free agents as calls the server originates. Needs the seat pool (agents' seats are
claimed as the router claims them) and call control (the screen pop of the call)."""

from __future__ import annotations

import time
from typing import ClassVar

from call_control.callbacks import resources, schema
from call_control.callbacks.config import CallbacksConfig
from call_control.callbacks.keys import CALLBACKS
from call_control.callbacks.missed import MissedCalls
from call_control.callbacks.service import CallbackService
from hotline_link.asterisk.ami.manager import AmiManager
from hotline_link.plugin import Deps, Plugin
from hotline_link.web.openapi import Fragment
from linkage.config import LinkageConfig
from linkage.policy import load_config
from linkage.redis_keys import PREFIX, LinkageKeys
from seat_pool.keys import SEATS, WAITING_QUEUE
from tickets.keys import TICKETS


class CallbacksPlugin(Plugin):
    name = "callbacks"
    routes = (resources.add_routes,)
    api: ClassVar[Fragment] = {"paths": schema.PATHS, "schemas": schema.SCHEMAS}
    config_model = CallbacksConfig
    requires = ("tickets", "seat_pool", "call_control")

    def load(self, deps: Deps) -> None:
        settings, services, redis = deps.settings, deps.services, deps.redis
        config = settings.section(CallbacksConfig)
        agents = {site.id: site.agents for site in settings.sites if site.intake}
        # within the 回访 calling hours: the closed loop's working calendar
        window = load_config(settings.section(LinkageConfig).linkage_config or None).calendar.next_working \
            if config.callback_calling_hours else None
        keys = LinkageKeys(PREFIX)  # the 回访 opt-outs and the event log the report reads

        async def opted_out(identity: str) -> bool:
            return bool(await redis.sismember(keys.callback_optout, identity))

        ami = deps.ami
        self.ami: AmiManager = ami
        self.service = services.provide(CALLBACKS, CallbackService(
            redis, deps.bus, services.get(TICKETS), services.get(SEATS), services.get(WAITING_QUEUE),
            lambda site, action: ami.send(site, action, as_list=False), config=config, agents=agents,
            opted_out=opted_out, window=window, report_log=keys.events))
        self.missed = MissedCalls(deps.bus, frozenset(agents), time.time)

    async def start(self) -> None:
        self.missed.attach()
        self.ami.subscribe("UserEvent", self.service.on_user_event)
        self.ami.subscribe("OriginateResponse", self.service.on_originate_response)
        self.service.start()

    async def stop(self) -> None:
        await self.service.stop()
