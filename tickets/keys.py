"""The tickets plugin's services, by typed key (``app[TICKETS]``, ``services.get(TICKETS)``)."""

from __future__ import annotations

from aiohttp import web

from tickets.intake import IntakeService
from tickets.outbox import Outbox
from tickets.push import PushService
from tickets.recommend import RecommenderSource
from tickets.recordings import CallRecordings
from tickets.store import TicketStore
from tickets.timeline import TicketTimeline

TICKETS = web.AppKey("tickets.store", TicketStore)
TIMELINE = web.AppKey("tickets.timeline", TicketTimeline)
OUTBOX = web.AppKey("tickets.outbox", Outbox)
PUSH = web.AppKey("tickets.push", PushService)
RECOMMENDER = web.AppKey("tickets.recommender", RecommenderSource)
RECORDINGS = web.AppKey("tickets.recordings", CallRecordings)
INTAKE = web.AppKey("tickets.intake", IntakeService)
