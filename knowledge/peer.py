"""Asking the other platform's deployment for its shareable entries: ``GET
{peer}/api/knowledge/search`` with a ``peer`` token of theirs. Their server answers a peer
token with shareable entries only; we keep only those marked shareable all the same.
Never raises for the network or the peer: ``PeerUnavailable`` says why, in a line."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, ValidationError

from hotline_link.core.errors import ConfigError
from hotline_link.core.net import url_refusal

SEARCH_PATH = "/api/knowledge/search"
MAX_REPLY_BYTES = 256 * 1024


class PeerUnavailable(Exception):
    """The peer could not answer (down, slow, refused, not ours): the reason in a line."""


class PeerHit(BaseModel):
    """One result as the peer serves it (fields we do not know are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    question: str
    answer: str
    category: str
    platform: str
    source: str
    shareable: bool
    version: int
    score: float


class PeerSearch:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str, *, timeout_s: float,
                 allow_http_loopback: bool) -> None:
        refusal = url_refusal(base_url, allow_http_loopback)
        if refusal:
            raise ConfigError(f"knowledge peer URL {base_url[:200]!r}: {refusal}")
        self.session = session
        self.url = base_url.rstrip("/") + SEARCH_PATH
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def search(self, query: str, limit: int, category: str | None) -> list[PeerHit]:
        params: dict[str, Any] = {"q": query, "limit": str(limit)}
        if category:
            params["category"] = category
        try:
            async with self.session.get(self.url, params=params, allow_redirects=False, timeout=self.timeout,
                                        headers={"Authorization": f"Bearer {self.token}"}) as resp:
                if resp.status != 200:
                    raise PeerUnavailable(f"the peer answered {resp.status}")
                raw = await resp.content.read(MAX_REPLY_BYTES + 1)
        except TimeoutError:
            raise PeerUnavailable(f"no answer within {self.timeout.total:g} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise PeerUnavailable(f"unreachable ({type(exc).__name__})") from None
        if len(raw) > MAX_REPLY_BYTES:
            raise PeerUnavailable("the peer's answer is too large")
        try:
            data = json.loads(raw)
            hits = [PeerHit.model_validate(item) for item in data["results"]]
        except (ValueError, KeyError, TypeError, ValidationError, RecursionError):
            raise PeerUnavailable("the peer's answer is not a knowledge search result") from None
        return [hit for hit in hits if hit.shareable][:limit]
