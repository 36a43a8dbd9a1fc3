"""The seat pool plugin's services, by typed key."""

from __future__ import annotations

from aiohttp import web

from seat_pool.overflow import OverflowController
from seat_pool.registry import SeatRegistry
from seat_pool.router import CallRouter
from seat_pool.store import SeatStore
from seat_pool.waiting import WaitingQueue

SEATS = web.AppKey("seat_pool.seats", SeatStore)
SEAT_REGISTRY = web.AppKey("seat_pool.registry", SeatRegistry)
WAITING_QUEUE = web.AppKey("seat_pool.waiting", WaitingQueue)
OVERFLOW = web.AppKey("seat_pool.overflow", OverflowController)
ROUTER = web.AppKey("seat_pool.router", CallRouter)
