"""回访 opt-outs: ``{prefix}callback-optout``, a set of callers' identities
(``CallerNumber.identity``: what the callback dials).

``migrate_optouts`` re-keys members kept by the earlier rule (digits without the country
prefix), which split some callers in two: a fixed line written +86 25 8888 1234 was kept
as 862588881234, an out-of-area mobile 013900004399 as itself. Run at start-up; idempotent.
"""

from __future__ import annotations

import structlog
from redis.asyncio import Redis

from hotline_link.core.numbers import CallerNumber
from linkage.redis_keys import LinkageKeys

log = structlog.get_logger(__name__)


def optout_key(prefix: str) -> str:
    return LinkageKeys(prefix).callback_optout


async def migrate_optouts(redis: Redis, prefix: str) -> int:
    """Move every member that is not its own identity to its identity; returns how many."""
    key, moved = optout_key(prefix), 0
    for member in await redis.smembers(key):
        identity = CallerNumber.parse(member).identity
        if not identity or identity == member:
            continue
        pipe = redis.pipeline(transaction=True)
        pipe.sadd(key, identity)
        pipe.srem(key, member)
        await pipe.execute()
        moved += 1
    if moved:
        log.warning("linkage.optouts_migrated", moved=moved)
    return moved
