"""The IVR capability's settings: its ``[ivr]`` table (harassment screening (恶意滋扰) and the
surge IVR's prompts)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import field_validator

from hotline_link.core.settings import Section


class IvrConfig(Section):
    table: ClassVar[str] = "ivr"

    harassment_max_calls: int = 10  # more calls than this from one number within the window: warn
    harassment_window_s: int = 600
    web_channel: str = "12345网上服务平台"  # what the IVR's web channel prompt names (网上渠道)

    @field_validator("harassment_max_calls", "harassment_window_s")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError("harassment_max_calls and harassment_window_s must be at least 1")
        return value

    @field_validator("web_channel")
    @classmethod
    def _web_channel(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("web_channel: the IVR needs a name or address of the web channel")
        return value
