"""A three-way call as an explicit state machine. Pure: no I/O.

``step(room, event)`` returns the room after the event and the actions the service must
perform at the edge (AMI actions, bus events, forgetting the room), in order. The room
carries who is in it, since the rule the machine keeps is about them: the caller is never
left alone. An agent's leave that would leave the caller alone is refused
(``CallerWouldBeAlone``); a caller left alone anyway (a phone hung up, the target failed)
is sent back to intake, except while the target is still being dialled: then the caller
waits in the room for it.

Refused requests raise the API's error; events that cannot happen in a state raise
``InvalidTransition``; events after the end (late AMI events) change nothing, except that
a target dialled is said to be (``conference.dialling``) even if the room ended meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from call_control.errors import CallerWouldBeAlone, NotInConference, NotYourCall
from hotline_link.core.events import (
    ConferenceDialling,
    ConferenceEnded,
    ConferenceEvent,
    ConferenceJoined,
    ConferenceLeft,
)
from seat_pool.state import seat_from_device


class ConferenceState(StrEnum):
    STARTING = "starting"  # caller and agent are being moved into the room
    DIALLING = "dialling"  # both are in; the target (the other platform) is being dialled
    JOINED = "joined"  # the target answered and entered the room; agents may leave now
    NO_ANSWER = "no_answer"  # the target did not come; the room lives on without it
    ENDED = "ended"  # the room is gone (or the start failed): final

    @property
    def final(self) -> bool:
        return self is ConferenceState.ENDED


def party_of(channel: str) -> str:
    """``PJSIP/1001-0000001a`` -> ``1001``; ``Local/110@conference-out-0001;1`` -> ``110``."""
    if channel.startswith("Local/"):
        return channel[len("Local/"):].split("@", 1)[0]
    return seat_from_device(channel.rsplit("-", 1)[0]) or channel


def parties(members: Mapping[str, str], caller: str) -> tuple[str, ...]:
    """Who is in the room as the API names them, sorted: agents by seat, the target by
    the number dialled, the caller as ``caller``."""
    return tuple(sorted(party_of(ch) if uid != caller else "caller" for uid, ch in members.items()))


@dataclass(frozen=True)
class Room:
    """What the machine knows of a three-way call. Never changed: ``step`` makes a new one."""

    name: str  # the ConfBridge room, named after the ticket
    state: ConferenceState
    caller: str  # the caller's uniqueid
    third_party: str  # the uniqueid given to the target's leg (Originate ChannelId)
    members: Mapping[str, str] = field(default_factory=dict)  # uniqueid -> channel, in the room

    @property
    def local_agents(self) -> int:
        """This platform's agents in the room (neither the caller nor the dialled target)."""
        return sum(1 for uid in self.members if uid not in (self.caller, self.third_party))

    def agents_left_after(self, uniqueid: str) -> int:
        return sum(1 for uid in self.members if uid not in (uniqueid, self.caller))

    @property
    def caller_alone(self) -> bool:
        return set(self.members) == {self.caller}

    @property
    def parties(self) -> tuple[str, ...]:
        return parties(self.members, self.caller)


# Events: what happened (AMI), what the service did (start), what an agent asked for.

@dataclass(frozen=True)
class MovedIn:
    """Caller and agent reached the room (the start's Redirect worked)."""


@dataclass(frozen=True)
class Dialled:
    """Asterisk accepted the Originate of the target on behalf of ``agent``."""

    agent: str


@dataclass(frozen=True)
class StartFailed:
    """Asterisk refused the move or the Originate, or the two never reached the room."""


@dataclass(frozen=True)
class Joined:
    """ConfbridgeJoin: someone entered the room; the target, if it is the third party."""

    uniqueid: str
    channel: str


@dataclass(frozen=True)
class Left:
    """ConfbridgeLeave: someone left the room (an agent kicked or hung up, the caller hung up)."""

    uniqueid: str
    channel: str


@dataclass(frozen=True)
class TargetFailed:
    """OriginateResponse failure: the target was busy, did not answer or was unreachable."""

    reason: str = ""


@dataclass(frozen=True)
class RingTimeout:
    """The start stopped waiting for the target: nothing came in time."""


@dataclass(frozen=True)
class RoomEnded:
    """ConfbridgeEnd: the room closed (the caller, the marked user, hung up; or all left)."""


@dataclass(frozen=True)
class Resynced:
    """After an AMI outage, the uniqueids of the site's live channels: members not among
    them left meanwhile, and a room whose caller is not among them has ended."""

    live: frozenset[str]


@dataclass(frozen=True)
class LeaveRequested:
    """``agent`` asks to take ``party`` out of the room."""

    agent: str
    party: str


Event = (MovedIn | Dialled | StartFailed | Joined | Left | TargetFailed | RingTimeout | RoomEnded | Resynced
         | LeaveRequested)


# Actions: what the service performs, in order.

@dataclass(frozen=True)
class Dial:
    """Originate the target into the room (only ``start`` knows the number and the ticket)."""


@dataclass(frozen=True)
class Publish:
    """Bus event ``kind`` about ``party``, with the room as it was then."""

    kind: type[ConferenceEvent]
    party: str
    state: ConferenceState
    parties: tuple[str, ...]


@dataclass(frozen=True)
class ReturnCaller:
    """Redirect the caller's ``channel`` back to intake rather than leave it alone."""

    channel: str


@dataclass(frozen=True)
class Kick:
    """ConfbridgeKick ``channel`` (``party``) out of the room."""

    channel: str
    party: str


@dataclass(frozen=True)
class HangUpTarget:
    """Hang up the target's leg, still ringing (``channel`` is its ChannelId)."""

    channel: str


@dataclass(frozen=True)
class StopRecording:
    """The platform's last agent left: the caller talks on with the other platform only,
    whose part this site does not record (``call_control.recording``)."""

    channel: str


@dataclass(frozen=True)
class Forget:
    """The room is over: drop it from the service's table."""


Action = Dial | Publish | ReturnCaller | Kick | HangUpTarget | StopRecording | Forget


class InvalidTransition(Exception):
    pass


def _publish(kind: type[ConferenceEvent], party: str, room: Room) -> Publish:
    return Publish(kind, party, room.state, room.parties)


def _return_if_alone(room: Room) -> list[Action]:
    """The caller alone in the room goes back to intake, unless the target is on its way."""
    if room.caller_alone and room.state is not ConferenceState.DIALLING:
        return [ReturnCaller(room.members[room.caller])]
    return []


def _leave(room: Room, event: LeaveRequested) -> list[Action]:
    if room.state.final:
        raise NotInConference(f"{event.party} is not in room {room.name}")
    if event.party != event.agent:
        raise NotYourCall(f"agent {event.agent} may take only itself out of the conference")
    member = next(((uid, ch) for uid, ch in room.members.items()
                   if uid != room.caller and party_of(ch) == event.party), None)
    if member is None:
        raise NotInConference(f"{event.party} is not in room {room.name}")
    if room.caller in room.members and room.agents_left_after(member[0]) == 0:
        raise CallerWouldBeAlone(f"{event.party} is the caller's last party in room {room.name}")
    return [Kick(member[1], event.party)]


def _resync(room: Room, live: frozenset[str]) -> tuple[Room, list[Action]]:
    actions: list[Action] = []
    gone = [uid for uid in room.members if uid not in live]
    for uid in gone:
        channel = room.members[uid]
        room = replace(room, members={u: ch for u, ch in room.members.items() if u != uid})
        actions.append(_publish(ConferenceLeft, party_of(channel), room))
    if room.caller not in live:
        room = replace(room, state=ConferenceState.ENDED)
        return room, [*actions, _publish(ConferenceEnded, "", room), Forget()]
    if gone:
        actions += _return_if_alone(room)
    return room, actions


def step(room: Room, event: Event) -> tuple[Room, list[Action]]:
    """The room after ``event`` and the actions to perform, in order."""
    S = ConferenceState
    if isinstance(event, LeaveRequested):  # a request: refused or answered, never ignored
        return room, _leave(room, event)
    if isinstance(event, Dialled):  # the Originate went out: said even if the room ended since
        if room.state is S.STARTING:
            raise InvalidTransition("dialled before moving in")
        return room, [_publish(ConferenceDialling, event.agent, room)]
    if room.state.final:
        return room, []  # late events: the room is gone
    if isinstance(event, MovedIn):
        if room.state is not S.STARTING:
            raise InvalidTransition(f"moved in, in state {room.state.value}")
        # DIALLING before the Originate: its failure can come back first
        return replace(room, state=S.DIALLING), [Dial()]
    if isinstance(event, StartFailed):  # nobody may stay alone, nothing may leak
        ended = replace(room, state=S.ENDED)
        return ended, [*([ReturnCaller(room.members[room.caller])] if room.caller_alone else []), Forget()]
    if isinstance(event, Joined):
        room = replace(room, members={**room.members, event.uniqueid: event.channel},
                       state=S.JOINED if event.uniqueid == room.third_party else room.state)
        # the target came after our last agent had left: the caller is the other platform's now
        handed = event.uniqueid == room.third_party and not room.local_agents and room.caller in room.members
        return room, [_publish(ConferenceJoined, party_of(event.channel), room),
                      *([StopRecording(room.members[room.caller])] if handed else [])]
    if isinstance(event, Left):
        had_agents = room.local_agents > 0
        room = replace(room, members={u: ch for u, ch in room.members.items() if u != event.uniqueid})
        handed = had_agents and not room.local_agents and {room.caller, room.third_party} <= set(room.members)
        return room, [_publish(ConferenceLeft, party_of(event.channel), room), *_return_if_alone(room),
                      *([StopRecording(room.members[room.caller])] if handed else [])]
    if isinstance(event, TargetFailed):
        if room.state not in (S.STARTING, S.DIALLING):
            return room, []  # the target already came, or was already given up on
        room = replace(room, state=S.NO_ANSWER)
        return room, _return_if_alone(room)
    if isinstance(event, RingTimeout):
        if room.state is not S.DIALLING:
            raise InvalidTransition(f"ring timeout in state {room.state.value}")
        # a caller waiting alone is returned by the Originate's own failure (TargetFailed),
        # which comes at conference_ring_s, before the start stops waiting
        return replace(room, state=S.NO_ANSWER), []
    if isinstance(event, RoomEnded):
        # the caller left while the target was still ringing: stop ringing it
        ringing = room.state is S.DIALLING and room.third_party not in room.members
        room = replace(room, state=S.ENDED)
        return room, [*([HangUpTarget(room.third_party)] if ringing else []),
                      _publish(ConferenceEnded, "", room), Forget()]
    if isinstance(event, Resynced):
        return _resync(room, event.live)
    raise InvalidTransition(f"{type(event).__name__} in state {room.state.value}")
