"""The IVR plugin: the surge IVR's events and callback requests, harassment screening, and
the self-service answers' prompts, kept as the knowledge base says (``answer_prompts``: the
IVR reads the knowledge base; the knowledge base knows nothing of the IVR)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import structlog
from redis.exceptions import RedisError

from hotline_link.core.tasks import cancel_and_wait
from hotline_link.plugin import Deps, Plugin
from hotline_link.web.openapi import Fragment
from ivr import resources, schema
from ivr.answer_prompts import AnswerPrompts
from ivr.callback import CallbackRoute
from ivr.config import IvrConfig
from ivr.events import IvrEvents
from ivr.harassment import HarassmentGuard, HarassmentPolicy
from ivr.keys import HARASSMENT, IVR_EVENTS
from ivr.prompts import install_prompts
from knowledge.keys import KNOWLEDGE
from tickets.keys import TICKETS

log = structlog.get_logger(__name__)


class IvrPlugin(Plugin):
    name = "ivr"
    routes = (resources.add_routes,)
    api: ClassVar[Fragment] = {"paths": schema.PATHS, "schemas": schema.SCHEMAS}
    config_model = IvrConfig
    requires = ("tickets", "knowledge")

    def load(self, deps: Deps) -> None:
        settings, services = deps.settings, deps.services
        self.guard = services.provide(HARASSMENT, HarassmentGuard(deps.redis, HarassmentPolicy(
            settings.harassment_max_calls, settings.harassment_window_s), deps.bus))
        self.events = services.provide(IVR_EVENTS, IvrEvents(deps.ami, deps.bus))
        deps.agi.add_route("callback", CallbackRoute(settings, services.get(TICKETS), deps.bus))
        # the self-service menu is 12345's: a deployment serving 110 only keeps no answers of it
        self.answer_prompts = AnswerPrompts(deps.bus, services.get(KNOWLEDGE).ivr_answers, settings.sounds_path(),
                                            install_prompts) if "12345" in settings.platform_ids else None
        self._tasks: list[asyncio.Task[object]] = []

    async def start(self) -> None:
        self.events.attach()
        if self.answer_prompts is not None:
            self.answer_prompts.start()
            # after the knowledge plugin loaded its file; in the background: synthesis takes seconds
            self._tasks.append(asyncio.create_task(self.answer_prompts.keep_synced(), name="ivr-answer-prompts"))
        try:  # flags kept by a number as presented, from before flags were kept by identity
            await self.guard.migrate_flags()
        except (RedisError, OSError) as exc:  # screening goes on; the next start tries again
            log.error("harassment.migrate_failed", reason=str(exc))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []
        if self.answer_prompts is not None:
            await self.answer_prompts.stop()
