"""What the exchange's lossy-network tests share: the sender's outbox and the receiver's
inbox, each in a Redis database of its own, and the wire between them, which loses,
doubles and reorders; then heals."""

from __future__ import annotations

from hypothesis import event

from exchange.boundary import admit
from exchange.inbox_store import InboxStore
from exchange.messages import Envelope
from exchange.outbox_store import OutboxStore
from tests.unit.exchange_samples import NOW

LEASE_S = 5.0


class Network:
    """12345's outbox, 110's inbox and what is on the wire between them."""

    def __init__(self, sender: OutboxStore, receiver: InboxStore) -> None:
        self.sender, self.receiver = sender, receiver
        self.wire: list[Envelope] = []
        self.now = NOW

    async def send(self) -> None:
        self.wire += await self.sender.due(self.now, 10, LEASE_S)

    async def deliver(self, envelope: Envelope, answer_lost: bool) -> None:
        receipt = await self.receiver.receive(envelope, admit(envelope, "110"), self.now)
        assert receipt.outcome.value != "refused" or receipt.retry, receipt  # no conflict ever
        event(f"{receipt.outcome.value} {receipt.reason}".strip())
        if answer_lost:
            return  # the sender sends it again once its lease runs out
        if receipt.acknowledged:
            await self.sender.acked(envelope, now=self.now, outcome=receipt.outcome.value)
        else:
            await self.sender.retry_later(envelope, self.now, 1, reason=receipt.reason)

    async def heal(self, rounds: int = 500) -> None:
        """What is on the wire arrives, late, then the rest, until the sender's backlog is
        empty (or ``rounds`` rounds)."""
        for _ in range(rounds):
            for envelope in self.wire:
                await self.deliver(envelope, answer_lost=False)
            self.wire = []
            if not await self.sender.backlog():
                return
            self.now += 61  # past any lease and back-off
            await self.send()
