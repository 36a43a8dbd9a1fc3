"""The linkage plugin: the closed loop with the handling units (dispatch by system or duty
phone, feedback, deadlines, 督办, 回访), the units' feedback line, and the report."""

from __future__ import annotations

import functools
from typing import ClassVar

import structlog
from redis.exceptions import RedisError

from hotline_link.asterisk.layout import voice_notes_path
from hotline_link.plugin import Deps, Plugin
from hotline_link.web.openapi import Fragment
from linkage import feedback_resources, resources, schema
from linkage.config import LinkageConfig
from linkage.feedback_agi import FeedbackLine, unit_pins
from linkage.keys import FEEDBACK_LINE, LINKAGE
from linkage.optout import migrate_optouts
from linkage.phone import PhoneTimings
from linkage.service import LinkageService, unit_secrets
from tickets.keys import OUTBOX, TICKETS

log = structlog.get_logger(__name__)


class LinkagePlugin(Plugin):
    name = "linkage"
    routes = (resources.add_routes, feedback_resources.add_routes)
    api: ClassVar[Fragment] = {"paths": schema.PATHS, "schemas": schema.SCHEMAS}
    config_model = LinkageConfig
    requires = ("tickets",)

    def load(self, deps: Deps) -> None:
        settings, services, ami = deps.settings, deps.services, deps.ami
        outbox = services.get(OUTBOX)
        outbox.add_secrets(unit_secrets(settings))  # dispatches to units' systems are signed with theirs
        self.linkage = services.provide(LINKAGE, LinkageService.for_settings(
            settings, deps.redis, deps.bus, services.get(TICKETS), outbox))
        self.linkage.attach_phone(  # duty phones and 回访 calls (linkage/phone.py); Async Originate
            lambda site, action: ami.send(site, action, as_list=False),
            PhoneTimings(ring_s=settings.phone_ring_s, retry_delay_s=settings.phone_retry_delay_s,
                         answer_window_s=settings.phone_answer_window_s))
        self.feedback_line = services.provide(FEEDBACK_LINE, FeedbackLine(
            self.linkage, unit_pins(settings, self.linkage.units), functools.partial(voice_notes_path, settings)))
        deps.agi.add_route("feedback", self.feedback_line)  # the units' feedback line
        self.ami = ami


    async def start(self) -> None:
        try:  # opt-outs kept by the earlier number rule, re-keyed by the caller's identity
            await migrate_optouts(self.linkage.redis, self.linkage.prefix)
        except (RedisError, OSError) as exc:  # the next start tries again
            log.error("linkage.optout_migrate_failed", reason=str(exc))
        self.linkage.start()
        self.feedback_line.start()
        if self.linkage.phone is not None:
            self.ami.subscribe("UserEvent", self.linkage.phone.on_user_event)

    async def stop(self) -> None:
        await self.feedback_line.stop()
        await self.linkage.stop()
