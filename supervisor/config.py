"""The supervisor capability's settings: its ``[supervisor]`` table (the dashboard)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import field_validator

from hotline_link.core.settings import Section


class SupervisorConfig(Section):
    table: ClassVar[str] = "supervisor"

    service_level_s: float = 20.0  # service level: the share of calls answered within this many seconds

    @field_validator("service_level_s")
    @classmethod
    def _service_level(cls, value: float) -> float:
        if not 0 <= value < 3600:
            raise ValueError(f"service_level_s must be from 0 to 3600 seconds, got {value}")
        return value
