"""Blind transfer of a caller to the other platform (or any directory target).

The agent's channel is handed to AMI ``BlindTransfer`` into the ``transfer-out`` context;
the caller then dials the target with the ticket in SIP headers. AMI events about the
caller's channel drive the pure state machine in ``state``; the API waits for the outcome
(or not, with ``wait="none"``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

import structlog

from call_control import schema
from call_control.calls import Call, CallBook
from call_control.channel_vars import transfer_bundle
from call_control.context import CallControlContext, with_agents_words
from call_control.directory import receiving_platform, resolve_target, target_of_number
from call_control.errors import (
    ERROR_OF_REASON,
    CallControlError,
    CallerHungUp,
    OperationInProgress,
    TargetUnreachable,
)
from call_control.handover import HandoverChannel, send_handover
from call_control.transfer.state import (
    InvalidTransition,
    TransferEvent,
    TransferState,
    advance,
    failure_reason,
)
from hotline_link.asterisk.ami.manager import AmiEvent
from hotline_link.core.errors import AmiDisconnected, AmiError
from hotline_link.core.events import (
    TransferAnswered,
    TransferCallerGone,
    TransferDialling,
    TransferFailed,
    TransferRequested,
    TransferRinging,
    TransferStateEvent,
)
from hotline_link.core.tasks import wait_until
from seat_pool.state import seat_from_device
from tickets.sharing import shared_content
from tickets.store import Ticket

log = structlog.get_logger(__name__)

TRANSFER_EVENTS: dict[TransferState, type[TransferStateEvent]] = {
    TransferState.REQUESTED: TransferRequested, TransferState.DIALLING: TransferDialling,
    TransferState.RINGING: TransferRinging, TransferState.ANSWERED: TransferAnswered,
    TransferState.FAILED: TransferFailed, TransferState.CALLER_GONE: TransferCallerGone}

TRANSFER_CONTEXT = "transfer-out"
TRANSFER_VARIABLE = "HL_XFER"  # the bundle transfer-out unpacks (channel_vars.transfer_bundle)
BRIDGE_RETRIES, BRIDGE_RETRY_S = 10, 0.1


@dataclass
class Transfer:
    id: str
    call_id: str
    site: str
    agent: str
    target: str
    number: str
    ticket_id: str
    caller_uniqueid: str
    requested_at: float
    via: str = "api"
    state: TransferState = TransferState.REQUESTED
    reason: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def view(self) -> schema.Transfer:
        """What the HTTP API shows of the transfer."""
        return schema.Transfer(transfer_id=self.id, call_id=self.call_id, target=self.target,
                               ticket_id=self.ticket_id, state=self.state, reason=self.reason or None)


def require_agent_call(book: CallBook, call_id: str, agent: str) -> tuple[Call, str, str]:
    """The call, the agent's channel name and the caller's (uniqueid, name) - or the error
    an agent should see."""
    call, agent_channel = book.on_call(call_id, agent)
    caller_leg = call.caller_channel
    if caller_leg is None:
        raise CallerHungUp(f"the caller of {call_id} is gone")
    return call, agent_channel, caller_leg[0]


class TransferService:
    def __init__(self, ctx: CallControlContext) -> None:
        self.ctx = ctx
        self._active: dict[tuple[str, str], Transfer] = {}  # (site, caller uniqueid)
        self.handover: HandoverChannel | None = None

    def attach_handover(self, channel: HandoverChannel) -> None:
        """Transfers to the platforms ``channel`` carries send their handover over it."""
        self.handover = channel

    def attach(self) -> None:
        for name in ("DialBegin", "DialEnd", "UserEvent", "Hangup"):
            self.ctx.ami.subscribe(name, self.on_event)
        self.ctx.ami.on_resync(self.on_resync)

    async def on_resync(self, site: str, channels: list[dict[str, str]]) -> None:
        """A caller whose channel went away while AMI was down has hung up."""
        live = {ch.get("Uniqueid") for ch in channels}
        for (t_site, uniqueid), transfer in list(self._active.items()):
            if t_site == site and uniqueid not in live:
                self._apply(transfer, TransferEvent("caller_hangup"))
                self._publish(transfer)

    async def set_ticket_vars(self, site: str, channel: str, ticket: Ticket, call_id: str = "") -> None:
        content = shared_content(ticket)  # a restricted matter travels by its number only
        bundle = transfer_bundle(ticket.id, content.category, content.summary, site,
                                 self.ctx.settings.transfer_ring_s, call_id)
        await self.ctx.ami.send(site, {"Action": "Setvar", "Channel": channel, "Variable": TRANSFER_VARIABLE,
                                   "Value": bundle})

    async def blind_transfer(self, call_id: str, agent: str, target: str, *, wait: str = "answer",
                             category: str | None = None, summary: str | None = None) -> Transfer:
        call, agent_channel, caller_uniqueid = require_agent_call(self.ctx.book, call_id, agent)
        site = self.ctx.settings.site(call.site)
        destination = resolve_target(self.ctx.settings.directory, target, site.intake)
        async with self.ctx.locks.hold(call_id, "transfer"):
            ticket = await with_agents_words(self.ctx, await self.ctx.tickets.open_for_call(site.id, call_id),
                                             agent, category, summary)
            to_platform = receiving_platform(self.ctx.settings.sites, destination)
            await self.ctx.tickets.record_handover(ticket.id, to_platform)
            caller_channel = call.channels.get(caller_uniqueid)
            if caller_channel is None:
                raise CallerHungUp(f"the caller of {call_id} is gone")
            key = (site.id, caller_uniqueid)
            if key in self._active:
                raise OperationInProgress(f"the caller of {call_id} is already being transferred")
            transfer = Transfer(secrets.token_hex(6), call_id, site.id, agent, destination.name,
                                destination.number, ticket.id, caller_uniqueid, time.time())
            self._active[key] = transfer
            # DIALLING before the action: its events can overtake the action's answer
            self._apply(transfer, TransferEvent("accepted"))
            try:
                await self.set_ticket_vars(site.id, caller_channel, ticket, call_id)
                await self._send_blind_transfer(site.id, agent_channel, destination.number)
            except AmiError as exc:
                log.warning("transfer.refused_by_asterisk", call_id=call_id, detail=str(exc))
                self._apply(transfer, TransferEvent("refused", str(exc)))
            else:  # the caller is on the way: only now is there a case to hand over
                await send_handover(self.handover, ticket, "transfer", to_platform, call_id)
            self._publish(transfer)
            if wait != "none":
                await self._wait(transfer, ringing_is_enough=wait == "ring")
        return transfer

    async def phone_transfer(self, site_id: str, caller_uniqueid: str, transferer: str, number: str) -> str:
        """The agent's phone transferred its caller to ``number`` itself (a blind REFER; the
        caller is already in the dialplan, on its way): from here on the same as the one-click
        transfer, its ticket, handover and timeline. Returns HL_XFER for the caller's channel,
        or "" for a call this server does not know (it is transferred all the same)."""
        ref = self.ctx.book.channels.get((site_id, caller_uniqueid))
        agent = seat_from_device(transferer.rsplit("-", 1)[0]) if "-" in transferer else None
        call = self.ctx.book.get(site_id, ref.call_id) if ref is not None else None
        if call is None or agent is None:
            log.warning("transfer.phone_unknown_call", site=site_id, uniqueid=caller_uniqueid,
                        transferer=transferer[:80])
            return ""
        site = self.ctx.settings.site(site_id)
        destination = target_of_number(self.ctx.settings.directory, number)
        key = (site.id, caller_uniqueid)
        try:
            async with self.ctx.locks.hold(call.call_id, "transfer"):
                if key in self._active:
                    raise OperationInProgress(f"the caller of {call.call_id} is already being transferred")
                ticket = await self.ctx.tickets.open_for_call(site.id, call.call_id)
                to_platform = receiving_platform(self.ctx.settings.sites, destination)
                await self.ctx.tickets.record_handover(ticket.id, to_platform)
                transfer = Transfer(secrets.token_hex(6), call.call_id, site.id, agent, destination.name,
                                    destination.number, ticket.id, caller_uniqueid, time.time(), via="phone")
                self._active[key] = transfer
                self._apply(transfer, TransferEvent("accepted"))
                await send_handover(self.handover, ticket, "transfer", to_platform, call.call_id)
                self._publish(transfer)
        except CallControlError as exc:
            log.warning("transfer.phone_not_tracked", call_id=call.call_id, reason=str(exc))
            return ""
        content = shared_content(ticket)
        return transfer_bundle(ticket.id, content.category, content.summary, site.id,
                               self.ctx.settings.transfer_ring_s, call.call_id)

    async def _send_blind_transfer(self, site: str, agent_channel: str, number: str) -> None:
        """BlindTransfer, tried again for a moment if refused: a call answered a few
        milliseconds ago may not be bridged yet, and Asterisk refuses to transfer it."""
        action = {"Action": "BlindTransfer", "Channel": agent_channel, "Context": TRANSFER_CONTEXT,
                  "Exten": number}
        for attempt in range(BRIDGE_RETRIES):
            try:
                await self.ctx.ami.send(site, action)
                return
            except AmiDisconnected:
                raise
            except AmiError:
                if attempt == BRIDGE_RETRIES - 1:
                    raise
                await asyncio.sleep(BRIDGE_RETRY_S)

    async def _wait(self, transfer: Transfer, ringing_is_enough: bool) -> None:
        """Until the outcome (or ringing, if that is enough). Past the wait the transfer is
        still ringing: the caller stays with Asterisk and the API says so (202)."""
        await wait_until(transfer.changed, lambda: transfer.state.final or (
            ringing_is_enough and transfer.state is TransferState.RINGING), self.ctx.settings.transfer_wait_s)
        if transfer.state.final and transfer.state is not TransferState.ANSWERED:
            error = ERROR_OF_REASON.get(transfer.reason, TargetUnreachable)
            raise error(f"transfer of {transfer.call_id} to {transfer.target} failed: "
                        f"{transfer.reason}; the caller went back to agent {transfer.agent}",
                        ) from None

    def _apply(self, transfer: Transfer, event: TransferEvent) -> None:
        try:
            new_state = advance(transfer.state, event)
        except InvalidTransition as exc:
            log.warning("transfer.unexpected_event", call_id=transfer.call_id, detail=str(exc))
            return
        if new_state is transfer.state:
            return
        transfer.state = new_state
        if new_state is TransferState.FAILED:
            transfer.reason = "asterisk_refused" if event.kind == "refused" else failure_reason(event.status)
        elif new_state is TransferState.CALLER_GONE:
            transfer.reason = "caller_gone"
        key = (transfer.site, transfer.caller_uniqueid)
        if new_state.final and self._active.get(key) is transfer:
            del self._active[key]
        transfer.changed.set()
        log.info(f"transfer.{new_state.value}", call_id=transfer.call_id, site=transfer.site,
                 ticket_id=transfer.ticket_id, target=transfer.target, reason=transfer.reason or None,
                 via=transfer.via, ms=round((time.time() - transfer.requested_at) * 1000, 1))

    def _publish(self, transfer: Transfer) -> None:
        self.ctx.bus.emit(TRANSFER_EVENTS[transfer.state](
            agent=transfer.agent, transfer_id=transfer.id, call_id=transfer.call_id, target=transfer.target,
            ticket_id=transfer.ticket_id, state=transfer.state.value, reason=transfer.reason or None,
            via=transfer.via))

    async def on_event(self, event: AmiEvent) -> None:
        transfer = self._active.get((event.site, event.get("Uniqueid")))
        if transfer is None:
            return
        if event.get("DestChannel").startswith(f"PJSIP/{transfer.agent}-"):
            return  # the dialplan ringing the transferring agent back, not the target
        kind = {"DialBegin": "dial_begin", "DialEnd": "dial_end", "Hangup": "caller_hangup"}.get(event.name)
        if event.name == "UserEvent":
            if event.get("UserEvent") != "HotlineTransfer" or event.get("Stage") != "failed":
                return
            kind = "failed"
        before = transfer.state
        self._apply(transfer, TransferEvent(kind or "", event.get("DialStatus") or event.get("Status")))
        if transfer.state is not before:
            self._publish(transfer)
