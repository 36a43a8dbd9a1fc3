"""A call is every channel sharing one Asterisk linkedid on one site; its id is that
linkedid (``call_id``). ``CallBook`` turns channel events into call events. Pure: no I/O,
the clock is passed in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from call_control.errors import CallNotFound, NotYourCall
from hotline_link.core.events import CallAnswered, CallEnded, CallStarted
from hotline_link.core.numbers import caller_number, dialled_number

CallEvent = CallStarted | CallAnswered | CallEnded


@dataclass
class Call:
    call_id: str
    site: str
    caller: str
    dialled: str
    started_at: float
    channels: dict[str, str] = field(default_factory=dict)  # uniqueid -> channel name
    answered_by: str | None = None
    answered_at: float | None = None
    end_reason: str = "hangup"  # why it ended, from the first leg that said more than "hangup"
    answered_channels: set[str] = field(default_factory=set)  # legs that answered (DialEnd ANSWER)

    @property
    def caller_channel(self) -> tuple[str, str] | None:
        """(uniqueid, name) of the leg that started the call: the caller's."""
        name = self.channels.get(self.call_id)
        return (self.call_id, name) if name else None

    def agent_channel(self, agent: str) -> tuple[str, str] | None:
        """The agent's leg, ringing or answered (the screen pop's)."""
        prefix = f"PJSIP/{agent}-"
        for uniqueid, name in self.channels.items():
            if name.startswith(prefix):
                return uniqueid, name
        return None

    def answered_agent_channel(self, agent: str) -> tuple[str, str] | None:
        """The agent's leg if it answered: only an agent talking to the caller is on the
        call (may transfer, conference, leave); one whose phone merely rings is not."""
        leg = self.agent_channel(agent)
        return leg if leg is not None and leg[1] in self.answered_channels else None


@dataclass(frozen=True)
class ChannelRef:
    site: str
    call_id: str
    name: str


# Asterisk hangs up an answered channel whose RTP stopped (rtp_timeout) with cause 44
MEDIA_TIMEOUT_CAUSE = "44"


def hangup_reason(cause: str, channel_state: str) -> str:
    """Why a channel went down: ``media_timeout`` when Asterisk ended an answered channel
    whose phone stopped sending media (no BYE: the phone vanished), else ``hangup``."""
    if cause.strip() == MEDIA_TIMEOUT_CAUSE and channel_state.strip().lower() == "up":
        return "media_timeout"
    return "hangup"


def _answerer(dest_channel: str) -> str:
    """``PJSIP/1001-0000002a`` -> ``PJSIP/1001``."""
    return dest_channel.rsplit("-", 1)[0] if "-" in dest_channel else dest_channel


class CallBook:
    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], Call] = {}
        self.channels: dict[tuple[str, str], ChannelRef] = {}

    def active(self, site: str | None = None) -> list[Call]:
        return [c for c in self.calls.values() if site is None or c.site == site]

    def get(self, site: str, call_id: str) -> Call | None:
        return self.calls.get((site, call_id))

    def find(self, call_id: str) -> Call | None:
        """A call by id alone (call ids carry their site's systemname, so they are unique)."""
        return next((c for (_, cid), c in self.calls.items() if cid == call_id), None)

    def on_call(self, call_id: str, agent: str) -> tuple[Call, str]:
        """The active call and the agent's channel on it, or the error the agent should see."""
        call = self.find(call_id)
        if call is None:
            raise CallNotFound(f"no active call {call_id}")
        agent_leg = call.answered_agent_channel(agent)
        if agent_leg is None:
            raise NotYourCall(f"agent {agent} is not on call {call_id} (a phone that only rings is not)")
        return call, agent_leg[1]

    def of_agent(self, site: str, agent: str) -> Call | None:
        """The call an agent's phone is on now (the newest, if several)."""
        calls = [c for c in self.active(site) if c.agent_channel(agent)]
        return max(calls, key=lambda c: c.started_at) if calls else None

    def channel_up(self, site: str, uniqueid: str, linkedid: str, name: str, caller: str,
                   dialled: str, now: float, resynced: bool = False) -> list[CallEvent]:
        if not uniqueid or not linkedid or (site, uniqueid) in self.channels:
            return []
        self.channels[(site, uniqueid)] = ChannelRef(site, linkedid, name)
        call = self.calls.get((site, linkedid))
        if call is not None:
            call.channels[uniqueid] = name
            return []
        # the number is whatever the caller's From said: only a plausible one is kept
        call = Call(linkedid, site, caller_number(caller), dialled_number(dialled), now, {uniqueid: name})
        self.calls[(site, linkedid)] = call
        return [CallStarted(call_id=linkedid, site=site, caller=call.caller, dialled=call.dialled,
                            channel=name, resynced=resynced)]

    def dial_end(self, site: str, linkedid: str, dest_channel: str, status: str,
                 now: float) -> list[CallEvent]:
        call = self.calls.get((site, linkedid))
        if call is None or status.upper() != "ANSWER":
            return []
        call.answered_channels.add(dest_channel)
        if call.answered_by is not None:
            return []
        call.answered_by = answered_by = _answerer(dest_channel)
        call.answered_at = now
        return [CallAnswered(call_id=linkedid, site=site, caller=call.caller, answered_by=answered_by,
                             wait_s=round(now - call.started_at, 3))]

    def channel_down(self, site: str, uniqueid: str, cause: str, now: float,
                     reason: str = "hangup") -> list[CallEvent]:
        ref = self.channels.pop((site, uniqueid), None)
        if ref is None:
            return []
        call = self.calls.get((site, ref.call_id))
        if call is None:
            return []
        call.channels.pop(uniqueid, None)
        if reason != "hangup" and call.end_reason == "hangup":
            call.end_reason = reason
        if call.channels:
            return []
        del self.calls[(site, ref.call_id)]
        return [CallEnded(call_id=call.call_id, site=site, caller=call.caller, answered_by=call.answered_by,
                          cause=cause, reason=call.end_reason, duration_s=round(now - call.started_at, 3))]

    def resync(self, site: str, live: Iterable[dict[str, str]], now: float) -> list[CallEvent]:
        """Make the book match Asterisk's own list of channels after a (re)connect: channels
        that went away while we could not hear end their calls; unknown ones start calls."""
        live = list(live)
        live_ids = {ch.get("Uniqueid", "") for ch in live}
        events: list[CallEvent] = []
        for site_id, uniqueid in [k for k in self.channels if k[0] == site]:
            if uniqueid not in live_ids:
                events += self.channel_down(site_id, uniqueid, cause="", now=now,
                                            reason="gone_while_disconnected")
        # the caller's leg (Uniqueid == Linkedid) first: the call's caller and number are its
        for ch in sorted(live, key=lambda ch: ch.get("Uniqueid") != ch.get("Linkedid")):
            events += self.channel_up(site, ch.get("Uniqueid", ""), ch.get("Linkedid", ""),
                                      ch.get("Channel", ""), ch.get("CallerIDNum", ""),
                                      ch.get("Exten", ""), now, resynced=True)
        for ch in live:  # a leg that is up answered the call while we could not hear
            if ch.get("Uniqueid") != ch.get("Linkedid") and ch.get("ChannelStateDesc") == "Up":
                events += self.dial_end(site, ch.get("Linkedid", ""), ch.get("Channel", ""), "ANSWER", now)
        return events
