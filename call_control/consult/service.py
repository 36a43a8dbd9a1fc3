"""Warm transfer (咨询转接): the desk's consult and the phone's own attended transfer.

From the desk, AMI ``Atxfer`` on the agent's channel puts the caller on hold (music) and
dials the target through ``[desk-consult]``; ``complete`` hangs up the agent's channel,
which joins caller and target; ``cancel`` is AMI ``CancelAtxfer``, which returns the agent
to the caller. From the phone, the agent dials another site while on a call, then sends a
REFER with Replaces; Asterisk joins the two calls itself.

Either way the consult leg asks FastAGI ``consult`` for the call's ticket (its X-Ticket-*
headers), and AMI events on the leg and on the agent's channel drive the pure state machine
in ``state``. The handover is sent, and the timeline told, only once the caller is with the
target: a consult that was cancelled hands nothing over.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

import structlog

from call_control import schema
from call_control.consult.state import (
    ConsultEvent,
    ConsultState,
    InvalidTransition,
    advance,
)
from call_control.context import CallControlContext, with_agents_words
from call_control.directory import Target, receiving_platform, resolve_target, target_of_number
from call_control.errors import (
    ERROR_OF_REASON,
    ConsultNotAnswered,
    NoConsult,
    OperationInProgress,
    TargetUnreachable,
)
from call_control.handover import HandoverChannel, send_handover
from call_control.recording import stop_recording
from call_control.transfer.service import TRANSFER_EVENTS, require_agent_call
from call_control.transfer.state import TransferState, failure_reason
from hotline_link.asterisk.ami.manager import AmiEvent
from hotline_link.core.errors import AmiError
from hotline_link.core.tasks import wait_until
from seat_pool.state import seat_from_device
from tickets.sharing import shared_content

log = structlog.get_logger(__name__)

CONSULT_CONTEXT = "desk-consult"
PHONE_TRANSFER_CONTEXT = "phone-transfer"  # what agent endpoints set (pjsip.conf set_var)
REJOIN_WAIT_S = 3.0  # CancelAtxfer answers before the agent is back with the caller
# after a consult ends Asterisk's transfer machinery lets go of the agent's channel a moment
# later; an Atxfer sent before that is swallowed (seen on Asterisk 22)
SETTLE_S = 1.0
ATTENDED_VERDICT_S = 0.5
MAX_REMEMBERED = 10_000
# the timeline's transfer event for each end of a consult ("cancelled" and "failed" both
# leave the caller with the agent, as a failed transfer does)
_AS_TRANSFER = {ConsultState.DIALLING: TransferState.DIALLING, ConsultState.TALKING: TransferState.RINGING,
                ConsultState.COMPLETED: TransferState.ANSWERED, ConsultState.CANCELLED: TransferState.FAILED,
                ConsultState.FAILED: TransferState.FAILED, ConsultState.CALLER_GONE: TransferState.CALLER_GONE}


@dataclass
class Consult:
    id: str
    call_id: str
    site: str
    agent: str
    agent_channel: str  # the agent's leg on the caller's call (the transferer)
    target: str
    number: str
    ticket_id: str
    category: str
    summary: str
    via: str  # "consult" (the desk, API) | "attended" (the phone's own)
    requested_at: float
    leg_uniqueid: str = ""  # the leg that dials the target
    state: ConsultState = ConsultState.REQUESTED
    reason: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    rejoined: asyncio.Event = field(default_factory=asyncio.Event)  # the agent's leg entered a bridge
    leg_gone: asyncio.Event = field(default_factory=asyncio.Event)
    cancelling: bool = False  # the agent asked to go back: a rejoin is that, not the target leaving

    def view(self) -> schema.Consult:
        return schema.Consult(consult_id=self.id, call_id=self.call_id, target=self.target,
                              ticket_id=self.ticket_id, state=self.state, reason=self.reason or None)


@dataclass(frozen=True)
class ConsultLeg:
    """What the consult leg carries to the target (its X-Ticket-* headers)."""

    call_id: str
    ticket_id: str
    category: str
    summary: str


class ConsultService:
    def __init__(self, ctx: CallControlContext) -> None:
        self.ctx = ctx
        self._by_transferer: dict[tuple[str, str], Consult] = {}  # (site, agent channel)
        self._by_leg: dict[tuple[str, str], Consult] = {}  # (site, leg uniqueid)
        self._by_caller: dict[tuple[str, str], Consult] = {}  # (site, caller uniqueid)
        self._ended_at: dict[tuple[str, str], float] = {}  # (site, agent channel): its last consult's end
        self.handover: HandoverChannel | None = None

    def attach_handover(self, channel: HandoverChannel) -> None:
        self.handover = channel

    def attach(self) -> None:
        for name in ("DialEnd", "Hangup", "AttendedTransfer", "BridgeEnter"):
            self.ctx.ami.subscribe(name, self.on_event)
        self.ctx.ami.on_resync(self.on_resync)

    def of_call(self, call_id: str) -> Consult | None:
        return next((c for c in self._by_transferer.values() if c.call_id == call_id), None)

    # --- the desk (API) ---------------------------------------------------------------

    async def start(self, call_id: str, agent: str, target: str, *, category: str | None = None,
                    summary: str | None = None) -> Consult:
        """Put the caller on hold and ring ``target`` with the ticket; returns once the
        target answered (or the consult failed: the caller is back with the agent)."""
        call, agent_channel, caller_uniqueid = require_agent_call(self.ctx.book, call_id, agent)
        site = self.ctx.settings.site(call.site)
        destination = resolve_target(self.ctx.settings.directory, target, site.intake)
        ended_at = self._ended_at.pop((site.id, agent_channel), None)
        if ended_at is not None:
            await asyncio.sleep(max(0.0, ended_at + SETTLE_S - time.monotonic()))
        async with self.ctx.locks.hold(call_id, "transfer"):
            if (site.id, agent_channel) in self._by_transferer:
                raise OperationInProgress(f"agent {agent} is already consulting on {call_id}")
            ticket = await with_agents_words(self.ctx, await self.ctx.tickets.open_for_call(site.id, call_id),
                                             agent, category, summary)
            content = shared_content(ticket)
            # the target's platform links the consult leg's headers to this case only if sent
            await self.ctx.tickets.record_handover(ticket.id, receiving_platform(self.ctx.settings.sites,
                                                                                 destination))
            consult = Consult(secrets.token_hex(6), call_id, site.id, agent, agent_channel, destination.name,
                              destination.number, ticket.id, content.category, content.summary, "consult",
                              time.time())
            self._track(consult, caller_uniqueid)
            try:
                await self.ctx.ami.send(site.id, {"Action": "Atxfer", "Channel": agent_channel,
                                                  "Exten": destination.number, "Context": CONSULT_CONTEXT},
                                        as_list=False)
            except AmiError as exc:
                log.warning("consult.refused_by_asterisk", call_id=call_id, detail=str(exc))
                self._apply(consult, ConsultEvent("refused", str(exc)))
        await wait_until(consult.changed, lambda: consult.state.final or consult.state is ConsultState.TALKING,
                         self.ctx.settings.transfer_wait_s)
        if consult.state is ConsultState.REQUESTED:  # Asterisk took the action and did nothing
            log.warning("consult.never_dialled", call_id=call_id, agent=agent)
            self._apply(consult, ConsultEvent("refused", "no consult leg"))
        self._raise_if_failed(consult)
        return consult

    async def complete(self, call_id: str, agent: str) -> Consult:
        """Join the caller and the target, and free the agent."""
        consult = self._agents_consult(call_id, agent)
        if consult.state is not ConsultState.TALKING:
            raise ConsultNotAnswered(f"the target of the consult on {call_id} has not answered yet: "
                                     "wait, cancel, or transfer blind")
        await self.ctx.ami.send(consult.site, {"Action": "Hangup", "Channel": consult.agent_channel})
        await wait_until(consult.changed, lambda: consult.state.final, self.ctx.settings.transfer_wait_s)
        return consult

    async def cancel(self, call_id: str, agent: str) -> Consult:
        """Back to the caller; the consult leg is hung up. Answers once the agent's channel
        is in the caller's bridge again, so the next action (another consult, a transfer)
        finds the call as it was."""
        consult = self._agents_consult(call_id, agent)
        consult.rejoined.clear()
        consult.cancelling = True
        try:
            await self.ctx.ami.send(consult.site, {"Action": "CancelAtxfer", "Channel": consult.agent_channel},
                                    as_list=False)
        except AmiError:
            consult.cancelling = False  # nothing was cancelled: the target leaving is that again
            raise
        try:  # and the consult leg is gone: till then Asterisk's transfer still holds the agent's keys
            await asyncio.wait_for(asyncio.gather(consult.rejoined.wait(), consult.leg_gone.wait()), REJOIN_WAIT_S)
        except TimeoutError:
            log.warning("consult.rejoin_not_seen", call_id=call_id, agent=agent)
        self._apply(consult, ConsultEvent("cancel"))
        return consult

    def _agents_consult(self, call_id: str, agent: str) -> Consult:
        consult = self.of_call(call_id)
        if consult is None or consult.agent != agent:
            raise NoConsult(f"agent {agent} has no consult on call {call_id}")
        return consult

    def _raise_if_failed(self, consult: Consult) -> None:
        """The error for a consult that ended without the target; one the agent cancelled
        (from another click while this request waited) is no error: its answer says so."""
        if consult.state is ConsultState.CANCELLED and consult.reason == "cancelled":
            return
        if consult.state.final and consult.state is not ConsultState.COMPLETED:
            error = ERROR_OF_REASON.get(consult.reason, TargetUnreachable)
            raise error(f"consult of {consult.target} on {consult.call_id} failed: {consult.reason}; "
                        f"the caller is back with agent {consult.agent}")

    # --- the consult leg (FastAGI) ----------------------------------------------------

    async def consult_leg(self, site_id: str, agent_channel: str, leg_uniqueid: str,
                          number: str) -> ConsultLeg | None:
        """The consult leg is dialling ``number``: the ticket it carries, or None when this
        is no consult (an agent's plain call to another site)."""
        consult = self._by_transferer.get((site_id, agent_channel))
        if consult is None:
            consult = await self._phone_consult(site_id, agent_channel, target_of_number(
                self.ctx.settings.directory, number))
        if consult is None:
            return None
        consult.leg_uniqueid = leg_uniqueid
        self._by_leg[(site_id, leg_uniqueid)] = consult
        self._apply(consult, ConsultEvent("leg_started"))
        return ConsultLeg(consult.call_id, consult.ticket_id, consult.category, consult.summary)

    async def _phone_consult(self, site_id: str, dialling_channel: str, target: Target) -> Consult | None:
        """An agent dialling from the phone while another call of theirs is answered (the
        caller on hold): the first half of the phone's attended transfer."""
        agent = seat_from_device(dialling_channel.rsplit("-", 1)[0]) if "-" in dialling_channel else None
        if agent is None:
            return None
        held = [(c, leg) for c in self.ctx.book.active(site_id)
                if (leg := c.answered_agent_channel(agent)) is not None and leg[1] != dialling_channel
                and c.caller_channel is not None and c.caller_channel[1] != dialling_channel]
        if not held:
            return None
        call, (_, agent_leg) = max(held, key=lambda pair: pair[0].started_at)
        caller = call.caller_channel
        assert caller is not None
        ticket = await self.ctx.tickets.open_for_call(site_id, call.call_id)
        await self.ctx.tickets.record_handover(ticket.id, receiving_platform(self.ctx.settings.sites, target))
        content = shared_content(ticket)
        consult = Consult(secrets.token_hex(6), call.call_id, site_id, agent, agent_leg, target.name,
                          target.number, ticket.id,
                          content.category, content.summary, "attended", time.time())
        self._track(consult, caller[0])
        return consult

    # --- AMI --------------------------------------------------------------------------

    def _track(self, consult: Consult, caller_uniqueid: str) -> None:
        self._by_transferer[(consult.site, consult.agent_channel)] = consult
        self._by_caller[(consult.site, caller_uniqueid)] = consult

    async def on_event(self, event: AmiEvent) -> None:
        if event.name == "AttendedTransfer":
            await self._on_attended_transfer(event)
            return
        site, uniqueid = event.site, event.get("Uniqueid")
        consult = self._by_leg.get((site, uniqueid))
        if consult is not None:
            if event.name == "Hangup":
                consult.leg_gone.set()
            if consult.cancelling:
                return  # the agent went back: the leg's Dial cancelled and its hangup are that, not the target
            if event.name == "DialEnd":
                status = event.get("DialStatus").upper()
                if status == "ANSWER":
                    self._apply(consult, ConsultEvent("answered"))
                elif status not in ("", "PROGRESS", "RINGING", "PROCEEDING"):
                    self._apply(consult, ConsultEvent("not_answered", status))
            elif event.name == "Hangup" and consult.state is ConsultState.DIALLING:
                self._apply(consult, ConsultEvent("target_left"))
            elif event.name == "Hangup" and consult.via == "attended":
                # the phone hung up its consult leg: either it completed the transfer (the
                # AttendedTransfer event may come right after: decide a moment later, without
                # holding up the event stream) or it gave up
                asyncio.get_running_loop().call_later(ATTENDED_VERDICT_S, self._apply, consult,
                                                      ConsultEvent("target_left"))
            return
        consult = self._by_caller.get((site, uniqueid))
        if consult is not None and event.name == "Hangup":
            self._apply(consult, ConsultEvent("caller_hangup"))
            return
        consult = self._by_transferer.get((site, event.get("Channel")))
        if consult is not None and event.name == "BridgeEnter":
            consult.rejoined.set()
            if consult.state is ConsultState.TALKING and consult.via == "consult" and not consult.cancelling \
                    and int(event.get("BridgeNumChannels") or 0) >= 2:
                # the agent's channel is back in a bridge with the caller: the target hung up
                self._apply(consult, ConsultEvent("target_left"))

    async def _on_attended_transfer(self, event: AmiEvent) -> None:
        consult = self._by_transferer.get((event.site, event.get("OrigTransfererChannel"))) \
            or self._by_leg.get((event.site, event.get("SecondTransfererUniqueid")))
        if consult is None:
            return
        if event.get("Result") == "Success":
            self._apply(consult, ConsultEvent("completed"))
        else:
            log.warning("consult.attended_transfer_failed", call_id=consult.call_id,
                        result=event.get("Result"))

    async def on_resync(self, site: str, channels: list[dict[str, str]]) -> None:
        live = {ch.get("Uniqueid") for ch in channels}
        for (c_site, uniqueid), consult in list(self._by_caller.items()):
            if c_site == site and uniqueid not in live:
                self._apply(consult, ConsultEvent("caller_hangup"))

    def _apply(self, consult: Consult, event: ConsultEvent) -> None:
        try:
            new_state = advance(consult.state, event)
        except InvalidTransition as exc:
            log.warning("consult.unexpected_event", call_id=consult.call_id, detail=str(exc))
            return
        if new_state is consult.state:
            return
        consult.state = new_state
        if new_state is ConsultState.FAILED:
            consult.reason = "asterisk_refused" if event.kind == "refused" else (
                failure_reason(event.status) if event.kind == "not_answered" else "target_unreachable")
        elif new_state is ConsultState.CANCELLED:
            consult.reason = "cancelled" if event.kind == "cancel" else "target_left"
        elif new_state is ConsultState.CALLER_GONE:
            consult.reason = "caller_gone"
        if new_state.final:
            self._forget(consult)
            if len(self._ended_at) > MAX_REMEMBERED:
                self._ended_at.clear()
            self._ended_at[(consult.site, consult.agent_channel)] = time.monotonic()
        consult.changed.set()
        log.info(f"consult.{new_state.value}", call_id=consult.call_id, site=consult.site, via=consult.via,
                 ticket_id=consult.ticket_id, target=consult.target or None, reason=consult.reason or None,
                 ms=round((time.time() - consult.requested_at) * 1000, 1))
        self._publish(consult)
        if new_state is ConsultState.COMPLETED:
            asyncio.get_running_loop().create_task(self._hand_over(consult))
            call = self.ctx.book.get(consult.site, consult.call_id)
            caller = call.caller_channel if call is not None else None
            if caller is not None:  # the caller talks on with the target, not with us
                asyncio.get_running_loop().create_task(
                    stop_recording(self.ctx.ami, consult.site, caller[1], consult.call_id))
        elif new_state.final and consult.via == "consult" and new_state is not ConsultState.CALLER_GONE:
            asyncio.get_running_loop().create_task(self._restore_transfer_context(consult))

    async def _hand_over(self, consult: Consult) -> None:
        """The caller is with the target now: the case goes with them."""
        try:
            ticket = await self.ctx.tickets.get(consult.ticket_id)
            if ticket is None:
                log.error("consult.ticket_gone", call_id=consult.call_id, ticket_id=consult.ticket_id)
                return
            to_platform = receiving_platform(self.ctx.settings.sites, Target(consult.target, consult.number))
            await send_handover(self.handover, ticket, "transfer", to_platform, consult.call_id)
        except Exception:
            log.exception("consult.handover_failed", call_id=consult.call_id, ticket_id=consult.ticket_id)

    async def _restore_transfer_context(self, consult: Consult) -> None:
        """Atxfer left its context on the agent's channel: the phone's own transfer key must
        go through hotline-link again."""
        try:
            await self.ctx.ami.send(consult.site, {"Action": "Setvar", "Channel": consult.agent_channel,
                                                   "Variable": "TRANSFER_CONTEXT", "Value": PHONE_TRANSFER_CONTEXT})
        except AmiError as exc:
            log.info("consult.transfer_context_not_restored", call_id=consult.call_id, detail=str(exc))

    def _forget(self, consult: Consult) -> None:
        for index in (self._by_transferer, self._by_leg, self._by_caller):
            for key in [k for k, v in index.items() if v is consult]:
                del index[key]

    def _publish(self, consult: Consult) -> None:
        """On the timeline and the desk as the transfer it is (via ``consult``/``attended``)."""
        state = _AS_TRANSFER.get(consult.state)
        if state is None:
            return
        self.ctx.bus.emit(TRANSFER_EVENTS[state](
            agent=consult.agent, transfer_id=consult.id, call_id=consult.call_id, target=consult.target,
            ticket_id=consult.ticket_id, state=state.value, reason=consult.reason or None, via=consult.via))
