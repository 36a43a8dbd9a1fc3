"""Three-way call (三方通话): caller, this platform's agent and the other platform's agent in
one ConfBridge room named after the ticket.

Caller and agent are moved together (AMI Redirect with ExtraChannel) into the room, then
the target is originated into it through ``conference-out`` (a Local channel, so the
outgoing leg gets the ticket headers). Any agent may leave; the caller is never left
alone in a room: an agent's leave that would do so is refused, and if it happens anyway
(a phone hung up) the caller goes back to intake.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field

import structlog

from call_control.channel_vars import ticket_variables
from call_control.context import CallControlContext
from call_control.directory import receiving_platform, resolve_target
from call_control.errors import (
    AsteriskRefused,
    CallerHungUp,
    CallerWouldBeAlone,
    ConferenceExists,
    NoAnswer,
    NotInConference,
    NotYourCall,
)
from call_control.transfer.service import require_agent_call
from hotline_link.asterisk.ami.manager import AmiEvent
from hotline_link.core.errors import AmiError
from hotline_link.core.numbers import caller_id
from hotline_link.core.tasks import wait_until
from seat_pool.state import seat_from_device
from tickets.sharing import shared_content
from tickets.store import Ticket

log = structlog.get_logger(__name__)

ROOM_CONTEXT = "conf-rooms"
OUT_CONTEXT = "conference-out"
JOIN_TIMEOUT_S = 5.0


def party_of(channel: str) -> str:
    """``PJSIP/1001-0000001a`` -> ``1001``; ``Local/110@conference-out-0001;1`` -> ``110``."""
    if channel.startswith("Local/"):
        return channel[len("Local/"):].split("@", 1)[0]
    return seat_from_device(channel.rsplit("-", 1)[0]) or channel


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
    state: str = "starting"  # starting | dialling | joined | no_answer | ended
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def view(self) -> dict[str, object]:
        return {"call_id": self.call_id, "room": self.room, "ticket_id": self.ticket_id,
                "target": self.target, "state": self.state,
                "parties": sorted(party_of(ch) if uid != self.caller_uniqueid else "caller"
                                  for uid, ch in self.members.items())}

    def agents_left_after(self, uniqueid: str) -> int:
        return sum(1 for uid in self.members if uid not in (uniqueid, self.caller_uniqueid))


class ConferenceService:
    def __init__(self, ctx: CallControlContext) -> None:
        self.ctx = ctx
        self.rooms: dict[tuple[str, str], Conference] = {}

    def attach(self) -> None:
        self.ctx.ami.subscribe("ConfbridgeJoin", self.on_join)
        self.ctx.ami.subscribe("ConfbridgeLeave", self.on_leave)
        self.ctx.ami.subscribe("ConfbridgeEnd", self.on_end)
        self.ctx.ami.subscribe("OriginateResponse", self.on_originate_response)
        self.ctx.ami.on_resync(self.on_resync)

    def of_call(self, call_id: str) -> Conference | None:
        return next((c for c in self.rooms.values() if c.call_id == call_id and c.state != "ended"), None)

    async def start(self, call_id: str, agent: str, target: str, *, wait: bool = True) -> Conference:
        call, agent_channel, caller_uniqueid = require_agent_call(self.ctx.book, call_id, agent)
        site = self.ctx.settings.site(call.site)
        destination = resolve_target(self.ctx.settings.directory, target, site.intake)
        async with self.ctx.locks.hold(call_id, "conference"):
            if self.of_call(call_id) is not None:
                raise ConferenceExists(f"call {call_id} already has a three-way call")
            ticket = await self.ctx.tickets.open_for_call(site.id, call_id)
            await self.ctx.tickets.record_handover(
                ticket.id, receiving_platform(self.ctx.settings.sites, destination))
            caller_channel = call.channels.get(caller_uniqueid)
            if caller_channel is None:
                raise CallerHungUp(f"the caller of {call_id} is gone")
            conf = Conference(ticket.room, call_id, site.id, ticket.id, destination.name,
                              caller_uniqueid, uuid.uuid4().hex, f"conf-{uuid.uuid4().hex}")
            self.rooms[(site.id, conf.room)] = conf
            try:
                await self._move_into_room(site.id, conf, caller_channel, agent_channel)
                conf.state = "dialling"  # before the Originate: its failure can come back first
                await self._dial_third_party(site.id, conf, destination.number, call.caller, ticket)
            except AmiError as exc:
                await self._abandon(conf)
                raise AsteriskRefused(f"Asterisk refused the conference: {exc}") from None
            self._publish("conference.dialling", conf, agent)
            if wait and not await wait_until(conf.changed, lambda: conf.third_party_id in conf.members
                                             or conf.state in ("no_answer", "ended"),
                                             self.ctx.settings.conference_ring_s + 5):
                conf.state = "no_answer"
            if wait and conf.state == "no_answer":
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
        variables = ticket_variables(ticket.id, content.category, content.summary, site)
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

    async def _abandon(self, conf: Conference) -> None:
        """A start that failed half-way: nobody may stay alone, nothing may leak."""
        if set(conf.members) == {conf.caller_uniqueid}:
            await self._return_caller(conf)
        conf.state = "ended"
        self.rooms.pop((conf.site, conf.room), None)

    async def leave(self, call_id: str, agent: str, party: str) -> Conference:
        conf = self.of_call(call_id)
        if conf is None:
            raise NotInConference(f"call {call_id} has no three-way call")
        if party != agent:
            raise NotYourCall(f"agent {agent} may take only itself out of the conference")
        member = next(((uid, ch) for uid, ch in conf.members.items()
                       if uid != conf.caller_uniqueid and party_of(ch) == party), None)
        if member is None:
            raise NotInConference(f"{party} is not in room {conf.room}")
        if conf.caller_uniqueid in conf.members and conf.agents_left_after(member[0]) == 0:
            raise CallerWouldBeAlone(f"{party} is the caller's last party in room {conf.room}")
        try:
            await self.ctx.ami.send(conf.site, {"Action": "ConfbridgeKick", "Conference": conf.room,
                                            "Channel": member[1]})
        except AmiError as exc:
            raise AsteriskRefused(f"Asterisk did not take {party} out of room {conf.room}: {exc}") from None
        return conf

    def _room(self, event: AmiEvent) -> Conference | None:
        return self.rooms.get((event.site, event.get("Conference")))

    async def on_join(self, event: AmiEvent) -> None:
        conf = self._room(event)
        if conf is None:
            return
        conf.members[event.get("Uniqueid")] = event.get("Channel")
        if event.get("Uniqueid") == conf.third_party_id:
            conf.state = "joined"
        conf.changed.set()
        self._publish("conference.joined", conf, party_of(event.get("Channel")))

    async def on_leave(self, event: AmiEvent) -> None:
        conf = self._room(event)
        if conf is None:
            return
        conf.members.pop(event.get("Uniqueid"), None)
        conf.changed.set()
        self._publish("conference.left", conf, party_of(event.get("Channel")))
        if set(conf.members) == {conf.caller_uniqueid} and conf.state != "dialling":
            await self._return_caller(conf)

    async def _return_caller(self, conf: Conference) -> None:
        """Every agent left: the caller goes back to intake rather than sit alone."""
        channel = conf.members[conf.caller_uniqueid]
        try:
            await self.ctx.ami.send(conf.site, {"Action": "Redirect", "Channel": channel,
                                            "Context": "intake", "Exten": "s", "Priority": "1"})
            log.warning("conference.caller_returned_to_intake", call_id=conf.call_id, room=conf.room)
        except AmiError as exc:
            log.error("conference.caller_return_failed", call_id=conf.call_id, error=str(exc))

    async def on_end(self, event: AmiEvent) -> None:
        conf = self._room(event)
        if conf is None:
            return
        if conf.third_party_id not in conf.members and conf.state == "dialling":
            # the caller left while the target was still ringing: stop ringing it
            with contextlib.suppress(AmiError):
                await self.ctx.ami.send(conf.site, {"Action": "Hangup", "Channel": conf.third_party_id})
        conf.state = "ended"
        conf.changed.set()
        self._publish("conference.ended", conf, "")
        self.rooms.pop((conf.site, conf.room), None)

    async def on_resync(self, site: str, channels: list[dict[str, str]]) -> None:
        """After an AMI outage, from Asterisk's live channels: members that hung up
        meanwhile have left, a room whose caller is gone has ended, and a caller left alone
        goes back to intake, as if the Confbridge events had been heard."""
        live = {ch.get("Uniqueid", "") for ch in channels}
        for conf in [c for c in self.rooms.values() if c.site == site and c.state != "ended"]:
            gone = [uid for uid in conf.members if uid not in live]
            for uid in gone:
                self._publish("conference.left", conf, party_of(conf.members.pop(uid)))
            if conf.caller_uniqueid not in live:
                conf.state = "ended"
                self._publish("conference.ended", conf, "")
                self.rooms.pop((conf.site, conf.room), None)
            elif gone and set(conf.members) == {conf.caller_uniqueid} and conf.state != "dialling":
                await self._return_caller(conf)
            conf.changed.set()

    async def on_originate_response(self, event: AmiEvent) -> None:
        conf = next((c for c in self.rooms.values() if c.action_id == event.get("ActionID")), None)
        if conf is not None and event.get("Response") != "Success" and conf.state in ("starting", "dialling"):
            conf.state = "no_answer"
            conf.changed.set()
            log.info("conference.no_answer", call_id=conf.call_id, room=conf.room,
                     reason=event.get("Reason"))
            if set(conf.members) == {conf.caller_uniqueid}:
                await self._return_caller(conf)

    def _publish(self, name: str, conf: Conference, party: str) -> None:
        log.info(name, call_id=conf.call_id, site=conf.site, room=conf.room, ticket_id=conf.ticket_id,
                 party=party or None)
        self.ctx.bus.publish(name, party=party, site=conf.site, **conf.view())
