"""What the warm transfer and the phone's keys work with, for unit tests: a recording
stand-in for the AMI manager, tickets and a handover channel that keep what they were
asked, a lock that is always free, the real call book with a caller's call answered by
agent 1001, a real bus, and an AGI session whose variables are a dict. No Asterisk, no
Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from call_control.calls import CallBook
from call_control.config import CallControlConfig  # noqa: F401  (its keys: transfer_wait_s, ...)
from call_control.consult.service import ConsultService
from call_control.context import CallControlContext
from call_control.transfer.service import TransferService
from hotline_link.asterisk.agi.protocol import AgiRequest
from hotline_link.asterisk.ami.manager import AmiEvent
from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.errors import AmiError
from hotline_link.core.settings import Settings
from tickets.store import Ticket

SITE = "12345"
NOW = 1_000.0  # the call book's clock: only differences matter
CALL = "1765100000.1"  # the caller's call (its linkedid)
CALLER = (CALL, "PJSIP/anonymous-00000001")  # (uniqueid, channel name)
AGENT = ("1765100000.2", "PJSIP/1001-00000002")  # agent 1001's answered leg on that call
LEG = "1765100000.3"  # the desk's consult leg (Local/...@desk-consult;2): it runs the AGI and dials
PHONE = ("1765100000.4", "PJSIP/1001-00000004")  # the agent's phone dialling another site itself
TICKET = Ticket(id="12345-20261207-000001", site=SITE, call_id=CALL, category="治安", summary="有人砸车")
# names differ from numbers, so a test tells which one went where
DIRECTORY = {"police": "110", "fire": "119", "12345": "12345"}


class RecordingAmi:
    """Asterisk as call control sees it: every action recorded (with send's options) and
    answered OK, unless its name is in ``refuse``; ``on_send`` runs as an action is sent
    (what Asterisk does meanwhile: the events it sends)."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.sent: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.refuse: set[str] = set()
        self.on_send: dict[str, Callable[[], Awaitable[None]]] = {}
        self.subscribed: list[str] = []
        self.resync_handlers: list[object] = []

    async def send(self, site: str, action: dict[str, Any], **options: Any) -> dict[str, str]:
        assert site == SITE
        self.sent.append((dict(action), options))
        self.log.append(action["Action"])
        if action["Action"] in self.refuse:
            raise AmiError(f"{action['Action']}: Failed")
        hook = self.on_send.get(action["Action"])
        if hook is not None:
            await hook()
        return {"Response": "Success"}

    def actions(self, name: str) -> list[dict[str, Any]]:
        return [action for action, _ in self.sent if action["Action"] == name]

    def subscribe(self, name: str, handler: object) -> None:
        self.subscribed.append(name)

    def on_resync(self, handler: object) -> None:
        self.resync_handlers.append(handler)


class Tickets:
    """The call's ticket, and the handovers recorded (what TicketStore would write)."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.ticket = TICKET
        self.handovers: list[tuple[str, str]] = []

    async def open_for_call(self, site: str, call_id: str, **_: Any) -> Ticket:
        assert (site, call_id) == (SITE, CALL)
        return self.ticket

    async def record_handover(self, ticket_id: str, to_platform: str) -> None:
        self.handovers.append((ticket_id, to_platform))
        self.log.append("record_handover")

    async def get(self, ticket_id: str) -> Ticket | None:
        return self.ticket if ticket_id == self.ticket.id else None

    async def update(self, ticket: Ticket, **changes: Any) -> Ticket:
        self.ticket = replace(ticket, **{k: v for k, v in changes.items() if v is not None})
        return self.ticket


class Handover:
    """The exchange channel: carries cases to 110 only."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str, str]] = []
        self.arrived = asyncio.Event()

    def carries(self, to_platform: str) -> bool:
        return to_platform == "110"

    async def hand_over_call(self, ticket: Ticket, mode: str, to_platform: str, call_id: str) -> object:
        self.sent.append((ticket.id, mode, to_platform, call_id))
        self.arrived.set()
        return None


class Locks:
    def __init__(self) -> None:
        self.held: list[tuple[str, str]] = []

    @asynccontextmanager
    async def hold(self, call_id: str, operation: str) -> AsyncIterator[None]:
        self.held.append((call_id, operation))
        yield


def answered_call(book: CallBook, *, site: str = SITE, agent_leg: str = AGENT[1], answered: bool = True) -> None:
    """The caller's call on ``site``, ``agent_leg`` ringing it (and answered, if so)."""
    book.channel_up(site, CALL, CALL, CALLER[1], "13812341234", site, NOW)
    book.channel_up(site, AGENT[0], CALL, agent_leg, "13812341234", site, NOW)
    if answered:
        book.dial_end(site, CALL, agent_leg, "ANSWER", NOW + 3)


@dataclass
class Desk:
    """Call control of site 12345 over the stand-ins: the consult and transfer services."""

    transfer_wait_s: float = 1.0
    log: list[str] = field(default_factory=list)  # tickets' and AMI's calls, in order
    book: CallBook = field(default_factory=CallBook)
    bus: EventBus = field(default_factory=EventBus)
    locks: Locks = field(default_factory=Locks)
    handover: Handover = field(default_factory=Handover)
    published: list[BusEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ami = RecordingAmi(self.log)
        self.tickets = Tickets(self.log)
        self.bus.listen(self.published.append)
        settings = Settings(ami_secret="x", transfer_wait_s=self.transfer_wait_s, directory=dict(DIRECTORY))
        self.ctx = CallControlContext(settings, self.ami, self.book, self.tickets,  # type: ignore[arg-type]
                                      self.locks, self.bus)  # type: ignore[arg-type]  # stand-ins
        self.consults = ConsultService(self.ctx)
        self.consults.attach_handover(self.handover)
        self.transfers = TransferService(self.ctx)
        self.transfers.attach_handover(self.handover)

    def transfer_events(self) -> list[tuple[str, str, str | None, str]]:
        """(name, state, reason, via) of every transfer event published."""
        return [(e.name, e.data["state"], e.data["reason"], e.data["via"]) for e in self.published
                if e.name.startswith("transfer.")]

    async def event(self, name: str, **fields: str) -> None:
        """An AMI event of site 12345 reaching the consult service."""
        await self.consults.on_event(AmiEvent(SITE, name, fields))


async def settle() -> None:
    """Let the tasks a service started (the handover, the Setvar) run: no stand-in waits."""
    for _ in range(5):
        await asyncio.sleep(0)


class Session:
    """An AGI session: its request (``args``, ``uniqueid``) and channel variables."""

    def __init__(self, *args: str, uniqueid: str = CALL, variables: dict[str, str] | None = None) -> None:
        self.request = AgiRequest(env={"agi_network_script": "x", "agi_uniqueid": uniqueid}, args=args)
        self.variables = dict(variables or {})
        self.asked: list[str] = []
        self.set: dict[str, str] = {}

    async def get_variable(self, name: str) -> str:
        self.asked.append(name)
        return self.variables.get(name, "")

    async def set_variable(self, name: str, value: str) -> None:
        self.set[name] = value
