"""The linkage plugin's services, by typed key."""

from __future__ import annotations

from aiohttp import web

from linkage.feedback_agi import FeedbackLine
from linkage.service import LinkageService

LINKAGE = web.AppKey("linkage.service", LinkageService)
FEEDBACK_LINE = web.AppKey("linkage.feedback_line", FeedbackLine)
