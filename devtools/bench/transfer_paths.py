"""The agent's other ways to ask for a transfer, for ``hotline-link bench transfer --via``:

- ``refer``: a real softphone (baresip) registered as a 12345 agent answers the caller and
  sends its own blind REFER to 110; the clock starts as the command goes to the phone;
- ``desk``: the desk page in headless Chromium, its browser phone (JsSIP over WSS) as agent
  1021, answers and the test clicks 转110; the clock starts at the click.

Each ends, like the API's, when the INVITE reaches the 110 agent (its SIPp trace). They run
while no other 12345 seat is registered, so every caller rings the phone under test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.browser import chromium, click_action, data_state, wait_until
from devtools.sip.baresip import Baresip, free_phone_ports
from devtools.sip.contacts import wait_reachable
from hotline_link.app import App
from hotline_link.core.bus import BusEvent, Subscription
from hotline_link.core.errors import ConfigError
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.state import SeatState

REFER_AGENT = "1020"  # a SIP phone's seat (the API phases register it again later, as SIPp)
HOLD_MS = 8000  # the caller stays on the line with 110 after the transfer


class PathRun:
    """One path's transfers: the callers, each with the moment the agent asked."""

    def __init__(self, server: App, peers: Any, events: Subscription, new_callers: Callable[[int], list[str]],
                 requested: dict[str, float], targets: tuple[str, ...]) -> None:
        self.server = server
        self.peers = peers
        self.events = events
        self.new_callers = new_callers
        self.requested = requested
        self.site = server.settings.site("12345")
        self.targets = targets

    async def free_target(self) -> None:
        """Until a 110 seat is idle: an earlier caller may still be talking to each."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # a tool: polling the seat pool is fine
            states = await self.server[SEAT_REGISTRY].states("110")
            if any(states.get(agent) is SeatState.IDLE for agent in self.targets):
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("bench: no 110 seat came free in 30 s")

    async def ring(self, caller: str) -> str:
        """A call from ``caller`` to 12345: its call id once it started."""
        await self.peers.call(self.site, caller, self.site.intake, hold_ms=HOLD_MS, speaking=True)
        started = await self.events.wait_for(lambda e: e.name == "call.started" and e.data["site"] == "12345"
                                             and e.data["caller"] == caller, 30)
        return str(started.data["call_id"])

    async def answered(self, call_id: str) -> None:
        await self.events.wait_for(_is("call.answered", call_id), 30)

    async def at_target(self, caller: str) -> BusEvent:
        return await self.events.wait_for(lambda e: e.name == "call.ringing" and e.data["site"] == "110"
                                          and e.data["caller"] == caller, 30)

    async def via_refer(self, count: int, password: str, workdir: Path) -> list[str]:
        [ports] = free_phone_ports(1)
        done = []
        async with Baresip(workdir / "baresip", REFER_AGENT, ports, registrar=f"{self.site.host}:{self.site.sip_port}",
                           password=password, regint=600) as phone:
            await phone.wait_registered()
            await self.server[SEAT_REGISTRY].wait_for_state("12345", REFER_AGENT, SeatState.IDLE, 15)
            await wait_reachable(self.server.ami.send, "12345", REFER_AGENT)
            target = f"sip:110@{self.site.host}:{self.site.sip_port}"
            for caller in self.new_callers(count):
                call_id = await self.ring(caller)
                incoming = await phone.wait_incoming(30)
                await phone.answer(incoming.call_id)
                await self.answered(call_id)
                await self.free_target()
                self.requested[caller] = time.time()
                await phone.blind_transfer(target, incoming.call_id)
                await self.at_target(caller)
                await phone.wait_transferred(incoming.call_id, 30)
                await self.server[SEAT_REGISTRY].wait_for_state("12345", REFER_AGENT, SeatState.IDLE, 30)
                done.append(caller)
        await self.server[SEAT_REGISTRY].wait_for_state("12345", REFER_AGENT, SeatState.OFFLINE, 30)
        return done

    async def via_desk(self, count: int, base: str, token: str, workdir: Path) -> list[str]:
        agents = self.site.webrtc_agents
        if not agents:
            raise ConfigError("bench transfer --via desk: site 12345 has no webrtc_agents (the desk's browser phone)")
        agent = agents[0]
        driver = await asyncio.to_thread(chromium, workdir / "chromium", phone=True)
        done = []
        try:
            await asyncio.to_thread(driver.get, f"{base}/desk?token={token}")
            await asyncio.to_thread(wait_until, driver, lambda d: data_state(d, "sip-state") == "registered", 30)
            await self.server[SEAT_REGISTRY].wait_for_state("12345", agent, SeatState.IDLE, 15)
            for caller in self.new_callers(count):
                call_id = await self.ring(caller)
                await asyncio.to_thread(wait_until, driver, lambda d: data_state(d, "call-state") == "ringing", 30)
                await asyncio.to_thread(click_action, driver, "answer")
                await self.answered(call_id)
                await asyncio.to_thread(wait_until, driver, lambda d: data_state(d, "call-state") == "talking", 30)
                await asyncio.to_thread(wait_until, driver,
                                        lambda d: d.find_element("css selector", "[data-action=transfer]").is_enabled(),
                                        30)
                await self.free_target()
                self.requested[caller] = time.time()
                await asyncio.to_thread(click_action, driver, "transfer")
                try:
                    await self.at_target(caller)
                except TimeoutError:
                    raise RuntimeError(f"bench: the desk's transfer of {call_id} never rang 110; the page says "
                                       f"{driver.find_element('id', 'error').text!r} "
                                       f"{driver.find_element('id', 'notice').text!r}") from None
                await asyncio.to_thread(wait_until, driver, lambda d: data_state(d, "call-state") == "idle", 30)
                await self.server[SEAT_REGISTRY].wait_for_state("12345", agent, SeatState.IDLE, 30)
                done.append(caller)
        finally:
            await asyncio.to_thread(driver.quit)
        await self.server[SEAT_REGISTRY].wait_for_state("12345", agent, SeatState.OFFLINE, 30)
        return done


def _is(name: str, call_id: str) -> Callable[[BusEvent], bool]:
    return lambda e: e.name == name and e.data.get("call_id") == call_id
