"""Three-way call (三方通话): caller, this platform's agent and the other platform's agent in
one ConfBridge room named after the ticket.

Caller and agent are moved together (AMI Redirect with ExtraChannel) into the room, then
the target is originated into it through ``conference-out`` (a Local channel, so the
outgoing leg gets the ticket headers). Any agent may leave; the caller is never left
alone in a room: an agent's leave that would do so is refused, and if it happens anyway
(a phone hung up) the caller goes back to intake.

The three-way call is the pure state machine in ``state``: AMI events, the start's steps
and an agent's leave are its events; this service performs the actions it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog

from call_control import schema
from call_control.channel_vars import ticket_variables
from call_control.conference.state import (
    Action,
    ConferenceState,
    Dial,
    Dialled,
    Event,
    Forget,
    HangUpTarget,
    InvalidTransition,
    Joined,
    Kick,
    LeaveRequested,
    Left,
    MovedIn,
    Publish,
    Resynced,
    ReturnCaller,
    RingTimeout,
    Room,
    RoomEnded,
    StartFailed,
    StopRecording,
    TargetFailed,
    parties,
    step,
)
from call_control.context import CallControlContext, with_agents_words
from call_control.directory import receiving_platform, resolve_target
from call_control.errors import (
    AsteriskRefused,
    CallerHungUp,
    ConferenceExists,
    NoAnswer,
    NotInConference,
)
from call_control.handover import HandoverChannel, send_handover
from call_control.recording import stop_recording
from call_control.transfer.service import require_agent_call
from hotline_link.asterisk.ami.manager import AmiEvent
from hotline_link.core.errors import AmiError
from hotline_link.core.numbers import caller_id
from hotline_link.core.tasks import wait_until
from tickets.sharing import shared_content
from tickets.store import Ticket

log = structlog.get_logger(__name__)

ROOM_CONTEXT = "conf-rooms"
OUT_CONTEXT = "conference-out"
JOIN_TIMEOUT_S = 5.0


@dataclass
class Conference:
    room: str
    call_id: str
    site: str
    ticket_id: str
    target: str
    caller_uniqueid: str
    third_party_id: str
    action_id: str
    members: dict[str, str] = field(default_factory=dict)  # uniqueid -> channel
    state: ConferenceState = ConferenceState.STARTING
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def view(self) -> schema.Conference:
        """What the HTTP API shows of the three-way call."""
        return schema.Conference(call_id=self.call_id, room=self.room, ticket_id=self.ticket_id,
                                 target=self.target, state=self.state,
                                 parties=list(parties(self.members, self.caller_uniqueid)))

    def machine(self) -> Room:
        """The room as the state machine sees it."""
        return Room(self.room, self.state, self.caller_uniqueid, self.third_party_id, dict(self.members))

    def agents_left_after(self, uniqueid: str) -> int:
        return self.machine().agents_left_after(uniqueid)


class ConferenceService:
    def __init__(self, ctx: CallControlContext) -> None:
        self.ctx = ctx
        self.rooms: dict[tuple[str, str], Conference] = {}
        self.handover: HandoverChannel | None = None

    def attach_handover(self, channel: HandoverChannel) -> None:
        """Three-way calls with the platforms ``channel`` carries send their handover over it."""
        self.handover = channel

    def attach(self) -> None:
        self.ctx.ami.subscribe("ConfbridgeJoin", self.on_join)
        self.ctx.ami.subscribe("ConfbridgeLeave", self.on_leave)
        self.ctx.ami.subscribe("ConfbridgeEnd", self.on_end)
        self.ctx.ami.subscribe("OriginateResponse", self.on_originate_response)
        self.ctx.ami.on_resync(self.on_resync)

    def of_call(self, call_id: str) -> Conference | None:
        return next((c for c in self.rooms.values() if c.call_id == call_id and not c.state.final), None)

    async def start(self, call_id: str, agent: str, target: str, *, wait: bool = True,
                    category: str | None = None, summary: str | None = None) -> Conference:
        call, agent_channel, caller_uniqueid = require_agent_call(self.ctx.book, call_id, agent)
        site = self.ctx.settings.site(call.site)
        destination = resolve_target(self.ctx.settings.directory, target, site.intake)
        async with self.ctx.locks.hold(call_id, "conference"):
            if self.of_call(call_id) is not None:
                raise ConferenceExists(f"call {call_id} already has a three-way call")
            ticket = await with_agents_words(self.ctx, await self.ctx.tickets.open_for_call(site.id, call_id),
                                             agent, category, summary)
            to_platform = receiving_platform(self.ctx.settings.sites, destination)
            await self.ctx.tickets.record_handover(ticket.id, to_platform)
            caller_channel = call.channels.get(caller_uniqueid)
            if caller_channel is None:
                raise CallerHungUp(f"the caller of {call_id} is gone")
            conf = Conference(ticket.room, call_id, site.id, ticket.id, destination.name,
                              caller_uniqueid, uuid.uuid4().hex, f"conf-{uuid.uuid4().hex}")
            self.rooms[(site.id, conf.room)] = conf
            dial = False
            try:
                await self._move_into_room(site.id, conf, caller_channel, agent_channel)
                dial = Dial() in await self._apply(conf, MovedIn())  # DIALLING before the Originate
                if dial:
                    await self._dial_third_party(site.id, conf, destination.number, call.caller, ticket)
            except AmiError as exc:
                await self._apply(conf, StartFailed())
                raise AsteriskRefused(f"Asterisk refused the conference: {exc}") from None
            if dial:
                await self._apply(conf, Dialled(agent))
                # the third party is being called: only now is there a case to hand over
                await send_handover(self.handover, ticket, "conference", to_platform, call_id)
            if wait and not await wait_until(conf.changed, lambda: conf.state is not ConferenceState.DIALLING,
                                             self.ctx.settings.conference_ring_s + 5):
                await self._apply(conf, RingTimeout())
            if wait and conf.state is ConferenceState.NO_ANSWER:
                raise NoAnswer(f"{destination.name} did not answer; the caller and agent {agent} "
                               f"stay together in room {conf.room}")
        return conf

    async def _move_into_room(self, site: str, conf: Conference, caller_channel: str,
                              agent_channel: str) -> None:
        await self.ctx.ami.send(site, {"Action": "Setvar", "Channel": agent_channel,
                                   "Variable": "CONF_ROLE", "Value": "agent"})
        await self.ctx.ami.send(site, {
            "Action": "Redirect", "Channel": caller_channel, "ExtraChannel": agent_channel,
            "Context": ROOM_CONTEXT, "Exten": conf.room, "Priority": "1",
            "ExtraContext": ROOM_CONTEXT, "ExtraExten": conf.room, "ExtraPriority": "1"})
        if not await wait_until(conf.changed, lambda: len(conf.members) >= 2, JOIN_TIMEOUT_S):
            raise AmiError(f"caller and agent did not reach room {conf.room}")

    async def _dial_third_party(self, site: str, conf: Conference, number: str, caller: str,
                                ticket: Ticket) -> None:
        content = shared_content(ticket)  # a restricted matter travels by its number only
        variables = ticket_variables(ticket.id, content.category, content.summary, site, conf.call_id)
        variables["CONF_ROLE"] = "agent"
        variables["RING_TIMEOUT"] = str(self.ctx.settings.conference_ring_s)
        await self.ctx.ami.send(site, {
            "Action": "Originate", "ActionID": conf.action_id,
            "Channel": f"Local/{number}@{OUT_CONTEXT}", "Context": ROOM_CONTEXT,
            "Exten": conf.room, "Priority": "1", "Async": "true",
            "Timeout": str(self.ctx.settings.conference_ring_s * 1000),
            "CallerID": caller_id(caller), "ChannelId": conf.third_party_id,
            "OtherChannelId": uuid.uuid4().hex,
            "Variable": [f"{k}={v}" for k, v in variables.items()]}, as_list=False)

    async def leave(self, call_id: str, agent: str, party: str) -> Conference:
        conf = self.of_call(call_id)
        if conf is None:
            raise NotInConference(f"call {call_id} has no three-way call")
        await self._apply(conf, LeaveRequested(agent, party))  # the machine refuses or kicks
        return conf

    def _room(self, event: AmiEvent) -> Conference | None:
        return self.rooms.get((event.site, event.get("Conference")))

    async def on_join(self, event: AmiEvent) -> None:
        conf = self._room(event)
        if conf is not None:
            await self._apply(conf, Joined(event.get("Uniqueid"), event.get("Channel")))

    async def on_leave(self, event: AmiEvent) -> None:
        conf = self._room(event)
        if conf is not None:
            await self._apply(conf, Left(event.get("Uniqueid"), event.get("Channel")))

    async def _return_caller(self, conf: Conference, channel: str) -> None:
        """Every agent left: the caller goes back to intake rather than sit alone."""
        try:
            await self.ctx.ami.send(conf.site, {"Action": "Redirect", "Channel": channel,
                                            "Context": "intake", "Exten": "s", "Priority": "1"})
            log.warning("conference.caller_returned_to_intake", call_id=conf.call_id, room=conf.room)
        except AmiError as exc:
            log.error("conference.caller_return_failed", call_id=conf.call_id, error=str(exc))

    async def on_end(self, event: AmiEvent) -> None:
        conf = self._room(event)
        if conf is not None:
            await self._apply(conf, RoomEnded())

    async def on_resync(self, site: str, channels: list[dict[str, str]]) -> None:
        """After an AMI outage, from Asterisk's live channels: members that hung up
        meanwhile have left, a room whose caller is gone has ended, and a caller left alone
        goes back to intake, as if the Confbridge events had been heard."""
        live = frozenset(ch.get("Uniqueid", "") for ch in channels)
        for conf in [c for c in self.rooms.values() if c.site == site and not c.state.final]:
            await self._apply(conf, Resynced(live))

    async def on_originate_response(self, event: AmiEvent) -> None:
        conf = next((c for c in self.rooms.values() if c.action_id == event.get("ActionID")), None)
        if conf is None or event.get("Response") == "Success":
            return
        before = conf.state
        actions = self._step(conf, TargetFailed(event.get("Reason")))
        if conf.state is not before:
            log.info("conference.no_answer", call_id=conf.call_id, room=conf.room,
                     reason=event.get("Reason"))
        await self._perform(conf, actions)

    def _step(self, conf: Conference, event: Event) -> list[Action]:
        """The machine's answer to ``event``, kept in ``conf``; its actions still to perform.
        A refused request raises its API error."""
        try:
            room, actions = step(conf.machine(), event)
        except InvalidTransition as exc:
            log.warning("conference.unexpected_event", call_id=conf.call_id, room=conf.room, detail=str(exc))
            return []
        conf.state, conf.members = room.state, dict(room.members)
        conf.changed.set()
        return actions

    async def _apply(self, conf: Conference, event: Event) -> list[Action]:
        """Step the machine and perform its actions; returns them (a ``Dial`` is left to
        ``start``, which alone knows the number and the ticket)."""
        actions = self._step(conf, event)
        await self._perform(conf, actions)
        return actions

    async def _perform(self, conf: Conference, actions: Iterable[Action]) -> None:
        for action in actions:
            if isinstance(action, Publish):
                self._publish(action, conf)
            elif isinstance(action, ReturnCaller):
                await self._return_caller(conf, action.channel)
            elif isinstance(action, Kick):
                try:
                    await self.ctx.ami.send(conf.site, {"Action": "ConfbridgeKick", "Conference": conf.room,
                                                    "Channel": action.channel})
                except AmiError as exc:
                    raise AsteriskRefused(f"Asterisk did not take {action.party} out of room {conf.room}: "
                                          f"{exc}") from None
            elif isinstance(action, HangUpTarget):
                with contextlib.suppress(AmiError):
                    await self.ctx.ami.send(conf.site, {"Action": "Hangup", "Channel": action.channel})
            elif isinstance(action, StopRecording):
                await stop_recording(self.ctx.ami, conf.site, action.channel, conf.call_id)
            elif isinstance(action, Forget):
                self.rooms.pop((conf.site, conf.room), None)

    def _publish(self, action: Publish, conf: Conference) -> None:
        party = action.party
        log.info(action.kind.NAME, call_id=conf.call_id, site=conf.site, room=conf.room, ticket_id=conf.ticket_id,
                 party=party or None)
        self.ctx.bus.emit(action.kind(
            party=party, site=conf.site, call_id=conf.call_id, room=conf.room, ticket_id=conf.ticket_id,
            target=conf.target, state=action.state.value, parties=list(action.parties)))
