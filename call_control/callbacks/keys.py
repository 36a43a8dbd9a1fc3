"""The callback queue's service, by typed key."""

from __future__ import annotations

from aiohttp import web

from call_control.callbacks.service import CallbackService

CALLBACKS = web.AppKey("call_control.callbacks", CallbackService)
