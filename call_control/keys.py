"""The call control plugin's services, by typed key."""

from __future__ import annotations

from aiohttp import web

from call_control.agent_events import AgentEvents
from call_control.conference.service import ConferenceService
from call_control.consult.service import ConsultService
from call_control.tracker import CallTracker
from call_control.transfer.service import TransferService

CALLS = web.AppKey("call_control.calls", CallTracker)
TRANSFERS = web.AppKey("call_control.transfers", TransferService)
CONSULTS = web.AppKey("call_control.consults", ConsultService)
CONFERENCES = web.AppKey("call_control.conferences", ConferenceService)
AGENT_EVENTS = web.AppKey("call_control.agent_events", AgentEvents)
