"""Loading and writing the exchange channel's state in Redis, for its outbox and inbox.

One atomic step per message: ``transact`` WATCHes the state's keys, reads them, lets the
pure state machine decide (``inbox.step``, ``sequencing.step``), and writes the new state
and every effect in one MULTI/EXEC; if another server instance changed a watched key in
between, nothing is written and the step runs again on what that instance wrote. A Lua
script would be atomic too, but it cannot call the Python state machines: the decision
would have to be written twice (once in Lua), or the script would be a compare-and-set of
the whole state, which is what WATCH already is.

State that cannot be read (not JSON, a field missing, a held message that no longer
parses) is a ``CorruptState`` naming the key, never a traceback deep in ``json``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import structlog
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from hotline_link.core.errors import HotlineError

log = structlog.get_logger(__name__)

MAX_TRIES = 100  # each retry follows another instance's write: one of them always wins

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class CorruptState(HotlineError):
    """State in Redis this server cannot read; ``key`` names it for the operator."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(f"exchange state at {key} cannot be read: {detail}; repair or delete that key")
        self.key = key
        self.detail = detail


class Contention(HotlineError):
    """A step lost ``MAX_TRIES`` races in a row (more instances than it can outrun)."""


async def transact(redis: Redis, keys: Sequence[str], work: Callable[[Pipeline], Awaitable[T]]) -> T:
    """Run ``work`` on a pipeline watching ``keys``: it reads (immediate mode), then calls
    ``pipe.multi()`` and queues its writes, which go in one MULTI/EXEC. A ``work`` that
    calls no ``multi`` writes nothing. Retried from the start when a watched key changed."""
    for attempt in range(MAX_TRIES):
        async with redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(*keys)
                result = await work(pipe)
                if pipe.explicit_transaction:
                    await pipe.execute()
                return result
            except WatchError:
                log.debug("exchange.state_raced", key=keys[0], attempt=attempt + 1)
    raise Contention(f"gave up after {MAX_TRIES} races on {keys[0]}")


def load_record(key: str, raw: object, model: type[M]) -> M:
    """The stored JSON at ``key`` read as ``model``, or a ``CorruptState`` saying why not."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode()
        except UnicodeDecodeError:
            raise CorruptState(key, "not UTF-8 text") from None
    if not isinstance(raw, str):
        raise CorruptState(key, f"a {type(raw).__name__}, not a JSON text")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "the whole value"
        raise CorruptState(key, f"{where}: {error['msg']}") from None
