"""The IVR plugin's services, by typed key."""

from __future__ import annotations

from aiohttp import web

from ivr.events import IvrEvents
from ivr.harassment import HarassmentGuard

HARASSMENT = web.AppKey("ivr.harassment", HarassmentGuard)
IVR_EVENTS = web.AppKey("ivr.events", IvrEvents)
