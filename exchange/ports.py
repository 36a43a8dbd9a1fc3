"""What the HTTP edge needs of the rest of the exchange channel, as protocols: the edge is
written and tested against these, the Redis stores implement them. Pure: no I/O."""

from __future__ import annotations

from typing import Protocol

from exchange import boundary, receipts
from exchange.messages import Envelope


class Inbox(Protocol):
    async def receive(self, envelope: Envelope, verdict: boundary.Admitted | boundary.Refused,
                      now: float) -> receipts.Receipt:
        """Take one authenticated message addressed to this platform (``verdict`` is
        ``boundary.admit`` of it, never a ``not_addressed`` refusal): step its stream
        atomically, keep what it holds, apply what follows in order, and say what became of
        it (``Receipt.of``)."""
        ...
