"""The linkage plugin's services, by typed key."""

from __future__ import annotations

from aiohttp import web

from linkage.exchange_figures import ExchangeLog
from linkage.feedback_agi import FeedbackLine
from linkage.service import LinkageService

LINKAGE = web.AppKey("linkage.service", LinkageService)
FEEDBACK_LINE = web.AppKey("linkage.feedback_line", FeedbackLine)
# the exchange audit the report counts between the platforms, provided by the exchange
# plugin when its channel runs (two deployments); absent otherwise
EXCHANGE_LOG: web.AppKey[ExchangeLog] = web.AppKey("linkage.exchange_log")
