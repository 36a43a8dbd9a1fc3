"""The exchange plugin's service, by typed key (``app[EXCHANGE]``, ``services.get(EXCHANGE)``)."""

from __future__ import annotations

from aiohttp import web

from exchange.service import ExchangeService

EXCHANGE = web.AppKey("exchange.service", ExchangeService)
