"""``hotline-link bench surge``: a spike of calls at the 12345 center, routed twice.

SIPp places ``calls`` calls in ``spread_s`` seconds at 12345; 5 local agents (1001-1005)
and 5 remote agents (3001-3005) answer, each caller talking a uniformly drawn time. The
same spike runs twice in one invocation, against the same agents:
- hotline-link: the route hook's queue and the overflow policy (remote seats when the
  estimated wait passes the threshold, longest-waiting calls first);
- app_queue: plain Asterisk ``Queue()`` on the local seats with a queue timeout, after which
  the caller rings every remote seat over the trunk (``[appqueue-baseline]``), the usual set-up.
Wait = from the caller's channel appearing to the answer (the same AMI events for both).
Lost = a call that ended without an answer. With ``--ivr`` queued callers are offered the
surge IVR and a fifth as many callers again come for self-service (press 1, then a
question, listen, hang up): ``ivr_handled`` counts callers the IVR served without an
agent; ``calls`` and the waits are those of the callers who want an agent (the others
time out in the menu and go back to the queue, keeping their place).
Prints one JSON line; asserts nothing.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any

from devtools.bench.transfer import online_softphone, percentile
from devtools.sandbox import Sandbox
from devtools.sip.peers import SipPeers, SippRun, free_udp_port
from hotline_link.app import App
from hotline_link.core.bus import BusEvent
from hotline_link.core.logs import configure_logging
from hotline_link.core.settings import (
    Settings,
    SiteSettings,
    agent_password,
    read_secret_file,
)
from hotline_link.core.tasks import wait_until

LOCAL_AGENTS = tuple(str(n) for n in range(1001, 1006))
REMOTE_AGENTS = tuple(str(n) for n in range(3001, 3006))
# Thresholds scaled to a 10-second spike of short calls; the defaults suit real handle times
SELF_SERVICE_KEYS = [(2500, "1"), (2500, "1")]
BENCH_POLICY: dict[str, Any] = dict(overflow_enter_wait_s=8.0, overflow_exit_wait_s=3.0, overflow_enter_hold_s=1.0,
                    overflow_exit_hold_s=10.0, overflow_max_remote_share=0.5, overflow_tick_s=0.5,
                    default_handle_time_s=7.0, ivr_sites="", queue_max_wait_s=600.0,
                    overflow_arrival_window_s=15.0)


@dataclass
class SpikeRecord:
    """What one run saw, from the server's bus (call.* events come from AMI)."""

    site: str
    prefix: str  # callers of this run have numbers starting with it
    started: dict[str, float] = field(default_factory=dict)  # call id -> when
    waits: dict[str, float] = field(default_factory=dict)  # call id -> wait_s
    remote: set[str] = field(default_factory=set)
    ended: set[str] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set on each event of the site
    overflow_started: int = 0

    def on_event(self, event: BusEvent) -> None:
        data = event.data
        if data.get("site") != self.site:
            return
        call_id = data.get("call_id", "")
        if event.name == "call.started" and str(data.get("caller", "")).startswith(self.prefix):
            self.started[call_id] = time.time()
        elif call_id not in self.started:
            if event.name == "overflow.changed" and data.get("active"):
                self.overflow_started += 1
        elif event.name == "call.answered":
            self.waits[call_id] = float(data["wait_s"])
            if str(data.get("answered_by", "")).startswith("PJSIP/trunk-"):
                self.remote.add(call_id)
        elif event.name == "call.ended":
            self.ended.add(call_id)
        self.changed.set()

    def summary(self, prefix: str) -> dict[str, object]:
        waits = sorted(self.waits.values()) or [0.0]
        return {f"{prefix}calls": len(self.started),
                f"{prefix}lost_calls": len(self.started) - len(self.waits),
                f"{prefix}overflowed": len(self.remote),
                f"{prefix}wait_p50_s": round(percentile(waits, 50), 2),
                f"{prefix}wait_p95_s": round(percentile(waits, 95), 2),
                f"{prefix}wait_max_s": round(waits[-1], 2)}


async def _self_service_callers(peers: SipPeers, site: SiteSettings, dialled: str, count: int,
                                spread_s: float) -> list[SippRun]:
    """Callers who, offered the IVR, pick self-service (1) and a question (1), listen to the
    answer and hang up; spread over the spike like the others."""
    runs = []
    for n in range(count):
        runs.append(await peers.call_dtmf(site, f"1383{n:04d}", dialled, SELF_SERVICE_KEYS,
                                          hold_ms=8000, timeout_s=300))
        await asyncio.sleep(spread_s / max(1, count))  # pacing the spike, not waiting for an event
    return runs


async def _waiting_callers(peers: SipPeers, site: SiteSettings, dialled: str, callers: list[str],
                           spread_s: float, timeout_s: float) -> list[SippRun]:
    """Callers who want an agent: offered the IVR, they press 0 (keep waiting); they stay
    on until the agent hangs up."""
    runs = []
    for caller in callers:
        runs.append(await peers.call_dtmf(site, caller, dialled, [(1500, "0")], hold_ms=None,
                                          wait_bye_s=int(timeout_s), timeout_s=int(timeout_s)))
        await asyncio.sleep(spread_s / len(callers))  # pacing the spike
    return runs


async def _spike(server: App, peers: SipPeers, dialled: str, prefix: str, calls: int,
                 spread_s: float, talk_ms: tuple[int, int], timeout_s: float,
                 self_service: int = 0, agents_hang_up: bool = False) -> SpikeRecord:
    record = SpikeRecord("12345", prefix)
    server.bus.listen(record.on_event)
    callers = [f"{prefix}{n:04d}" for n in range(calls)]
    site = server.settings.site("12345")
    if agents_hang_up:
        runs = await _waiting_callers(peers, site, dialled, callers, spread_s, timeout_s)
    else:
        runs = [await peers.calls(site, callers, dialled, hold_ms=0, rate_per_s=calls / spread_s,
                                  timeout_s=int(timeout_s), talk_range_ms=talk_ms)]
    if self_service:
        runs += await _self_service_callers(peers, site, dialled, self_service, spread_s)
    await wait_until(record.changed, lambda: len(record.started) >= calls and len(record.ended) >= len(record.started),
                     timeout_s)
    for run in runs:
        await asyncio.to_thread(run.kill)
    return record


async def run_surge_bench(settings: Settings, calls: int = 60, spread_s: float = 10.0,
                          talk_ms: tuple[int, int] = (4000, 10000), timeout_s: float = 300.0,
                          ivr: bool = False) -> dict[str, object]:
    configure_logging("warning", stream=sys.stderr)
    sandbox = Sandbox(settings)
    await asyncio.to_thread(sandbox.up)
    await asyncio.to_thread(sandbox.clear)  # a ghost caller of an earlier run would take a seat
    secrets = read_secret_file(settings.secrets_file)
    settings = replace(settings.with_secret(secrets["ami_secret"]), http_port=free_udp_port(),
                       **BENCH_POLICY)
    if ivr:  # queued 12345 callers expecting a wait over 15 s are offered the IVR
        settings = settings.with_values(ivr_sites="12345", ivr_offer_wait_s=15.0)
    server = App(settings)
    await server.start(http=False)
    await server.ami.wait_connected(15)
    peers = SipPeers(settings.state_dir / "bench-surge-sipp")
    ivr_handled = 0

    def count_ivr(event: BusEvent) -> None:  # callers served by the IVR, with no agent
        nonlocal ivr_handled
        if event.name == "ivr.left" and event.data.get("choice") in ("self_service", "callback"):
            ivr_handled += 1

    server.bus.listen(count_ivr)
    try:
        for site_id, agents in (("12345", LOCAL_AGENTS), ("remote", REMOTE_AGENTS)):
            for agent in agents:  # with the IVR the agents end calls (callers wait in the menu)
                await online_softphone(server, peers, agent_password(secrets, site_id, agent), site_id, agent,
                                       4 * calls, talk_range_ms=talk_ms if ivr else None)
        self_service = calls // 5 if ivr else 0
        ours = await _spike(server, peers, "12345", "1381", calls, spread_s, talk_ms, timeout_s,
                            self_service, agents_hang_up=ivr)
        baseline = await _spike(server, peers, "123450", "1382", calls, spread_s, talk_ms, timeout_s,
                                agents_hang_up=ivr)
    finally:
        await peers.stop_all()
        await server.stop()
        await asyncio.to_thread(sandbox.clear)
    result: dict[str, Any] = {**ours.summary(""), "ivr_handled": ivr_handled,
                                 "overflow_started": ours.overflow_started,
                                 **baseline.summary("app_queue_"),
                                 "local_agents": len(LOCAL_AGENTS), "remote_agents": len(REMOTE_AGENTS),
                                 "spread_s": spread_s, "talk_ms": list(talk_ms)}
    if baseline.waits and ours.waits:
        result["wait_p95_ratio"] = round(float(result["wait_p95_s"]) /
                                         max(0.01, float(result["app_queue_wait_p95_s"])), 3)
    return result
