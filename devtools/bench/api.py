"""``hotline-link bench api``: the HTTP API under a steady load of mixed reads.

A real server runs as a subprocess (``hotline-link serve`` on free ports, the sandbox's
Redis and Asterisk), so its memory is its own and the load generator does not share its
event loop. An aiohttp client sends requests at a fixed rate (open loop: request *i* leaves
at ``start + i / rate`` whether or not earlier ones have been answered) in a mix of reads:
``/health``, ``/api/seats``, ``/api/calls``, ``/api/agents/{agent}/call``, a ticket's
timeline and ``/api/openapi.json``, each with the token its role needs.

Prints one JSON line: requests, errors (no answer, a 5xx or an unexpected status), the rate
achieved, latency p50/p99/max in ms, and the server's RSS at start, middle and end (bounded
memory: the growth from middle to end). Numbers, not a test: nothing here asserts.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from hotline_link.core.errors import SandboxError
from hotline_link.core.redis_client import redis_client
from hotline_link.core.settings import Settings
from hotline_link.web.auth import sandbox_token
from tickets.redis_keys import ticket_key

STARTUP_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 10.0
MAX_IN_FLIGHT = 400  # beyond this the server is not keeping up: requests count as errors


@dataclass(frozen=True)
class Read:
    kind: str
    path: str
    token: str
    expected: frozenset[int]


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)  # nearest rank
    return ordered[min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))]


def rss_mb(pid: int) -> float:
    """Resident set size of a process from /proc, in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _some_ticket(settings: Settings) -> str:
    """A ticket that exists in the sandbox's Redis, if any (its timeline is one of the reads)."""

    redis = redis_client(settings, decode_responses=True)
    try:
        async for key in redis.scan_iter(match=ticket_key("12345-*"), count=500):
            return str(key).split(":", 2)[2]
    finally:
        await redis.aclose()
    return ""


def _mix(settings: Settings, ticket_id: str) -> list[Read]:
    tokens = settings.tokens_path
    supervisor = sandbox_token(tokens, role="supervisor")
    agent = sandbox_token(tokens, role="agent", agent="1001")
    ticket = ticket_id or "12345-20000101-000001"
    return [
        Read("health", "/health", "", frozenset({200})),
        Read("seats", "/api/seats", supervisor, frozenset({200})),
        Read("calls", "/api/calls", supervisor, frozenset({200})),
        Read("agent_call", "/api/agents/1001/call", agent, frozenset({200, 404})),  # 404: on no call
        Read("ticket", f"/api/tickets/{ticket}/timeline", supervisor,
             frozenset({200} if ticket_id else {404})),
        Read("openapi", "/api/openapi.json", "", frozenset({200})),
    ]


class ServerProcess:
    """``hotline-link serve`` on free HTTP and FastAGI ports, its log drained."""

    def __init__(self, settings: Settings, config: Path | None) -> None:
        self.http_port = _free_port()
        self.env = {**os.environ, "HOTLINE_HTTP_PORT": str(self.http_port),
                    "HOTLINE_AGI_PORT": str(_free_port()), "HOTLINE_LOG_LEVEL": "warning"}
        self.args = [sys.executable, "-m", "hotline_link.cli"]
        if config is not None:
            self.args += ["--config", str(config)]
        self.args.append("serve")
        self.proc: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, env=self.env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        self._drain = asyncio.create_task(self._drain_stderr())
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:  # a benchmark, not a test: polling is fine here
                if self.proc.returncode is not None:
                    raise SandboxError(f"the server exited with status {self.proc.returncode}")
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with http.get(f"http://127.0.0.1:{self.http_port}/health",
                                        timeout=aiohttp.ClientTimeout(total=2)) as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.2)
        raise SandboxError(f"the server did not become healthy within {STARTUP_TIMEOUT_S:.0f} s")

    async def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while await self.proc.stderr.readline():
            pass

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain


async def _load(base: str, mix: list[Read], rate: float, duration_s: float,
                on_middle: Callable[[], object]) -> dict[str, object]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    in_flight: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=200)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)

    async def one(http: aiohttp.ClientSession, read: Read) -> None:
        headers = {"Authorization": f"Bearer {read.token}"} if read.token else {}
        sent = time.perf_counter()
        try:
            async with http.get(base + read.path, headers=headers) as resp:
                await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        latencies.append((time.perf_counter() - sent) * 1000)
        by_kind[read.kind] = by_kind.get(read.kind, 0) + 1
        if status not in read.expected:
            key = f"{read.kind}:{status}"
            errors[key] = errors.get(key, 0) + 1

    sent = 0
    middle_done = False
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        start = time.perf_counter()
        while True:
            now = time.perf_counter() - start
            if now >= duration_s:
                break
            if not middle_done and now >= duration_s / 2:
                middle_done = True
                on_middle()
            due = int(now * rate) + 1
            while sent < due:
                if len(in_flight) >= MAX_IN_FLIGHT:
                    errors["overloaded"] = errors.get("overloaded", 0) + 1
                else:
                    task = asyncio.create_task(one(http, mix[sent % len(mix)]))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                sent += 1
            await asyncio.sleep(max(0.0, (sent / rate) - (time.perf_counter() - start)))
        if in_flight:
            await asyncio.wait(in_flight, timeout=REQUEST_TIMEOUT_S + 1)
        elapsed = time.perf_counter() - start
    answered = len(latencies)
    return {"requests": sent, "answered": answered, "errors": sum(errors.values()), "error_kinds": errors,
            "elapsed_s": round(elapsed, 2), "rate": round(answered / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50), 2), "p99_ms": round(percentile(latencies, 99), 2),
            "max_ms": round(max(latencies, default=0.0), 2), "by_kind": by_kind}


async def run_api_bench(settings: Settings, *, duration_s: float = 60.0, rate: float = 200.0,
                        config: Path | None = None) -> dict[str, object]:
    from devtools.sandbox import Sandbox

    await asyncio.to_thread(Sandbox(settings).up)
    mix = _mix(settings, await _some_ticket(settings))
    server = ServerProcess(settings, config)
    await server.start()
    try:
        base = f"http://127.0.0.1:{server.http_port}"
        rss = {"start": rss_mb(server.pid)}
        result = await _load(base, mix, rate, duration_s,
                             on_middle=lambda: rss.__setitem__("middle", rss_mb(server.pid)))
        rss["end"] = rss_mb(server.pid)
    finally:
        await server.stop()
    return {"bench": "api", "target_rate": rate, "duration_s": duration_s, **result,
            "rss_mb": rss, "rss_growth_middle_to_end_mb": round(rss["end"] - rss.get("middle", rss["end"]), 1)}
