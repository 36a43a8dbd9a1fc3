"""``hotline-link demo``: the sandbox, two deployments, softphones and a few real SIP calls.

Brings up the three sites and the Redis servers, then runs what two agencies run (双网双中心):
the 12345 deployment (sites 12345 and remote, its own Redis) and the 110 deployment (site
110, its own Redis), joined only by the SIP trunk and the signed exchange channel
(``devtools.sandbox.deployments``). It registers SIPp softphones as agents of both, places
calls from (made-up) mobile numbers to both platforms, prints how each was routed, answered
and ended, then the heart of the mission, each told from the ticket's timeline: a 12345
caller transferred to 110 with its ticket (一键转接: the 110 deployment opens its ticket
naming the source and signs for it, 签收), 110 sending the case to the police and the
feedback coming back into the 12345 ticket (反馈回写), and a three-way call (三方通话) that
the 12345 agent leaves while the caller stays with 110. It follows one 12345 case on to a
handling unit (dispatch by phone, accepted by key 1, arrival by the feedback line with a
voice note, result), then keeps both servers running until Ctrl-C so a real softphone can
register and call in.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

from call_control.keys import CONFERENCES, TRANSFERS
from devtools.sandbox import Sandbox, deployments
from devtools.sip.contacts import wait_reachable
from devtools.sip.dtmf import VOICE, keyed
from devtools.sip.peers import SipPeers, SippRun, free_udp_port
from hotline_link.app import App
from hotline_link.asterisk.render import handset_port
from hotline_link.core.bus import Subscription
from hotline_link.core.logs import configure_logging, mask_number
from hotline_link.core.settings import Settings, agent_password, read_secret_file
from hotline_link.core.tasks import cancel_and_wait
from hotline_link.web.auth import sandbox_token
from linkage.feedback_line import pin_key
from linkage.keys import LINKAGE
from linkage.phone import digits_of
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.state import SeatState
from tickets.keys import TICKETS, TIMELINE

DEMO_AGENTS = {"12345": ("1001", "1002"), "110": ("2001",)}
STORY_CALLS = 10  # headroom for the transfer and three-way stories (a ring-all rings every seat)
LIVE_CALLS, LIVE_EVERY_S = 500, 15  # calls placed while the demo stays up, for the supervisor page


@dataclass
class CallOutcome:
    caller: str
    dialled: str
    call_id: str = "-"
    seat: str | None = None
    answered_by: str | None = None
    wait_s: float | None = None
    duration_s: float | None = None
    sipp_exit: int | None = None


def _out(text: str = "") -> None:
    print(text, flush=True)


async def _follow(events: Subscription, outcome: CallOutcome, timeout: float) -> None:
    started = await events.wait_for(
        lambda e: e.name == "call.started" and e.data.get("caller") == outcome.caller, timeout)
    outcome.call_id = started.data["call_id"]
    ended = await events.wait_for(
        lambda e: e.name == "call.ended" and e.data.get("call_id") == outcome.call_id, timeout)
    outcome.duration_s = ended.data["duration_s"]
    outcome.answered_by = ended.data.get("answered_by")
    for event in events.seen:
        if event.data.get("call_id") != outcome.call_id:
            continue
        if event.name == "call.routed":
            outcome.seat = event.data.get("seat")
        elif event.name == "call.answered":
            outcome.wait_s = event.data.get("wait_s")


async def _place_calls(servers: dict[str, App], peers: SipPeers, count: int) -> list[CallOutcome]:
    """Calls to both platforms, each followed on the bus of the deployment it reaches."""
    rng = random.Random()
    outcomes = [CallOutcome(caller=f"139{rng.randrange(10**8):08d}",
                            dialled="110" if i % 3 == 2 else "12345") for i in range(count)]
    with servers["12345"].bus.subscribe() as hotline_events, servers["110"].bus.subscribe() as police_events:
        events = {"12345": hotline_events, "110": police_events}
        runs = []
        for outcome in outcomes:
            site = servers[outcome.dialled].settings.site(outcome.dialled)
            runs.append(await peers.call(site, outcome.caller, outcome.dialled, hold_ms=2000))
            await asyncio.wait_for(_follow_started(events[outcome.dialled], outcome.caller), 10)
        await asyncio.gather(*(_follow(events[o.dialled], o, 60) for o in outcomes))
        for outcome, run in zip(outcomes, runs, strict=True):
            outcome.sipp_exit = await run.finished(30)
    return outcomes


async def _follow_started(events: Subscription, caller: str) -> None:
    await events.wait_for(lambda e: e.name == "call.started" and e.data.get("caller") == caller, 10)


def _report(outcomes: list[CallOutcome]) -> int:
    _out(f"{'caller':<14} {'dialled':<8} {'call_id':<26} {'routed to':<10} "
         f"{'answered by':<12} {'wait s':>6} {'talk s':>6}  sipp")
    for o in outcomes:
        _out(f"{mask_number(o.caller):<14} {o.dialled:<8} {o.call_id:<26} {o.seat or 'ring-all':<10} "
             f"{o.answered_by!s:<12} {o.wait_s if o.wait_s is not None else '-':>6} "
             f"{o.duration_s if o.duration_s is not None else '-':>6}  "
             f"{'ok' if o.sipp_exit == 0 else f'exit {o.sipp_exit}'}")
    good = sum(1 for o in outcomes if o.answered_by and o.sipp_exit == 0)
    _out(f"\n{good} of {len(outcomes)} calls were routed, answered by an agent and hung up cleanly.")
    return 0 if good == len(outcomes) else 1


async def _closed_loop(server: App, peers: SipPeers, outcomes: list[CallOutcome]) -> None:
    """One case on from the call to a handling unit: its ticket goes to the water company by
    phone (a SIPp handset plays the duty phone and presses 1), which reports arrival and
    result; the ticket's linkage steps are printed from its timeline."""
    answered = next((o for o in outcomes if o.dialled == "12345" and o.answered_by), None)
    ticket = await server[TICKETS].for_call(answered.call_id) if answered else None
    if ticket is None:
        _out("== closed loop: no answered 12345 call to follow")
        return
    ticket = await server[TICKETS].update(ticket, category="供水", summary="小区停水（演示）")
    settings = server.settings
    handset = await peers.handset(settings.site(settings.public_network_site), handset_port(settings),
                                  [(1500, "1")])
    _out(f"== closed loop: ticket {ticket.id} dispatched to QD-WATER by phone (duty line 77010)")
    with server.bus.subscribe() as events:
        await server[LINKAGE].dispatch(ticket, "QD-WATER", by="demo")
        await events.wait_for(lambda e: e.name == "linkage.accepted" and e.data.get("ticket_id") == ticket.id, 60)
    await handset.finished(30)
    await _arrival_by_feedback_line(server, peers, ticket.id)
    await server[LINKAGE].feedback(ticket.id, "QD-WATER", "result", {"resolved": True, "summary": "已恢复供水"})
    story = await server[TIMELINE].for_ticket(ticket.id) or {"events": []}
    for entry in story["events"]:
        if entry["event"].startswith("linkage."):
            _out(f"   {entry['event']:<26} {_step_detail(entry['data'])}")
    phone = server[LINKAGE].phone
    ask = await phone.get(ticket.id) if phone else None
    if ask and ask["kind"] == "callback":
        _out(f"   回访 call to {mask_number(ticket.caller)}: {ask['state']} (within the calling hours)")


async def _arrival_by_feedback_line(server: App, peers: SipPeers, ticket_id: str) -> None:
    """The water company reports arrival by calling 12345's feedback line (123459): the
    ticket number, its PIN from the sandbox's secrets file, 1 (on scene) and a voice note."""
    pin = read_secret_file(server.settings.secrets_file).get(pin_key("QD-WATER"), "")
    keys = keyed(digits_of(ticket_id), 1500) + keyed(pin, 1000) + [(1000, "1"), (9000, VOICE), (8000, "#")]
    _out("   QD-WATER calls the feedback line 123459: ticket number, PIN, 1 (on scene), a voice note")
    with server.bus.subscribe() as events:
        unit_phone = await peers.call_dtmf(server.settings.site("12345"), "0513777010", "123459", keys,
                                           hold_ms=None, wait_bye_s=40)
        await events.wait_for(lambda e: e.name == "linkage.arrived" and e.data.get("ticket_id") == ticket_id, 60)
    await unit_phone.finished(40)


_STORY_KEYS = ("answered_by", "seat", "agent", "target", "party", "parties", "reason", "ticket_id", "mode",
               "receiver_ticket", "accepted_by")


def _print_story(story: dict[str, Any], start: float) -> None:
    """A ticket's timeline as short lines: seconds since ``start``, event, site, details."""
    for entry in story["events"]:
        data = entry["data"]
        detail = " ".join(f"{k}={data[k]}" for k in _STORY_KEYS if data.get(k) not in (None, "", []))
        _out(f"   +{entry['at'] - start:5.1f}s {entry['event']:<20} {data.get('site', ''):<6} {detail}")


async def _answered_12345_call(server: App, peers: SipPeers, hold_ms: int) -> tuple[str, str, SippRun]:
    """A new 12345 caller, answered: (call id, agent, the caller's SIPp)."""
    caller = f"139{random.randrange(10**8):08d}"
    with server.bus.subscribe() as events:
        run = await peers.call(server.settings.site("12345"), caller, "12345", hold_ms=hold_ms)
        started = await events.wait_for(lambda e: e.name == "call.started" and e.data.get("caller") == caller, 15)
        call_id = started.data["call_id"]
        answered = await events.wait_for(lambda e: e.name == "call.answered" and e.data.get("call_id") == call_id, 15)
    return call_id, str(answered.data["answered_by"]).split("/")[-1], run


async def _story_until(server: App, ticket_id: str, done: Any, timeout_s: float = 30) -> dict[str, Any]:
    """The ticket's timeline once ``done(events)`` holds (messages cross between the
    deployments in their own time), or as it stands after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        await server[TIMELINE].flush(10)
        story = await server[TIMELINE].for_ticket(ticket_id) or {"events": [], "related_tickets": []}
        if done(story["events"]) or time.monotonic() > deadline:
            return story
        await asyncio.sleep(0.5)


def _has(name: str, **data: Any) -> Any:
    return lambda events: any(e["event"] == name and all(e["data"].get(k) == v for k, v in data.items())
                              for e in events)


async def _transfer_story(servers: dict[str, App], peers: SipPeers) -> tuple[bool, str, str]:
    """一键转接: a 12345 agent sends a caller to 110 in one action; the ticket rides along
    on the trunk, the case on the exchange channel, and 110's 签收 comes back. (ok, the
    12345 ticket, the 110 ticket)."""
    hotline, police = servers["12345"], servers["110"]
    _out("\n== one-click transfer (一键转接): a 12345 caller sent to the 110 deployment with the ticket")
    start = time.time()
    call_id, agent, run = await _answered_12345_call(hotline, peers, hold_ms=7000)
    ticket = await hotline[TICKETS].open_for_call("12345", call_id)
    ticket = await hotline[TICKETS].update(ticket, category="治安", summary="小区门口有人持刀争吵（演示）")
    transfer = await hotline[TRANSFERS].blind_transfer(call_id, agent, "110", wait="answer")
    code = await run.finished(30)
    story = await _story_until(hotline, ticket.id, _has("exchange.received.received"))
    _print_story(story, start)
    signed = [e["data"] for e in story["events"] if e["event"] == "exchange.received.received"]
    other = await police[TICKETS].get(str(signed[-1]["receiver_ticket"])) if signed else None
    if other is not None:
        _out(f"   110 deployment's ticket {other.id}: source {other.source_platform} {other.source_ticket}, "
             f"category {other.category or '-'}, signed for by {signed[-1]['accepted_by']}")
    ok = transfer.state.value == "answered" and code == 0 and other is not None and other.source_ticket == ticket.id
    _out(f"   {'ok' if ok else 'FAILED'}: transfer {transfer.state.value}, caller sipp exit {code}")
    return ok, ticket.id, other.id if other is not None else ""


async def _feedback_story(servers: dict[str, App], peers: SipPeers, ticket_12345: str, ticket_110: str) -> bool:
    """反馈回写: the 110 deployment sends its case to the police (the duty phone presses 1),
    who report arrival and result; each step comes back over the exchange channel into the
    12345 ticket's story."""
    hotline, police = servers["12345"], servers["110"]
    _out("\n== feedback written back (反馈回写): 110 dispatches the case; 12345's ticket hears each step")
    ticket = await police[TICKETS].get(ticket_110) if ticket_110 else None
    if ticket is None:
        _out("   FAILED: no 110 ticket to follow")
        return False
    start = time.time()
    settings = hotline.settings  # the sandbox's handsets answer on its public network site
    handset = await peers.handset(settings.site(settings.public_network_site), handset_port(settings), [(1500, "1")])
    with police.bus.subscribe() as events:
        await police[LINKAGE].dispatch(ticket, "QD-POLICE", by="demo")
        await events.wait_for(lambda e: e.name == "linkage.accepted" and e.data.get("ticket_id") == ticket.id, 60)
    await handset.finished(30)
    await police[LINKAGE].feedback(ticket.id, "QD-POLICE", "arrival", {"situation": "民警已到场"})
    await police[LINKAGE].feedback(ticket.id, "QD-POLICE", "result", {"resolved": True, "summary": "纠纷已调解"})
    story = await _story_until(hotline, ticket_12345, _has("exchange.received.status", stage="result"))
    for entry in story["events"]:
        if entry["event"] == "exchange.received.status":
            data = entry["data"]
            _out(f"   +{entry['at'] - start:5.1f}s 12345 hears: {data.get('stage', ''):<10} "
                 f"{data.get('unit', '')} {data.get('detail', '')}".rstrip())
    stages = {e["data"].get("stage") for e in story["events"] if e["event"] == "exchange.received.status"}
    ok = {"dispatched", "accepted", "arrived", "result"} <= stages
    _out(f"   {'ok' if ok else 'FAILED'}: 12345's ticket {ticket_12345} heard {', '.join(sorted(stages)) or 'nothing'}")
    return ok


async def _three_way_story(server: App, peers: SipPeers) -> bool:
    """三方通话: caller, 12345 and 110 together; the 12345 agent leaves, the caller stays
    (told by the 12345 deployment: the 110 agent joins over the trunk)."""
    _out("\n== three-way call (三方通话): 110 joins, then the 12345 agent leaves")
    start = time.time()
    call_id, agent, run = await _answered_12345_call(server, peers, hold_ms=9000)
    with server.bus.subscribe() as events:
        conference = await server[CONFERENCES].start(call_id, agent, "110")
        await asyncio.sleep(1.5)  # the three talk
        await server[CONFERENCES].leave(call_id, agent, agent)
        await events.wait_for(lambda e: e.name == "conference.left" and e.data.get("call_id") == call_id, 10)
    code = await run.finished(30)
    await server[TIMELINE].flush(10)
    story = await server[TIMELINE].for_ticket(conference.ticket_id) or {"events": []}
    _print_story(story, start)
    left = [e for e in story["events"] if e["event"] == "conference.left"]
    ok = code == 0 and bool(left)
    _out(f"   {'ok' if ok else 'FAILED'}: the caller stayed with 110 until hanging up (sipp exit {code})")
    return ok


def _step_detail(data: dict[str, object]) -> str:
    keys = ("unit", "mode", "attempt", "number", "outcome", "key", "situation", "resolved", "on_time", "note",
            "seconds")
    return " ".join(f"{k}={data[k]}" for k in keys if k in data)


async def _live_calls(servers: dict[str, App], peers: SipPeers) -> None:
    """One call every LIVE_EVERY_S seconds, to 12345 and 110 in turn, while the demo waits."""
    rng = random.Random()
    for n in range(LIVE_CALLS):
        dialled = "110" if n % 3 == 2 else "12345"
        await peers.call(servers[dialled].settings.site(dialled), f"139{rng.randrange(10**8):08d}", dialled,
                         hold_ms=rng.randrange(8000, 20000))
        await asyncio.sleep(LIVE_EVERY_S)


async def _wait_for_ctrl_c() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def run_demo(settings: Settings, calls: int = 3, keep_running: bool = True) -> int:
    configure_logging(settings.log_level, stream=sys.stderr)
    _out("== hotline-link demo: bringing up the sandbox (first run builds Asterisk 22, ~1 min)")
    sandbox = Sandbox(settings)
    status = await asyncio.to_thread(sandbox.up)
    await asyncio.to_thread(sandbox.clear)  # no ghost call or dead softphone of an earlier run
    secrets = read_secret_file(settings.secrets_file)
    for site in status.sites:
        _out(f"   site {site.site_id:<7} Asterisk pid {site.pid}, AMI up: {site.ami_open}")
    servers = {platform: App(one) for platform, one in deployments.load_deployments(settings.state_dir).items()}
    for platform, server in servers.items():
        await server.start()
        await server.ami.wait_connected(15)
        own = server.settings
        _out(f"   the {platform} deployment: sites {', '.join(s.id for s in own.sites)}, its own Redis "
             f"{own.redis_url.rsplit('@', 1)[-1]}, http://{own.http_host}:{own.http_port}, FastAGI {own.agi_port}")
    hotline = servers["12345"]
    peers = SipPeers(settings.state_dir / "demo-sipp")
    registered: list[tuple[str, str, int]] = []
    try:
        for site_id, agents in DEMO_AGENTS.items():
            server = servers[site_id]
            for agent in agents:
                port = free_udp_port()
                await peers.register(server.settings.site(site_id), agent, agent_password(secrets, site_id, agent),
                                     port)
                registered.append((site_id, agent, port))
                # while the demo stays up, the softphones keep answering the supervisor page's live calls
                await peers.answer(server.settings.site(site_id), agent, port,
                                   calls=calls + STORY_CALLS + (LIVE_CALLS if keep_running else 0),
                                   timeout_s=3600)
                await wait_reachable(server.ami.send, site_id, agent)
                await server[SEAT_REGISTRY].wait_for_state(site_id, agent, SeatState.IDLE, 10)
        _out(f"== softphones registered: {', '.join(f'{a}@{s}' for s, a, _ in registered)}")
        _out(f"== placing {calls} real SIP calls")
        outcomes = await _place_calls(servers, peers, calls)
        code = _report(outcomes)
        transferred, ticket_12345, ticket_110 = await _transfer_story(servers, peers)
        if not transferred or not await _feedback_story(servers, peers, ticket_12345, ticket_110):
            code = 1
        if not await _three_way_story(hotline, peers):
            code = 1
        await _closed_loop(hotline, peers, outcomes)
        if keep_running:
            for platform, server in servers.items():
                own = server.settings
                token = sandbox_token(own.tokens_path, role="supervisor")
                _out(f"\n== the {platform} deployment running: http://{own.http_host}:{own.http_port}/health\n"
                     f"   supervisor page (live): http://{own.http_host}:{own.http_port}/supervisor?token={token}")
                for own_site in own.sites:
                    for agent in own_site.webrtc_agents[:1]:  # the desk with its browser phone
                        desk = sandbox_token(own.tokens_path, role="agent", agent=agent)
                        _out(f"   agent desk (坐席工作台, agent {agent}, browser phone): "
                             f"http://{own.http_host}:{own.http_port}/desk?token={desk}\n"
                             f"     (the browser must accept the sandbox's certificate once: open "
                             f"https://{own_site.host}:{own_site.wss_port}/ws and accept it)")
            intake = hotline.settings.site("12345")
            _out(f"   register a softphone to {intake.host}:{intake.sip_port} as 1003..1005 (password: "
                 f"agent_password_12345_<agent> in {settings.secrets_file}) and dial 12345; "
                 f"a call every {LIVE_EVERY_S} s keeps the pages moving")
            _out("   Ctrl-C to stop (the sandbox keeps running; 'hotline-link sandbox down' stops it)")
            live = asyncio.create_task(_live_calls(servers, peers))
            try:
                await _wait_for_ctrl_c()
            finally:
                await cancel_and_wait([live])
        return code
    finally:
        await peers.stop_all()
        for server in servers.values():
            await server.stop()
        await asyncio.to_thread(sandbox.clear)  # its calls hung up, its softphones unregistered
