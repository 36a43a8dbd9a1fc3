"""Feeds the CallBook from AMI and logs and publishes the call events it yields."""

from __future__ import annotations

import time

import structlog

from call_control.calls import CallBook, CallEvent, hangup_reason
from hotline_link.asterisk.ami.manager import AmiEvent, AmiManager
from hotline_link.core.bus import EventBus
from hotline_link.core.events import CallRinging, payload
from seat_pool.state import seat_from_device

log = structlog.get_logger(__name__)


class CallTracker:
    def __init__(self, ami: AmiManager, bus: EventBus, book: CallBook | None = None) -> None:
        self.ami = ami
        self.bus = bus
        self.book = book or CallBook()

    def attach(self) -> None:
        self.ami.subscribe("Newchannel", self.on_new_channel)
        self.ami.subscribe("DialBegin", self.on_dial_begin)
        self.ami.subscribe("DialEnd", self.on_dial_end)
        self.ami.subscribe("Hangup", self.on_hangup)
        self.ami.on_resync(self.on_resync)

    def _emit(self, events: list[CallEvent]) -> None:
        for event in events:
            log.info(event.NAME, **payload(event))
            self.bus.emit(event)

    async def on_new_channel(self, event: AmiEvent) -> None:
        self._emit(self.book.channel_up(
            event.site, event.get("Uniqueid"), event.get("Linkedid"), event.get("Channel"),
            event.get("CallerIDNum"), event.get("Exten"), time.time()))

    async def on_dial_begin(self, event: AmiEvent) -> None:
        """An agent's phone starts ringing: the moment for the screen pop."""
        agent = seat_from_device(event.get("DestChannel").rsplit("-", 1)[0])
        call = self.book.get(event.site, event.get("Linkedid"))
        if agent is None or call is None:
            return
        self.bus.emit(CallRinging(call_id=call.call_id, site=event.site, agent=agent, caller=call.caller))

    async def on_dial_end(self, event: AmiEvent) -> None:
        self._emit(self.book.dial_end(event.site, event.get("Linkedid"),
                                      event.get("DestChannel"), event.get("DialStatus"),
                                      time.time()))

    async def on_hangup(self, event: AmiEvent) -> None:
        reason = hangup_reason(event.get("Cause"), event.get("ChannelStateDesc"))
        self._emit(self.book.channel_down(event.site, event.get("Uniqueid"),
                                          event.get("Cause-txt") or event.get("Cause"), time.time(),
                                          reason=reason))

    async def on_resync(self, site: str, channels: list[dict[str, str]]) -> None:
        self._emit(self.book.resync(site, channels, time.time()))
