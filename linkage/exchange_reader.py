"""Reads the report's figures between the platforms for a period through the
``ExchangeLog`` port: the per-day counters for the whole days, the log for the rest
(``exchange_days.plan``). The I/O edge of ``exchange_days`` and ``exchange_figures``."""

from __future__ import annotations

import structlog

from linkage.exchange_days import fold, plan
from linkage.exchange_figures import ExchangeLog, Ways, add_ways, exchange_ways

log = structlog.get_logger(__name__)


async def ways_between(audit: ExchangeLog, start: float, end: float) -> Ways:
    """The figures each way of the messages taken with ``start <= at < end``."""
    covered = plan(start, end, await audit.counted_since())
    folded = fold(await audit.day_counts(covered.days) if covered.days else {})
    for bad in folded.skipped:
        # left out of the figures, which undercount by its value: said here, for the operator
        log.error("linkage.exchange_counter_skipped", day=bad.day, field=bad.field, value=bad.value, why=bad.why)
    entries = [entry for low, high in covered.spans for entry in await audit.between(low, high)]
    return add_ways(folded.ways, exchange_ways(entries, start, end))
