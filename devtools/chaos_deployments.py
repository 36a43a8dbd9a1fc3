"""``hotline-link chaos --deployments two``: the two deployments (双网双中心) under faults.

The 12345 and the 110 deployment (``devtools.sandbox.deployments``) run as two servers,
each on its own Redis; each reaches the other's exchange endpoint through a TCP proxy that
can be cut. SIPp agents answer at both centres while callers arrive at both, one every
``1 / rate`` seconds, and cases cross both ways on the exchange channel, one every
``case_every_s`` seconds from each side: a system push (系统推送) from 12345 to 110 and
from 110 to 12345, and every third 110 case a restricted matter (涉案) handed over, which
must cross by its number only. Meanwhile, one after the other with calm in between:

- ``exchange_link_cut``: both directions of the exchange channel cut for ``outage_s``;
- ``server_restart_12345``, ``server_restart_110``: that deployment's server stopped for
  ``outage_s`` (its calls go through the dialplan's own fallback), then a new one started.

During the link cut and while the 110 server is down, a 12345 agent also transfers a live
caller to 110 (一键转接): the call must still cross by the trunk, and its handover wait in
the outbox and open (or join) one 110 ticket once the link or the server is back.

Then it waits until both outboxes are empty (at most ``DRAIN_TIMEOUT_S``) and prints one
JSON line:
- ``calls``, ``lost_calls``: callers placed, and those whose SIPp did not exit 0;
- ``cases``: cases handed over (by side); ``messages_sent``: distinct messages the two
  outboxes queued (handovers and what follows them: 签收, feedback);
- ``messages_delivered``: of those, the ones the other side took (applied, or refused at
  its boundary and recorded); ``messages_lost``: sent but never taken;
- ``messages_doubled``: messages applied twice, plus cases that opened more than one
  ticket on the receiving side;
- ``restricted_leaked``: restricted 110 cases whose content (category, summary, caller)
  reached the 12345 deployment;
- ``drain_s`` per fault and ``max_backlog_drain_s``: from the fault lifted until both
  outboxes were empty again (None: not within the timeout);
- ``transfers``: per transfer, the fault it ran in, its ``outcome`` (``answered``: a 110
  agent took the caller; else why not), ``attempts`` (110 busy sends the caller back to
  the agent, who tries again, up to 3 times) and ``linked``: the 110 deployment holds
  exactly one ticket naming the 12345 ticket as its source.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import structlog

from call_control.errors import CallControlError, NoAnswer, TargetBusy
from call_control.keys import CALLS, TRANSFERS
from devtools.faults import TcpProxy, free_tcp_port
from devtools.sandbox import Sandbox, deployments
from devtools.sip.contacts import wait_reachable
from devtools.sip.peers import SipPeers, SippRun, free_udp_port
from exchange.app_keys import EXCHANGE
from exchange.redis_keys import LOG
from hotline_link.app import App
from hotline_link.core.redis_client import as_str_entries, redis_client
from hotline_link.core.settings import Settings, agent_password, read_secret_file
from hotline_link.core.tasks import cancel_and_wait
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.state import SeatState
from tickets.keys import TICKETS
from tickets.push_policy import other_platform
from tickets.store import Ticket

log = structlog.get_logger(__name__)
AGENTS = {"12345": ("1011", "1012"), "110": ("2011", "2012")}
FAULTS = ("exchange_link_cut", "server_restart_12345", "server_restart_110")
TRANSFER_DURING = ("exchange_link_cut", "server_restart_110")  # the 12345 server is up to ask
TRANSFER_HOLD_MS = 15000  # the transferred caller's whole call (room for a retry after busy)
TRANSFER_ATTEMPTS, BACK_WITH_AGENT_S = 3, 15.0
DRAIN_TIMEOUT_S = 120.0  # a retry after a partition waits out its back-off (at most a minute)
TAKEN = ("applied", "refused_at_boundary")


class TwoDeploymentChaos:
    def __init__(self, settings: Settings, workdir: Path, rate: float, outage_s: float, calm_s: float,
                 case_every_s: float) -> None:
        self.sandbox_settings = settings
        self.rate, self.outage_s, self.calm_s, self.case_every_s = rate, outage_s, calm_s, case_every_s
        loaded = deployments.load_deployments(settings.state_dir)
        self.http_ports = {platform: free_tcp_port() for platform in loaded}
        # each side reaches the other's exchange endpoint through a proxy the link cut cuts
        self.proxies = {platform: TcpProxy("127.0.0.1", self.http_ports[platform]) for platform in loaded}
        self.settings = {platform: one.with_values(
            http_port=self.http_ports[platform], ami_reconnect_min_s=0.2, ami_reconnect_max_s=0.5,
            ivr_sites="", exchange_peer_url=f"http://127.0.0.1:{self.proxies[other_platform(platform)].port}")
            for platform, one in loaded.items()}
        self.servers: dict[str, App] = {}
        self.peers = SipPeers(workdir / "sipp")
        self.callers: list[SippRun] = []
        self.cases: Counter[str] = Counter()
        self.restricted: list[str] = []  # the 110 tickets handed over as restricted matters
        self.drain_s: dict[str, float | None] = {}
        self.case_errors: Counter[str] = Counter()
        self.step = ""  # the fault's step under way, for a run that gets stuck
        self.transfers: list[dict[str, Any]] = []

    # --- the servers --------------------------------------------------------------------
    async def start_server(self, platform: str) -> None:
        server = App(self.settings[platform])
        await server.start()
        await server.ami.wait_connected(15)
        self.servers[platform] = server

    async def stop_server(self, platform: str) -> None:
        server = self.servers.pop(platform, None)
        if server is not None:
            await server.stop()

    # --- traffic ------------------------------------------------------------------------
    async def start_agents(self) -> None:
        secrets = read_secret_file(self.sandbox_settings.secrets_file)
        for platform, agents in AGENTS.items():
            server = self.servers[platform]
            site = server.settings.site(platform)
            for agent in agents:
                port = free_udp_port()
                await self.peers.register(site, agent, agent_password(secrets, platform, agent), port)
                await self.peers.answer(site, agent, port, calls=1000, ring_ms=200, timeout_s=900)
                await wait_reachable(server.ami.send, platform, agent)
                await server[SEAT_REGISTRY].wait_for_state(platform, agent, SeatState.IDLE, 10)

    async def place_calls(self) -> None:
        number, start = 0, time.monotonic()
        while True:
            number += 1
            platform = "110" if number % 2 else "12345"
            site = self.settings[platform].site(platform)
            caller = f"1372{int(time.time()) % 100000:05d}{number:02d}"[-11:]
            self.callers.append(await self.peers.call(site, caller, site.intake, hold_ms=2000))
            await asyncio.sleep(max(0.0, start + number / self.rate - time.monotonic()))

    async def hand_over_cases(self) -> None:
        """A case from each side every ``case_every_s``; a side whose server is down just
        waits for it (its agents would too)."""
        number = 0
        while True:
            number += 1
            for platform in ("12345", "110"):
                server = self.servers.get(platform)
                if server is None:
                    continue
                try:
                    await self._one_case(server, platform, number)
                except Exception as exc:  # a tool: count what failed, keep the traffic going
                    self.case_errors[type(exc).__name__] += 1
                    log.warning("chaos.case_failed", platform=platform, error=f"{type(exc).__name__}: {exc}"[:200])
            await asyncio.sleep(self.case_every_s)

    async def _one_case(self, server: App, platform: str, number: int) -> None:
        restricted = platform == "110" and number % 3 == 0
        ticket = await server[TICKETS].open_for_call(platform, f"chaos-case-{platform}-{number}-{time.time_ns()}")
        ticket = await server[TICKETS].update(
            ticket, caller="13900001111", division_code="320681",
            category="涉案" if restricted else ("供水" if platform == "12345" else "噪音扰民"),
            summary="涉案线索（混沌测试）" if restricted else f"混沌测试第{number}件")
        if restricted:
            self.restricted.append(ticket.id)
        await server[EXCHANGE].hand_over(ticket, "transfer" if restricted else "push", other_platform(platform))
        self.cases[platform] += 1

    async def transfer_to_110(self, fault: str) -> None:
        """A 12345 caller answered by an agent, then transferred to 110 by the API's path."""
        server = self.servers["12345"]
        site = server.settings.site("12345")
        caller = f"1373{time.time_ns() % 10**7:07d}"
        row: dict[str, Any] = {"fault": fault, "ticket": None, "outcome": "not_answered", "linked": False}
        self.transfers.append(row)
        with server.bus.subscribe() as events:
            self.callers.append(await self.peers.call(site, caller, site.intake, hold_ms=TRANSFER_HOLD_MS))
            answered = await events.wait_for(
                lambda e: e.name == "call.answered" and e.data.get("caller") == caller, 30)
        agent = str(answered.data["answered_by"]).removeprefix("PJSIP/")
        # 110's two chaos seats may both be talking (callers keep coming): busy sends the
        # caller back to the agent, who tries again, as an agent would
        for attempt in range(1, TRANSFER_ATTEMPTS + 1):
            row["attempts"] = attempt
            try:
                transfer = await server[TRANSFERS].blind_transfer(str(answered.data["call_id"]), agent, "110")
                row.update(ticket=transfer.ticket_id, outcome="answered")
                return
            except (TargetBusy, NoAnswer) as exc:
                row["outcome"] = type(exc).__name__
                await self._back_with(server, str(answered.data["call_id"]), agent)
            except CallControlError as exc:
                row["outcome"] = type(exc).__name__
                break
        row["ticket"] = getattr(await server[TICKETS].for_call(str(answered.data["call_id"])), "id", None)

    async def _back_with(self, server: App, call_id: str, agent: str) -> None:
        """Until the caller a transfer sent back is talking to ``agent`` again (or a while)."""
        deadline = time.monotonic() + BACK_WITH_AGENT_S
        while time.monotonic() < deadline:  # a tool: polling the call book is fine
            try:
                server[CALLS].book.on_call(call_id, agent)
                return
            except CallControlError:
                await asyncio.sleep(0.2)

    # --- faults -------------------------------------------------------------------------
    async def fault(self, name: str) -> None:
        """One fault; a step that never ends fails the run with its name, never hangs it."""
        try:
            await asyncio.wait_for(self._fault(name), self.outage_s + DRAIN_TIMEOUT_S + 60)
        except TimeoutError:
            raise RuntimeError(f"fault {name} stuck at step {self.step!r}") from None

    async def _fault(self, name: str) -> None:
        log.info("chaos.fault", fault=name)
        if name == "exchange_link_cut":
            self.step = "cut"
            for proxy in self.proxies.values():
                await proxy.cut()
            await self._outage(name)
            self.step = "restore"
            for proxy in self.proxies.values():
                await proxy.restore()
        else:
            platform = name.rsplit("_", 1)[1]
            self.step = f"stop {platform}"
            await self.stop_server(platform)
            await self._outage(name)
            self.step = f"start {platform}"
            await self.start_server(platform)
        self.step = "drain"
        self.drain_s[name] = await self.drained(time.monotonic())
        log.info("chaos.drained", fault=name, drain_s=self.drain_s[name])

    async def _outage(self, name: str) -> None:
        """``outage_s``, and the fault's transfer (if it has one) to its end, however long
        the transfer takes: it must cross while the fault lasts."""
        transfer = asyncio.create_task(self.transfer_to_110(name)) if name in TRANSFER_DURING else None
        await asyncio.sleep(self.outage_s)
        if transfer is not None:
            self.step = f"transfer during {name}"
            try:
                await transfer
            except Exception as exc:  # a tool: the row says what failed
                self.transfers[-1]["outcome"] = f"{type(exc).__name__}: {exc}"[:200]

    async def backlog(self) -> int:
        return sum([int((await server[EXCHANGE].state())["backlog"]) for server in self.servers.values()])

    async def drained(self, since: float) -> float | None:
        deadline = since + DRAIN_TIMEOUT_S
        while time.monotonic() < deadline:  # a tool, not a test: polling the outboxes is fine
            if len(self.servers) == 2 and await self.backlog() == 0:
                return round(time.monotonic() - since, 3)
            await asyncio.sleep(0.2)
        return None

    # --- the figures --------------------------------------------------------------------
    async def audit_log(self, platform: str) -> list[dict[str, str]]:
        return [fields for _, fields in as_str_entries(await self.servers[platform].redis.xrange(LOG))]

    async def figures(self) -> dict[str, Any]:
        logs = {platform: await self.audit_log(platform) for platform in self.servers}
        sent = {platform: {e["message_id"] for e in rows if e["direction"] == "out" and e["outcome"] == "queued"}
                for platform, rows in logs.items()}
        taken = {platform: Counter(e["message_id"] for e in rows if e["direction"] == "in" and e["outcome"] in TAKEN)
                 for platform, rows in logs.items()}
        delivered = sum(len(ids & set(taken[other_platform(platform)])) for platform, ids in sent.items())
        all_sent = sum(len(ids) for ids in sent.values())
        doubled = sum(n - 1 for counts in taken.values() for n in counts.values() if n > 1)
        leaked = 0
        for platform, server in self.servers.items():
            opened: Counter[str] = Counter()
            async for key in server.redis.scan_iter(f"hl:ticket:{platform}-*", count=1000):
                ticket = await server[TICKETS].get(key.removeprefix("hl:ticket:"))
                if ticket is None or not ticket.source_ticket:
                    continue
                opened[ticket.source_ticket] += 1
                if ticket.source_ticket in self.restricted and _carries_content(ticket):
                    leaked += 1
            doubled += sum(n - 1 for n in opened.values() if n > 1)
            if platform == "110":  # each transfer's 12345 ticket is the source of exactly one 110 ticket
                for row in self.transfers:
                    row["linked"] = row["ticket"] is not None and opened[row["ticket"]] == 1
        return {"messages_sent": all_sent, "messages_delivered": delivered, "messages_lost": all_sent - delivered,
                "messages_doubled": doubled, "restricted_leaked": leaked}

    async def run(self) -> dict[str, Any]:
        sandbox = Sandbox(self.sandbox_settings)
        await asyncio.to_thread(sandbox.up)
        await asyncio.to_thread(sandbox.clear)
        for settings in self.settings.values():  # the run owns both deployments' stores
            client = redis_client(settings, decode_responses=True)
            try:
                await client.flushall()
            finally:
                await client.aclose()
        for proxy in self.proxies.values():
            await proxy.start()
        tasks: list[asyncio.Task[None]] = []
        outcomes: list[int] = []
        try:
            for platform in self.settings:
                await self.start_server(platform)
            await self.start_agents()
            tasks = [asyncio.create_task(self.place_calls()), asyncio.create_task(self.hand_over_cases())]
            await asyncio.sleep(self.calm_s)
            for name in FAULTS:
                await self.fault(name)
                await asyncio.sleep(self.calm_s)
            # re-cancelled until done: Python 3.11's wait_for (in a Redis call of a case) can
            # swallow one cancellation, and the case loop would then go on forever
            await cancel_and_wait(tasks)
            self.drain_s["end"] = await self.drained(time.monotonic())
            outcomes = [await run.finished(30) for run in self.callers]
            figures = await self.figures()
        finally:  # each step on its own: the sandbox is cleared whatever failed before it
            await cancel_and_wait(tasks)
            with contextlib.suppress(asyncio.TimeoutError):
                await self.peers.stop_all()
            for platform in list(self.servers):
                try:
                    await self.stop_server(platform)
                except Exception as exc:
                    log.error("chaos.stop_failed", platform=platform, error=f"{type(exc).__name__}: {exc}"[:200])
            for proxy in self.proxies.values():
                with contextlib.suppress(Exception):
                    await proxy.close()
            await asyncio.to_thread(sandbox.clear)  # no channel or contact left for the next run
        drains = [v for k, v in self.drain_s.items() if k != "end"]
        worst = None if any(v is None for v in drains) else max((v for v in drains if v is not None), default=None)
        return {"deployments": 2, "calls": len(self.callers), "lost_calls": sum(1 for code in outcomes if code != 0),
                "cases": dict(self.cases), "case_errors": dict(self.case_errors), **figures,
                "restricted_cases": len(self.restricted), "faults": list(FAULTS), "drain_s": self.drain_s,
                "max_backlog_drain_s": worst, "transfers": self.transfers}


def _carries_content(ticket: Ticket) -> bool:
    return bool(ticket.category or ticket.summary or ticket.caller or ticket.division_code)


async def run_two_deployment_chaos(settings: Settings, *, rate: float = 1.0, outage_s: float = 5.0,
                                   calm_s: float = 5.0, case_every_s: float = 1.0) -> dict[str, Any]:
    with TemporaryDirectory(prefix="hl-chaos2-") as workdir:
        chaos = TwoDeploymentChaos(settings, Path(workdir), rate, outage_s, calm_s, case_every_s)
        try:
            return await chaos.run()
        finally:
            chaos.peers.kill_all()
