"""The tickets plugin: the ticket store, the timeline (call-to-ticket linkage), the outbox
and system push, and the catalog recommender."""

from __future__ import annotations

import functools
from typing import ClassVar

from hotline_link.asterisk.layout import recordings_path
from hotline_link.plugin import Deps, Plugin
from hotline_link.web.openapi import Fragment, component_schemas
from tickets import intake_resources, intake_schema, recording_resources, resources, schema
from tickets.config import TicketsConfig, classify_jurisdiction
from tickets.intake import IntakeService
from tickets.keys import INTAKE, OUTBOX, PUSH, RECOMMENDER, RECORDINGS, TICKETS, TIMELINE
from tickets.outbox import Outbox
from tickets.push import PushService
from tickets.recommend import RecommenderSource
from tickets.recordings import CallRecordings
from tickets.store import TicketStore
from tickets.timeline import TicketTimeline


class TicketsPlugin(Plugin):
    name = "tickets"
    routes = (resources.add_routes, recording_resources.add_routes, intake_resources.add_routes)
    api: ClassVar[Fragment] = {"paths": {**schema.PATHS, **intake_schema.PATHS},
                               "schemas": component_schemas(*schema.REPLIES, *intake_schema.REPLIES)}
    config_model = TicketsConfig

    def load(self, deps: Deps) -> None:
        settings, services = deps.settings, deps.services
        store = services.provide(TICKETS, TicketStore(deps.redis))
        self.timeline = services.provide(TIMELINE, TicketTimeline(deps.redis, store, deps.bus, settings.platform_ids))
        self.outbox = services.provide(OUTBOX, Outbox(
            deps.redis, deps.bus, "", secrets=settings.push_secrets,
            allow_http_loopback=settings.push_allow_http_loopback))
        services.provide(PUSH, PushService(settings, store, self.outbox, deps.redis, deps.bus))
        # the linkage units' jurisdiction, read by key: tickets imports no other capability
        jurisdiction = classify_jurisdiction(settings.section(TicketsConfig).catalog_jurisdiction,
                                             getattr(settings, "linkage_jurisdiction", ""))
        self.outbox.add_secrets(settings.sms_secrets)  # the SMS replies' (sms_reply_secret_ref)
        recommender = services.provide(RECOMMENDER, RecommenderSource(jurisdiction))
        services.provide(INTAKE, IntakeService(settings, store, self.outbox, recommender, deps.bus))
        self.recordings = services.provide(RECORDINGS, CallRecordings(
            deps.redis, functools.partial(recordings_path, settings), sorted(settings.platform_ids)))
        self.ami = deps.ami


    async def start(self) -> None:
        self.timeline.start()
        self.recordings.start()
        self.outbox.start()
        # after the call book's resync: ends the calls no server heard end
        self.ami.on_resync(self.timeline.on_resync, late=True)

    async def stop(self) -> None:
        await self.recordings.stop()
        await self.outbox.stop()
        await self.timeline.stop()
