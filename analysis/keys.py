"""The analysis service, by typed key."""

from __future__ import annotations

from aiohttp import web

from analysis.service import AnalysisService

ANALYSIS = web.AppKey("analysis", AnalysisService)
