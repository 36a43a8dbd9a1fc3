"""The linkage capability's settings: its ``[linkage]`` table (handling units' directory and
policy file, and the calls to units' duty phones)."""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import ValidationInfo, field_validator

from hotline_link.core.settings import Section


class LinkageConfig(Section):
    table: ClassVar[str] = "linkage"

    linkage_jurisdiction: str = "qidong"  # units directory: linkage/data/units/{name}.csv, or a .csv path
    linkage_config: str = ""  # deadlines, calendar, escalation, repeats (TOML); empty: shipped defaults
    # calls to a unit's duty phone and 回访 calls (linkage/phone.py): how long the phone rings,
    # the wait before the next attempt, and the time after the ring for the prompt and the keys
    phone_ring_s: int = 20
    phone_retry_delay_s: float = 120.0
    phone_answer_window_s: float = 60.0

    @field_validator("phone_ring_s")
    @classmethod
    def _ring(cls, value: int) -> int:
        """A ring Asterisk's Originate can wait for."""
        if not 5 <= value <= 120:
            raise ValueError(f"phone_ring_s must be from 5 to 120 seconds, got {value}")
        return value

    @field_validator("phone_retry_delay_s", "phone_answer_window_s")
    @classmethod
    def _waits(cls, value: float, info: ValidationInfo) -> float:
        """Positive, finite waits (NaN and infinity are refused, they would never come due)."""
        name = info.field_name or ""
        limit = 86400.0 if name == "phone_retry_delay_s" else 600.0
        if not (math.isfinite(value) and 0 < value <= limit):
            raise ValueError(f"{name} must be above 0 and at most {limit:g} seconds, got {value}")
        return value
