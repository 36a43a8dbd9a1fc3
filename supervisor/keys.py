"""The supervisor plugin's services, by typed key."""

from __future__ import annotations

from aiohttp import web

from supervisor.service import SupervisorService

SUPERVISOR = web.AppKey("supervisor.service", SupervisorService)
