"""Benchmark: how soon the supervisor page's event stream shows a seat change made in
Asterisk. Prints one JSON line; nothing here asserts.

    python -m devtools.bench.stream [--calls 20]

A SIPp softphone registers as agent 1020 on the 12345 site and answers ``--calls`` real
SIP calls one after the other. For each call the reference is the ``Timestamp`` Asterisk
puts on its ``DeviceStateChange`` AMI event (BUSY or INUSE, then NOT_INUSE; ``timestampevents``
is on in the sandbox's manager.conf); the measured moment is when a client of
``GET /api/supervisor/stream`` has received the snapshot showing the seat ``talking``,
then ``idle``. Both clocks are this machine's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import aiohttp

from devtools.sandbox import Sandbox
from devtools.sip.contacts import wait_reachable
from devtools.sip.peers import SipPeers, free_udp_port
from hotline_link.app import App, load_config
from hotline_link.asterisk.ami.manager import AmiEvent
from hotline_link.core.logs import configure_logging
from hotline_link.core.settings import (
    Settings,
    agent_password,
    read_secret_file,
)
from hotline_link.core.tasks import run_job
from hotline_link.web.auth import sandbox_token
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.state import SeatState

SITE, AGENT = "12345", "1020"
WAIT_S = 60  # for a change the page must show; a loaded machine is slow, not broken
TALKING_DEVICE = frozenset({"INUSE", "BUSY", "RINGINUSE", "ONHOLD"})  # as seat_pool.state maps them


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


class StreamWatcher:
    """Reads the event stream; notes when the seat first shows each new state."""

    def __init__(self) -> None:
        self.shown: list[tuple[str | None, float]] = []  # None: the seat not on the page
        self.changed = asyncio.Event()
        self.failed: BaseException | None = None  # why the stream stopped being read

    async def run(self, url: str) -> None:
        try:
            await self._read(url)
        except Exception as exc:  # told by wait_for, not lost in a task nobody awaits
            self.failed = exc
            self.changed.set()

    async def _read(self, url: str) -> None:
        last = None
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as resp:
                while True:
                    block = await resp.content.readuntil(b"\n\n")
                    received = time.time()
                    data = json.loads(block.split(b"data: ", 1)[1])
                    seats = {s["seat"]: s["state"] for s in data["sites"][SITE]["seats"]}
                    if seats.get(AGENT) != last:
                        last = seats.get(AGENT)
                        self.shown.append((last, received))
                        self.changed.set()

    async def wait_for(self, state: str, start: int, timeout: float) -> int:
        """The index in ``shown`` of the first entry from ``start`` on showing ``state``.
        Entries are never dropped: under load the page may show ``idle`` before the bench
        has read ``talking``, and clearing the list then lost ``idle`` for good."""
        deadline = time.monotonic() + timeout
        while True:
            hit = next((i for i in range(start, len(self.shown)) if self.shown[i][0] == state), None)
            if hit is not None:
                return hit
            if self.failed is not None:
                raise RuntimeError(f"the event stream stopped: {self.failed!r}") from self.failed
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                raise TimeoutError(f"the page did not show {state} in {timeout:g} s; shown since: "
                                   f"{[s for s, _ in self.shown[start:]]}") from None


async def run_bench(settings: Settings, calls: int) -> dict[str, object]:
    configure_logging("warning", stream=sys.stderr)
    sandbox = Sandbox(settings)
    await asyncio.to_thread(sandbox.up)
    await asyncio.to_thread(sandbox.clear)
    secrets = read_secret_file(settings.secrets_file)
    settings = replace(settings.with_secret(secrets["ami_secret"]), http_port=free_udp_port())
    server = App(settings)
    await server.start()
    await server.ami.wait_connected(15)
    changes: list[tuple[str, float]] = []  # (device state, Asterisk's timestamp)

    async def on_device(event: AmiEvent) -> None:
        if event.site == SITE and event.get("Device") == f"PJSIP/{AGENT}":
            changes.append((event.get("State"), float(event.get("Timestamp") or time.time())))

    server.ami.subscribe("DeviceStateChange", on_device)
    site = settings.site(SITE)
    peers = SipPeers(Path(tempfile.mkdtemp(prefix="supervisor-bench-")))
    port = free_udp_port()
    token = sandbox_token(settings.tokens_path, role="supervisor")
    watcher = StreamWatcher()
    stream = asyncio.create_task(watcher.run(
        f"http://{settings.http_host}:{settings.http_port}/api/supervisor/stream?token={token}"))
    latencies: list[float] = []
    try:
        await peers.register(site, AGENT, agent_password(secrets, SITE, AGENT), port)
        await peers.answer(site, AGENT, port, calls=calls, ring_ms=0, timeout_s=600)
        await wait_reachable(server.ami.send, SITE, AGENT)
        await server[SEAT_REGISTRY].wait_for_state(SITE, AGENT, SeatState.IDLE, 10)
        first = random.randrange(10**5)  # numbers new to this run: no harassment window carries over
        for n in range(calls):
            # a seat offline for a moment (a late qualify answer on a busy machine) would send
            # the caller to the queue's prompt, which answers it: the call must find it idle
            await server[SEAT_REGISTRY].wait_for_state(SITE, AGENT, SeatState.IDLE, WAIT_S)
            changes.clear()
            start = len(watcher.shown)
            run = await peers.call(site, f"139099{(first + n) % 10**5:05d}", site.intake, hold_ms=1000)
            for seat_state, device_states in (("talking", TALKING_DEVICE), ("idle", {"NOT_INUSE"})):
                start = await watcher.wait_for(seat_state, start, WAIT_S)
                shown = watcher.shown[start][1]
                stamp = next((t for s, t in changes if s in device_states), None)
                if stamp is None:
                    print(f"bench: no device state for {seat_state} before the page showed it: {changes}",
                          file=sys.stderr)
                else:
                    latencies.append(shown - stamp)
            await run.finished(WAIT_S)
    finally:
        stream.cancel()
        await peers.stop_all()
        await server.stop()
        await asyncio.to_thread(sandbox.clear)  # its softphone unregistered, no call left
    ms = [round(v * 1000, 2) for v in latencies]
    return {"calls": calls, "changes": len(ms), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99),
            "max_ms": max(ms), "reference": "Asterisk DeviceStateChange Timestamp",
            "measured": "snapshot received by an event-stream client"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(run_job(run_bench(load_config(), args.calls))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
