"""The knowledge base's settings: its ``[knowledge]`` table. The token for calling the other
deployment is a secret: ``knowledge_peer_token`` in the secrets file (a ``peer`` token of
the other deployment's tokens file)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from pydantic import ValidationInfo, field_validator

from hotline_link.core.net import url_refusal
from hotline_link.core.settings import Section, Settings
from knowledge.entries import JURISDICTION, available_jurisdictions, knowledge_jurisdiction
from tickets.config import TicketsConfig, classify_jurisdiction

PEER_TOKEN_SECRET = "knowledge_peer_token"  # the secrets file's entry
MIN_TOKEN = 16  # as the tokens file's rule


class KnowledgeConfig(Section):
    table: ClassVar[str] = "knowledge"

    # the data file loaded (knowledge/data/{name}.csv); empty: the jurisdiction the tickets
    # plugin ranks its catalog with (catalog_jurisdiction, else linkage_jurisdiction)
    jurisdiction: str = ""
    # plain http to a loopback address only (the sandbox's two deployments); declared first:
    # peer_url's rule reads it
    peer_allow_http_loopback: bool = False
    # the other deployment's base URL for its shareable entries (include_peer=true); empty:
    # the exchange channel's exchange_peer_url
    peer_url: str = ""
    peer_timeout_s: float = 2.0  # a search of the other deployment, answer included

    @field_validator("jurisdiction")
    @classmethod
    def _shipped(cls, name: str) -> str:
        if name and (not JURISDICTION.match(name) or name not in available_jurisdictions()):
            raise ValueError(f"jurisdiction: no knowledge file {name[:40]!r} "
                             f"(shipped: {', '.join(available_jurisdictions())})")
        return name

    @field_validator("peer_url")
    @classmethod
    def _sendable(cls, url: str, info: ValidationInfo) -> str:
        if not url:
            return url
        refusal = url_refusal(url, bool(info.data.get("peer_allow_http_loopback", False)))
        if refusal:
            raise ValueError(f"peer_url: {refusal} (peer_allow_http_loopback for http to loopback)")
        return url.rstrip("/")

    @field_validator("peer_timeout_s")
    @classmethod
    def _seconds(cls, value: float) -> float:
        """Short: the agent is typing, and a slow peer must not hold their own results."""
        if not (math.isfinite(value) and 0 < value <= 10):
            raise ValueError(f"peer_timeout_s must be above 0 and at most 10 seconds, got {value}")
        return value


def peer_token(secrets: Mapping[str, str]) -> str:
    """The token for the other deployment, from the secrets file ("" if none); a token too
    short to be one of a tokens file is a ConfigError-worthy mistake: ValueError."""
    token = secrets.get(PEER_TOKEN_SECRET, "")
    if token and len(token) < MIN_TOKEN:
        raise ValueError(f"secrets file: {PEER_TOKEN_SECRET} is shorter than {MIN_TOKEN} characters")
    return token


def jurisdiction_of(settings: Settings) -> str:
    """The knowledge file a deployment loads: ``[knowledge] jurisdiction``, else the catalog's
    (``catalog_jurisdiction``, else ``linkage_jurisdiction``) when a file is shipped for it,
    else ``default``. The same rule at start and for ``hotline-link prompts``."""
    catalog = classify_jurisdiction(settings.section(TicketsConfig).catalog_jurisdiction,
                                    getattr(settings, "linkage_jurisdiction", ""))
    return knowledge_jurisdiction(settings.section(KnowledgeConfig).jurisdiction, catalog)
