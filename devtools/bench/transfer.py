"""``hotline-link bench transfer``: click-to-ring of a one-click transfer, with its floor.

For each transfer: a SIPp caller is answered by a 12345 agent (SIPp), the transfer is
requested, and the time runs until the INVITE reaches the 110 agent (SIPp's own message
trace, stamped on arrival). Measured in one run, side by side:
- ours: ``POST /api/calls/{id}/transfer`` (HTTP, auth, lock, ticket, Setvar, BlindTransfer)
- floor: the bare AMI ``BlindTransfer`` sent on a panoramisk connection of its own
- concurrent: ``--concurrent`` transfers requested at the same moment through the API
- with ``--via`` also ``refer`` (a real softphone's own REFER, baresip) and ``desk`` (the
  click on 转110 in the desk page, headless Chromium with its browser phone), each at most
  ``PATH_MAX`` transfers, one at a time (``transfer_paths``)
Prints one JSON line. Numbers, not a test: nothing here asserts.
"""

from __future__ import annotations

import asyncio
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path

import aiohttp
import panoramisk

from call_control.keys import CALLS
from devtools.bench.transfer_paths import REFER_AGENT, PathRun
from devtools.sandbox import Sandbox
from devtools.sip.contacts import wait_reachable
from devtools.sip.peers import SipPeers, SippRun, free_udp_port
from hotline_link.app import App
from hotline_link.core.bus import BusEvent, Subscription
from hotline_link.core.errors import ConfigError
from hotline_link.core.logs import configure_logging
from hotline_link.core.settings import Settings, agent_password, read_secret_file
from hotline_link.web.auth import sandbox_token
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.state import SeatState

WAVE = 10
VIA = ("api", "refer", "desk")
PATH_MAX = 30  # transfers per extra path: each is one phone, one call at a time
AGENTS_12345 = tuple(str(n) for n in range(1001, 1021))  # one per concurrent call: no ring-all
# a free 110 seat for every transfer in flight: a wave's callers stay on the line (hold 8 s)
# after the transfer, and with one seat the next transfer met target_busy and never rang
TARGET_AGENTS = tuple(str(n) for n in range(2001, 2021))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def invite_arrivals(trace: Path) -> dict[str, float]:
    """{caller number: epoch time its INVITE reached the target}, from SIPp's -trace_msg."""
    arrivals: dict[str, float] = {}
    for block in ("\n" + trace.read_text(errors="replace")).split("\n-----")[1:]:
        header, _, body = block.partition("\n")
        if "message received" not in body.split("\n", 1)[0] or "\nINVITE " not in "\n" + body.lstrip():
            continue
        caller = re.search(r"^From:[^\n]*?sip:(\d+)@", body, re.MULTILINE)
        if caller and caller.group(1) not in arrivals:
            day, clock = header.strip("- ").split()[:2]  # SIPp stamps local time
            arrivals[caller.group(1)] = datetime.fromisoformat(f"{day} {clock}").timestamp()
    return arrivals


def _started_at_12345(caller: str, event: BusEvent) -> bool:
    return event.name == "call.started" and event.data["caller"] == caller and event.data["site"] == "12345"


def _answered(call_id: str, event: BusEvent) -> bool:
    return event.name == "call.answered" and event.data["call_id"] == call_id


class TransferBench:
    def __init__(self, server: App, peers: SipPeers) -> None:
        self.server = server
        self.peers = peers
        self.settings = server.settings
        self.requested: dict[str, float] = {}  # caller -> when the transfer was asked for
        # callers new to this run: the same numbers run after run were flagged as harassment
        # (more than 10 calls in 10 minutes) and no longer reached an agent
        self._serial = random.randrange(10**7)

    def callers(self, count: int) -> list[str]:
        start = self._serial
        self._serial += count
        return [f"1390{n % 10**7:07d}" for n in range(start, start + count)]

    async def answered_wave(self, events: Subscription, callers: list[str]) -> tuple[SippRun, dict[str, str]]:
        run = await self.peers.calls(self.settings.site("12345"), callers, "12345", hold_ms=8000,
                                     rate_per_s=20)
        call_ids = {}
        for caller in callers:
            started = await events.wait_for(partial(_started_at_12345, caller), 30)
            call_ids[caller] = started.data["call_id"]
            await events.wait_for(partial(_answered, call_ids[caller]), 30)
        return run, call_ids

    async def ringing_at_target(self, events: Subscription, caller: str) -> None:
        await events.wait_for(lambda e: e.name == "call.ringing" and e.data["site"] == "110"
                              and e.data["caller"] == caller, 30)

    async def sequential(self, events: Subscription, count: int,
                         fire: Callable[[str, str], Awaitable[None]]) -> list[str]:
        done: list[str] = []
        while len(done) < count:
            run, call_ids = await self.answered_wave(events, self.callers(min(WAVE, count - len(done))))
            for caller, call_id in call_ids.items():
                self.requested[caller] = time.time()
                await fire(caller, call_id)
                await self.ringing_at_target(events, caller)
                done.append(caller)
            await run.finished(60)
        return done

    async def concurrent(self, events: Subscription, count: int,
                         fire: Callable[[str, str], Awaitable[None]]) -> list[str]:
        run, call_ids = await self.answered_wave(events, self.callers(count))
        now = time.time()
        for caller in call_ids:
            self.requested[caller] = now
        await asyncio.gather(*(fire(caller, call_id) for caller, call_id in call_ids.items()))
        await asyncio.gather(*(self.ringing_at_target(events, caller) for caller in call_ids))
        await run.finished(60)
        return list(call_ids)


async def online_softphone(server: App, peers: SipPeers, password: str, site_id: str, agent: str,
                           calls: int, trace: bool = False,
                           talk_range_ms: tuple[int, int] | None = None) -> SippRun:
    site = server.settings.site(site_id)
    port = free_udp_port()
    await peers.register(site, agent, password, port)
    run = await peers.answer(site, agent, port, calls=calls, ring_ms=0, timeout_s=3600, trace=trace,
                             talk_range_ms=talk_range_ms)
    await wait_reachable(server.ami.send, site_id, agent)
    await server[SEAT_REGISTRY].wait_for_state(site_id, agent, SeatState.IDLE, 10)
    return run


async def run_transfer_bench(settings: Settings, count: int = 200, concurrent: int = 20,
                             via: tuple[str, ...] = ("api",)) -> dict[str, float]:
    if not 1 <= concurrent <= min(len(TARGET_AGENTS), len(AGENTS_12345)) or count < 1:
        raise ConfigError(f"bench transfer: --count must be at least 1 and --concurrent 1 to "
                          f"{min(len(TARGET_AGENTS), len(AGENTS_12345))} (one seat per call on each side)")
    if not via or set(via) - set(VIA):
        raise ConfigError(f"bench transfer: --via takes {', '.join(VIA)} (comma-separated), got {','.join(via)}")
    configure_logging("warning", stream=sys.stderr)
    sandbox = Sandbox(settings)
    await asyncio.to_thread(sandbox.up)
    await asyncio.to_thread(sandbox.clear)  # nothing an earlier run left rings or answers here
    secrets = read_secret_file(settings.secrets_file)
    settings = settings.with_secret(secrets["ami_secret"]).with_values(http_port=free_udp_port(),
                       transfer_ring_s=10)
    server = App(settings)
    await server.start()
    await server.ami.wait_connected(15)
    peers = SipPeers(settings.state_dir / "bench-sipp")
    token = sandbox_token(settings.tokens_path, role="supervisor")
    floor_ami = panoramisk.Manager(host=settings.site("12345").host, port=settings.site("12345").ami_port,
                                   username=settings.ami_username, secret=settings.ami_secret,
                                   events="off", ping_delay=3600, loop=asyncio.get_running_loop())
    try:
        path_count = min(count, PATH_MAX)
        total = 2 * count + 2 * concurrent + path_count * (len(via) - 1)
        seats = max(min(WAVE, count), concurrent)  # as many calls as are up at once, no more phones
        targets = [await online_softphone(server, peers, agent_password(secrets, "110", agent), "110", agent, total,
                                          trace=True) for agent in TARGET_AGENTS[:seats]]
        bench = TransferBench(server, peers)
        base = f"http://{settings.http_host}:{settings.http_port}"
        by_path: dict[str, list[str]] = {}
        if set(via) - {"api"}:  # first, while no other 12345 seat is registered
            with server.bus.subscribe() as events:
                paths = PathRun(server, peers, events, bench.callers, bench.requested, TARGET_AGENTS[:seats])
                if "refer" in via:
                    by_path["refer"] = await paths.via_refer(
                        path_count, agent_password(secrets, "12345", REFER_AGENT), settings.state_dir / "bench-refer")
                if "desk" in via:
                    desk_agent = settings.site("12345").webrtc_agents[:1]
                    desk_token = sandbox_token(settings.tokens_path, role="agent", agent=desk_agent[0]) \
                        if desk_agent else ""
                    by_path["desk"] = await paths.via_desk(path_count, base, desk_token,
                                                           settings.state_dir / "bench-desk")
            for agent in TARGET_AGENTS[:seats]:  # their callers hung up: the API's phases find them free
                await server[SEAT_REGISTRY].wait_for_state("110", agent, SeatState.IDLE, 30)
        for agent in AGENTS_12345[:seats]:
            await online_softphone(server, peers, agent_password(secrets, "12345", agent), "12345", agent, total)
        await floor_ami.connect()
        await floor_ami.authenticated_future

        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            async def via_api(caller: str, call_id: str) -> None:
                call = server[CALLS].book.find(call_id)
                agent = call.answered_by.split("/")[1] if call and call.answered_by else ""
                async with http.post(f"{base}/api/calls/{call_id}/transfer?wait=none&agent={agent}",
                                     json={"target": "110"}) as resp:
                    if resp.status >= 300:
                        print(f"bench: transfer of {call_id} refused: {await resp.text()}", file=sys.stderr)

            async def via_raw_ami(caller: str, call_id: str) -> None:
                call = server[CALLS].book.find(call_id)
                agent_leg = call.agent_channel(call.answered_by.split("/")[1]) if call and call.answered_by else None
                await floor_ami.send_action({"Action": "BlindTransfer", "Channel": agent_leg[1] if agent_leg else "",
                                             "Context": "transfer-out", "Exten": "110"})

            with server.bus.subscribe() as events:
                ours = await bench.sequential(events, count, via_api)
                floor = await bench.sequential(events, count, via_raw_ami)
                together = await bench.concurrent(events, concurrent, via_api)
                together_floor = await bench.concurrent(events, concurrent, via_raw_ami)
        await peers.stop_all()  # every trace complete before it is read
        arrivals = {caller: at for target in targets if target.trace_file and target.trace_file.exists()
                    for caller, at in invite_arrivals(target.trace_file).items()}
    finally:
        floor_ami.close()
        await peers.stop_all()
        await server.stop()
        await asyncio.to_thread(sandbox.clear)

    def latencies(callers: list[str]) -> list[float]:
        return [(arrivals[c] - bench.requested[c]) * 1000 for c in callers if c in arrivals]

    ours_ms, floor_ms, together_ms = latencies(ours), latencies(floor), latencies(together)
    together_floor_ms = latencies(together_floor)
    result = {
        "transfers": len(ours_ms), "floor_transfers": len(floor_ms),
        "p50_ms": round(percentile(ours_ms, 50), 2), "p99_ms": round(percentile(ours_ms, 99), 2),
        "floor_p50_ms": round(percentile(floor_ms, 50), 2), "floor_p99_ms": round(percentile(floor_ms, 99), 2),
        "concurrent": len(together_ms),
        "concurrent_p50_ms": round(percentile(together_ms, 50), 2),
        "concurrent_p99_ms": round(percentile(together_ms, 99), 2),
        "concurrent_floor_p50_ms": round(percentile(together_floor_ms, 50), 2),
        "concurrent_floor_p99_ms": round(percentile(together_floor_ms, 99), 2),
    }
    result["ratio_p50"] = round(result["p50_ms"] / result["floor_p50_ms"], 3)
    for path, callers in by_path.items():  # click-to-ring of the agent's other ways, same floor
        path_ms = latencies(callers)
        result[f"{path}_transfers"] = len(path_ms)
        result[f"{path}_p50_ms"] = round(percentile(path_ms, 50), 2)
        result[f"{path}_p99_ms"] = round(percentile(path_ms, 99), 2)
        result[f"{path}_ratio_p50"] = round(result[f"{path}_p50_ms"] / result["floor_p50_ms"], 3)
    result["concurrent_p99_over_p50"] = round(result["concurrent_p99_ms"] / result["p50_ms"], 3)
    return result
