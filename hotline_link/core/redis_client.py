"""The one way hotline-link opens a Redis client: the URL plus the password (AUTH) from the
settings, so no caller forgets it."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from hotline_link.core.settings import Settings


def redis_client(settings: Settings, **options: Any) -> Redis:
    """``Redis.from_url(settings.redis_url, password=settings.redis_password, **options)``."""
    if settings.redis_password:
        options.setdefault("password", settings.redis_password)
    return Redis.from_url(settings.redis_url, **options)
