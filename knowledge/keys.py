"""The knowledge base's service, by typed key."""

from __future__ import annotations

from aiohttp import web

from knowledge.service import KnowledgeService

KNOWLEDGE = web.AppKey("knowledge", KnowledgeService)
