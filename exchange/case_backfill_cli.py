"""``hotline-link backfill-cases``: enter the cases exchanged with the other platform before
the cases' index was kept into it, from the exchange audit (``exchange.case_backfill``), now.
The server does the same once per deployment at start; this runs a pass on demand (safe
beside a running server) and prints one JSON line of its counts: ``{"scanned", "indexed",
"already", "bad", "not_taken"}``. Log lines go to stderr."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from redis.exceptions import RedisError

from exchange.case_backfill import CaseBackfill, Counts
from exchange.config import ExchangeConfig
from exchange.effects import Off, plan
from hotline_link.core.bus import EventBus
from hotline_link.core.errors import ConfigError
from hotline_link.core.logs import configure_logging
from hotline_link.core.redis_client import redis_client
from hotline_link.core.settings import Settings
from tickets.outbox import Outbox
from tickets.push import PushService
from tickets.store import TicketStore


def add_backfill_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("backfill-cases", help="enter the cases exchanged before the exchanged cases' "
                                                          "index was kept into it, from the exchange audit")
    parser.set_defaults(func=run)
    return parser


async def _backfill(settings: Settings) -> Counts:
    decided = plan(settings.platform_ids, settings.section(ExchangeConfig).exchange_peer_url)
    if isinstance(decided, Off):  # no channel: no index to list, nothing exchanged to enter
        raise ConfigError(f"the exchange channel does not run on this deployment: {decided.reason}")
    redis = redis_client(settings, decode_responses=True)
    try:
        bus = EventBus()
        pushes = PushService(settings, TicketStore(redis), Outbox(redis, bus, ""), redis, bus)
        try:
            return await CaseBackfill(redis, pushes).run()
        except (RedisError, OSError) as exc:
            raise ConfigError(f"Redis at {settings.redis_url} is not reachable: {exc}") from None
    finally:
        await redis.aclose()


def run(settings: Settings, args: argparse.Namespace) -> int:
    configure_logging(settings.log_level, stream=sys.stderr)  # stdout is the one JSON line
    counts = asyncio.run(_backfill(settings))
    print(json.dumps(counts.as_dict()))
    return 0
