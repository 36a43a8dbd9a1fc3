"""``hotline-link report --from DATE --to DATE --format html|csv|json [--output FILE]``:
the linkage report from the event log in Redis (the same figures as /supervisor/report)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from exchange.audit import Audit
from exchange.config import ExchangeConfig
from exchange.effects import Off, plan
from hotline_link.core.bus import EventBus
from hotline_link.core.errors import ConfigError
from hotline_link.core.redis_client import redis_client
from hotline_link.core.settings import Settings
from linkage.exchange_figures import ExchangeLog
from linkage.report import parse_range
from linkage.resources import FORMATS, build_report
from linkage.service import LinkageService
from tickets.outbox import Outbox
from tickets.store import TicketStore


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("report", help="the linkage report (联动报告) over a date range")
    parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD (local)")
    parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD (included)")
    parser.add_argument("--format", choices=FORMATS, default="html")
    parser.add_argument("--output", type=Path, help="write here instead of standard output")
    parser.set_defaults(func=run)
    return parser


def exchange_log(settings: Settings, redis: Redis) -> ExchangeLog | None:
    """The exchange audit when this deployment runs the channel (as the server would): the
    report then counts between the platforms from its messages, as the page does."""
    if isinstance(plan(settings.platform_ids, settings.section(ExchangeConfig).exchange_peer_url), Off):
        return None
    return Audit(redis)


async def _report(settings: Settings, args: argparse.Namespace) -> str:
    redis = redis_client(settings, decode_responses=True)
    try:
        bus = EventBus()
        linkage = LinkageService.for_settings(settings, redis, bus, TicketStore(redis), Outbox(redis, bus, ""))
        parse_range(args.start, args.end, linkage.config.calendar.timezone)  # a bad range before Redis
        try:
            _, body = await build_report(linkage, args.start, args.end, args.format, exchange_log(settings, redis))
        except (RedisError, OSError) as exc:
            raise ConfigError(f"Redis at {settings.redis_url} is not reachable: {exc}") from None
        return body
    finally:
        await redis.aclose()


def run(settings: Settings, args: argparse.Namespace) -> int:
    body = asyncio.run(_report(settings, args))
    if args.output:
        try:
            args.output.write_text(body, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        sys.stdout.write(body if body.endswith("\n") else body + "\n")
    return 0
