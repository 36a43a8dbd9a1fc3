"""A seat snapshot (read seat by seat after each AMI connect, seconds on a busy machine)
never overrides a live event that came while it was being read. A stand-in AMI, real seat
states on a redis-server of the test's own."""

from __future__ import annotations

import asyncio
from typing import Any

from hotline_link.asterisk.ami.manager import AmiEvent
from hotline_link.core.bus import EventBus
from hotline_link.core.settings import Settings
from seat_pool.registry import SeatRegistry
from seat_pool.state import SeatState
from seat_pool.store import SeatStore


class SlowAsterisk:
    """Answers the snapshot's reads as Asterisk did when it started: no contact, every device
    unavailable; the contact reads wait until ``release`` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.reading = asyncio.Event()

    async def send(self, site: str, action: dict[str, Any], **_: object) -> dict[str, str]:
        self.reading.set()
        await self.release.wait()
        return {"Value": ""}

    async def send_list(self, site: str, action: dict[str, Any], **_: object) -> list[dict[str, str]]:
        return [{"Device": f"PJSIP/{seat}", "State": "UNAVAILABLE"} for seat in ("1011", "1012")]


def contact(seat: str, status: str) -> AmiEvent:
    return AmiEvent("12345", "ContactStatus", {"EndpointName": seat, "AOR": seat, "ContactStatus": status,
                                               "URI": f"sip:{seat}@127.0.0.1:26500"})


async def test_a_contact_registered_while_the_snapshot_was_read_stays_registered(private_redis):
    asterisk = SlowAsterisk()
    registry = SeatRegistry(Settings(ami_secret="x"), SeatStore(private_redis, 30), asterisk,  # type: ignore[arg-type]  # a stand-in AMI
                            EventBus())
    snapshot = asyncio.create_task(registry.snapshot("12345"))
    await asyncio.wait_for(asterisk.reading.wait(), 5)
    await registry.on_contact_status(contact("1011", "Created"))  # registered as the snapshot reads
    assert (await registry.states("12345"))["1011"] is SeatState.IDLE
    asterisk.release.set()
    await asyncio.wait_for(snapshot, 5)
    states = await registry.states("12345")
    assert states["1011"] is SeatState.IDLE  # the live event, not the snapshot's stale "no contact"
    assert states["1012"] is SeatState.OFFLINE  # no event: the snapshot's word

    # the next snapshot, with nothing live meanwhile, is the word again
    asterisk.reading.clear()
    again = asyncio.create_task(registry.snapshot("12345"))
    await asyncio.wait_for(again, 5)
    assert (await registry.states("12345"))["1011"] is SeatState.OFFLINE
