"""What the exchange-and-calls tests share: the two deployments served and connected (as
``exchange_deployments`` builds them), a call desk on one of them (the real transfer and
three-way call services over a recording stand-in for AMI, the real call book, tickets and
locks on that deployment's redis-server), and the receiving side's route hook over a
stand-in AGI session and router. Nothing of Redis is mocked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agi_scripts.route import RouteHook
from call_control.calls import CallBook
from call_control.channel_vars import encode
from call_control.conference.service import ConferenceService
from call_control.context import CallControlContext
from call_control.locks import CallLocks
from call_control.transfer.service import TransferService
from exchange.messages import Envelope, parse_envelope
from exchange.redis_keys import outbox_message_key
from hotline_link.core.events import CallAnswered
from hotline_link.core.settings import Settings
from tests.unit.exchange_deployments import Deployment
from tests.unit.exchange_samples import NOW
from tests.unit.route_hook_doubles import AgiSession, Router

AGENT_12345 = "1001"
AGENT_110 = "2001"
CALLER = "13812341234"


class RecordingAmi:
    """Asterisk as call control sees it: every action recorded, each answered OK."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.on_send: dict[str, Any] = {}  # action name -> coroutine function run as it is sent

    async def send(self, site: str, action: dict[str, Any], **_: object) -> dict[str, str]:
        self.sent.append(dict(action))
        if action["Action"] in self.on_send:
            await self.on_send[action["Action"]]()
        return {}


@dataclass
class CallDesk:
    """One deployment's call control: a call answered by an agent, transferred or
    conferenced by the real services."""

    one: Deployment
    ami: RecordingAmi = field(default_factory=RecordingAmi)
    book: CallBook = field(default_factory=CallBook)
    transfers: TransferService = field(init=False)
    conferences: ConferenceService = field(init=False)

    def __post_init__(self) -> None:
        ctx = CallControlContext(Settings(ami_secret="x"), self.ami, self.book,  # type: ignore[arg-type]  # stand-in AMI
                                 self.one.tickets, CallLocks(self.one.redis), self.one.bus)
        self.transfers = TransferService(ctx)
        self.conferences = ConferenceService(ctx)

    def attach(self) -> None:
        """As call control's plugin does when the exchange channel runs here."""
        self.transfers.attach_handover(self.one.service)
        self.conferences.attach_handover(self.one.service)

    def answered_call(self, call_id: str, agent: str) -> None:
        """A caller's call on this deployment's site, answered by ``agent``."""
        site = self.one.platform
        agent_leg = f"PJSIP/{agent}-0000002a"
        self.book.channel_up(site, call_id, call_id, "PJSIP/anonymous-00000029", CALLER, site, NOW)
        self.book.channel_up(site, f"{call_id}.1", call_id, agent_leg, CALLER, site, NOW)
        self.book.dial_end(site, call_id, agent_leg, "ANSWER", NOW + 3)


async def outgoing(one: Deployment, message_id: str) -> Envelope | None:
    """The message of ours stored under ``message_id``, if one was queued."""
    raw = await one.redis.hget(outbox_message_key(message_id), "envelope")
    if raw is None:
        return None
    return parse_envelope(raw.encode())


async def queued(one: Deployment, ticket_id: str, type_: str) -> list[dict[str, Any]]:
    """The audit's ``queued`` entries of our messages of ``type_`` about ``ticket_id``."""
    return [e for e in await one.service.audit.messages_about(ticket_id)
            if e["direction"] == "out" and e["type"] == type_ and e["outcome"] == "queued"]


# --- the receiving side's route hook -------------------------------------------------------


def route_hook(one: Deployment, *, attached: bool = True) -> RouteHook:
    """The receiving deployment's route hook, its intake attached as its plugin does."""
    hook = RouteHook(one.tickets, Router(), one.bus)  # type: ignore[arg-type]  # a stand-in router
    if attached:
        hook.attach_intake(one.service)
    return hook


async def arrive(hook: RouteHook, site: str, call_id: str, source: str, source_ticket: str,
                 category: str = "", summary: str = "", source_call: str = "") -> None:
    """A transferred call reaching ``site`` with its X-Ticket-* headers (``source_call``:
    X-Ticket-Call, the sending platform's call)."""
    fields = ";".join([call_id, "", "", "1", source, encode(source_ticket, 64), encode(category, 40),
                       encode(source_call, 64), encode(summary)])
    await hook(AgiSession(fields, site=site, caller=CALLER))  # type: ignore[arg-type]  # a stand-in AGI session


def answered(call_id: str, site: str, agent: str) -> CallAnswered:
    return CallAnswered(call_id=call_id, site=site, caller=CALLER, answered_by=f"PJSIP/{agent}", wait_s=2.0)
