"""The one way hotline-link opens a Redis client: the URL plus the password (AUTH) from the
settings, so no caller forgets it. And replies as the strings they are: redis-py types every
reply ``bytes | str``, whatever the client decodes, while every client of ours decodes
(``decode_responses=True``); the ``as_str*`` helpers narrow a reply to ``str`` (decoding
bytes, should a client that does not decode ever hand them one)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from redis.asyncio import Redis

from hotline_link.core.settings import Settings


def redis_client(settings: Settings, **options: Any) -> Redis:
    """``Redis.from_url(settings.redis_url, password=settings.redis_password, **options)``."""
    if settings.redis_password:
        options.setdefault("password", settings.redis_password)
    return Redis.from_url(settings.redis_url, **options)


def as_str(reply: object) -> str:
    """A string reply (a value, a key, a set or sorted set member) as ``str``."""
    if isinstance(reply, str):
        return reply
    if isinstance(reply, bytes):
        return reply.decode()
    raise TypeError(f"expected a string reply, got {type(reply).__name__}")


def as_str_or_none(reply: object) -> str | None:
    """A string reply, or None for a missing key (GET, HGET)."""
    return None if reply is None else as_str(reply)


def as_str_list(reply: Iterable[object]) -> list[str]:
    """The members of a set or sorted set (SMEMBERS, ZRANGEBYSCORE without scores)."""
    return [as_str(member) for member in reply]


def as_str_hash(reply: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """HGETALL's reply as ``dict[str, str]``."""
    return {as_str(key): as_str(value) for key, value in reply.items()}


def as_str_entries(reply: Iterable[tuple[bytes | str | None, Mapping[bytes | str, bytes | str] | None]] | None,
                   ) -> list[tuple[str, dict[str, str]]]:
    """XRANGE's reply as ``(id, fields)`` pairs; an entry without fields (deleted, as XCLAIM
    may report) is left out."""
    return [(as_str(rid), as_str_hash(fields)) for rid, fields in reply or () if fields is not None]
