"""Keeps seat state in step with Asterisk: PJSIP contacts (registered or not) and device
state (idle, ringing, in use), from live AMI events and from a snapshot on every connect."""

from __future__ import annotations

import asyncio

import structlog

from hotline_link.asterisk.ami.manager import AmiEvent, AmiManager
from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import SeatChanged
from hotline_link.core.settings import Settings
from seat_pool.state import SeatState, contact_registered, seat_from_device
from seat_pool.store import SeatStore

log = structlog.get_logger(__name__)


class SeatRegistry:
    def __init__(self, settings: Settings, store: SeatStore, ami: AmiManager, bus: EventBus) -> None:
        self.store = store
        self.ami = ami
        self.bus = bus
        self._agents = {site.id: frozenset(site.agents) for site in settings.sites}
        # live contact URIs per seat: a seat is registered while it has one. A "Removed" for
        # an old contact (a softphone re-registering from a new port) must not log it out.
        self._contacts: dict[tuple[str, str], set[str]] = {}
        # a snapshot reads Asterisk seat by seat, and a busy machine can take seconds: a live
        # event that came meanwhile is fresher than what the snapshot read before it
        self._signals = 0  # live events seen so far
        self._last_signal: dict[tuple[str, str], int] = {}  # per seat: the count at its last event

    def attach(self) -> None:
        self.ami.subscribe("ContactStatus", self.on_contact_status)
        self.ami.subscribe("DeviceStateChange", self.on_device_state)
        self.ami.on_connect(self.snapshot)

    def is_seat(self, site: str, seat: str | None) -> bool:
        return seat is not None and seat in self._agents.get(site, ())

    async def _apply(self, site: str, seat: str, source: str, *, registered: bool | None = None,
                     device_state: str | None = None) -> None:
        old, new = await self.store.update(site, seat, registered=registered, device_state=device_state)
        if old is not new:
            log.info("seat.changed", site=site, seat=seat, old=old.value, new=new.value, source=source)
            self.bus.emit(SeatChanged(site=site, seat=seat, old=old.value, new=new.value))

    async def on_contact_status(self, event: AmiEvent) -> None:
        seat = event.get("EndpointName") or event.get("AOR")
        live = contact_registered(event.get("ContactStatus"))
        if not self.is_seat(event.site, seat) or live is None:
            return
        self._signal(event.site, seat)
        contacts = self._contacts.setdefault((event.site, seat), set())
        uri = event.get("URI") or event.get("Uri")
        if live:
            contacts.add(uri)
        else:
            contacts.discard(uri)
        await self._apply(event.site, seat, "contact", registered=bool(contacts))

    async def on_device_state(self, event: AmiEvent) -> None:
        seat = seat_from_device(event.get("Device"))
        if seat is None or not self.is_seat(event.site, seat) or not event.get("State"):
            return
        self._signal(event.site, seat)
        await self._apply(event.site, seat, "device", device_state=event.get("State"))

    def _signal(self, site: str, seat: str) -> None:
        self._signals += 1
        self._last_signal[(site, seat)] = self._signals

    def _signalled_since(self, site: str, seat: str, mark: int) -> bool:
        return self._last_signal.get((site, seat), 0) > mark

    async def snapshot(self, site: str) -> None:
        """After (re)connecting: registrations and device states as Asterisk has them now.
        Contacts are read with ``Getvar`` of ``PJSIP_AOR``/``PJSIP_CONTACT`` (privilege
        ``call``), not ``PJSIPShowContacts``, which needs the ``system`` write privilege the
        server's AMI user must not have."""
        mark = self._signals
        seats = sorted(self._agents.get(site, ()))
        found = await asyncio.gather(*(self._live_contacts(site, seat) for seat in seats))
        registered = {seat for seat, uris in zip(seats, found, strict=True) if uris}
        devices = await self.ami.send_list(site, {"Action": "DeviceStateList"})
        states = {seat_from_device(d.get("Device", "")): d.get("State", "") for d in devices}
        kept = 0
        for seat, uris in zip(seats, found, strict=True):
            if self._signalled_since(site, seat, mark):
                kept += 1  # a live event came while the snapshot was read: it is fresher
                continue
            self._contacts[(site, seat)] = uris
            await self._apply(site, seat, "snapshot", registered=seat in registered,
                              device_state=states.get(seat) or "UNKNOWN")
        log.info("seat.snapshot", site=site, registered=len(registered), kept_live=kept)

    async def _live_contacts(self, site: str, seat: str) -> set[str]:
        names = await self._function(site, f"PJSIP_AOR({seat},contact)")
        uris: set[str] = set()
        for name in filter(None, (n.strip() for n in names.split(","))):
            status = await self._function(site, f"PJSIP_CONTACT({name},status)")
            if contact_registered(status) is not False:
                uris.add(await self._function(site, f"PJSIP_CONTACT({name},uri)") or name)
        return uris

    async def _function(self, site: str, expression: str) -> str:
        reply = await self.ami.send(site, {"Action": "Getvar", "Variable": expression})
        return str(reply.get("Value", ""))

    async def pause(self, site: str, seat: str, reason: str) -> SeatState:
        """Pause (with a reason) or make ready (empty reason); returns the new state."""
        before = (await self.states(site)).get(seat, SeatState.OFFLINE)
        await self.store.set_paused(site, seat, reason)
        after = (await self.states(site))[seat]
        log.info("seat.paused" if reason else "seat.ready", site=site, seat=seat, reason=reason or None)
        if after is not before:
            self.bus.emit(SeatChanged(site=site, seat=seat, old=before.value, new=after.value))
        return after

    async def log_out(self, site: str, seat: str) -> SeatState:
        """A supervisor logs the seat out (see ``SeatStore.set_logged_out``)."""
        before = (await self.states(site)).get(seat, SeatState.OFFLINE)
        await self.store.set_logged_out(site, seat)
        after = (await self.states(site))[seat]
        log.info("seat.logged_out", site=site, seat=seat)
        if after is not before:
            self.bus.emit(SeatChanged(site=site, seat=seat, old=before.value, new=after.value))
        return after

    async def wait_for_state(self, site: str, seat: str, state: SeatState, timeout: float) -> None:
        """Return once ``seat`` is in ``state``: already, or on the change that makes it so."""
        def reached(event: BusEvent) -> bool:
            if not event.is_(SeatChanged):
                return False
            changed = event.as_(SeatChanged)
            return changed.site == site and changed.seat == seat and changed.new == state.value

        with self.bus.subscribe() as events:
            if (await self.states(site)).get(seat) is state:
                return
            await events.wait_for(reached, timeout)

    async def states(self, site: str) -> dict[str, SeatState]:
        views = await self.store.view(site, sorted(self._agents.get(site, ())))
        return {v.seat: v.state for v in views}
