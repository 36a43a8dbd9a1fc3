"""The exchange channel's settings: its ``[exchange]`` table (where the other deployment is,
and how the sender talks to it). The keys are not here: they are secrets, read from the
secrets file (``exchange_key_<from>_to_<to>_<key id>``, ``keys.KeyRing.from_secrets``)."""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import ValidationInfo, field_validator

from hotline_link.core.net import url_refusal
from hotline_link.core.settings import Section


class ExchangeConfig(Section):
    table: ClassVar[str] = "exchange"

    # plain http to a loopback address only (two deployments on one machine, the sandbox);
    # declared first: exchange_peer_url's rule reads it
    exchange_allow_http_loopback: bool = False
    # the other deployment's base URL (its server, e.g. https://110.example:8443); empty: the
    # channel is off, as in one deployment serving both platforms
    exchange_peer_url: str = ""
    exchange_timeout_s: float = 10.0  # one attempt at one message, answer included
    exchange_send_batch: int = 20  # heads sent side by side per round of the sender
    exchange_lease_s: float = 30.0  # a head being sent is another instance's only after this
    exchange_probe_s: float = 10.0  # the peer probed this often when nothing was sent meanwhile
    # an applied message whose effect cannot be done (its pair not linked) is given up, and
    # alerted, after this many claims
    exchange_max_deliveries: int = 10

    @field_validator("exchange_peer_url")
    @classmethod
    def _sendable(cls, url: str, info: ValidationInfo) -> str:
        """A peer the client would never send to is refused now, not at the first message."""
        if not url:
            return url
        refusal = url_refusal(url, bool(info.data.get("exchange_allow_http_loopback", False)))
        if refusal:
            raise ValueError(f"exchange_peer_url: {refusal} (exchange_allow_http_loopback for http to loopback)")
        return url.rstrip("/")

    @field_validator("exchange_timeout_s", "exchange_lease_s")
    @classmethod
    def _seconds(cls, value: float, info: ValidationInfo) -> float:
        """Positive, finite times; the lease outlasts an attempt, or two instances would send
        the same head at once."""
        if not (math.isfinite(value) and 0 < value <= 3600):
            raise ValueError(f"{info.field_name} must be above 0 and at most 3600 seconds, got {value}")
        if info.field_name == "exchange_lease_s" and value <= info.data.get("exchange_timeout_s", 0):
            raise ValueError(f"exchange_lease_s ({value:g} s) must be longer than exchange_timeout_s "
                             f"({info.data.get('exchange_timeout_s'):g} s): a head is leased while it is being sent")
        return value

    @field_validator("exchange_send_batch")
    @classmethod
    def _batch(cls, value: int) -> int:
        if not 1 <= value <= 1000:
            raise ValueError(f"exchange_send_batch must be from 1 to 1000, got {value}")
        return value

    @field_validator("exchange_probe_s")
    @classmethod
    def _probe(cls, value: float) -> float:
        """Often enough to show a partition before a case needs the link, never a flood."""
        if not (math.isfinite(value) and 1 <= value <= 3600):
            raise ValueError(f"exchange_probe_s must be from 1 to 3600 seconds, got {value}")
        return value

    @field_validator("exchange_max_deliveries")
    @classmethod
    def _deliveries(cls, value: int) -> int:
        if not 1 <= value <= 1000:
            raise ValueError(f"exchange_max_deliveries must be from 1 to 1000, got {value}")
        return value
