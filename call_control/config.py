"""The call control capability's settings: its ``[call_control]`` table (transfer and
conference timings)."""

from __future__ import annotations

from typing import ClassVar

from hotline_link.core.settings import Section


class CallControlConfig(Section):
    table: ClassVar[str] = "call_control"

    transfer_ring_s: int = 25  # how long a transferred caller rings the target before coming back
    transfer_wait_s: float = 35.0  # how long POST /transfer waits for the outcome (wait=answer)
    conference_ring_s: int = 25
