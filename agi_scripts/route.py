"""The route hook: ``AGI(agi://127.0.0.1:4573/route,${SITE})`` on every inbound call.

Places the call (``seat_pool.router``): sets ``ROUTE_TARGET`` (``PJSIP/1001``, or a remote
seat over the trunk) when a seat is claimed, else ``ROUTE_ACTION``. A caller with no seat
free waits here, in the queue, until one is. Leaving both empty is always safe: the
dialplan then rings every local seat itself.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from call_control.channel_vars import decode
from hotline_link.asterisk.agi.protocol import AgiProtocolError
from hotline_link.asterisk.agi.server import AgiSession
from hotline_link.core.bus import EventBus
from hotline_link.core.events import CallRouted, TicketReceived
from hotline_link.core.redis_client import redis_client
from seat_pool.router import CallRouter, Placement
from seat_pool.routing import CallFacts, Outcome
from seat_pool.store import SeatStore
from tickets.store import Ticket, TicketStore, ticket_platform

log = structlog.get_logger(__name__)

ROUTE_VARIABLE = "ROUTE_TARGET"
ACTION_VARIABLE = "ROUTE_ACTION"  # ivr | busy | warn; empty: dial ROUTE_TARGET (or ring all)
QUEUED_AT_VARIABLE = "HL_QUEUED_AT"  # kept across the IVR, so the caller keeps their place
# Our own variables first, then what came in X-Ticket-* headers last: split with a maximum,
# a ';' in a header value (the dialplan filters them out too) can shift nothing we trust.
CALL_FIELDS = ("${CHANNEL(linkedid)};${HL_IVR_DONE};${HL_QUEUED_AT};${HL_ROUNDS};"
               "${TICKET_FROM};${TICKET};${TICKET_CATEGORY};${TICKET_CALL};${TICKET_SUMMARY}")
_FIELD_COUNT = 9
_PLATFORM = re.compile(r"[0-9A-Za-z]{1,16}")
MAX_HANDED_TEXT = 200
MAX_SOURCE_CALL = 64  # the sending platform's call id (X-Ticket-Call)
ScreenCaller = Callable[..., Awaitable[bool]]  # (site, number, call_id=) -> play the warning?
_ACTIONS = {Outcome.IVR: "ivr", Outcome.BUSY: "busy", Outcome.WARNED: "warn"}


class HandoverIntake(Protocol):
    """Where a handed-over call takes its ticket when the other platform's deployment hands
    cases over a signed channel (``exchange.service.ExchangeService``): the call and the
    channel's handover message meet on one ticket, whichever comes first."""

    def receives_from(self, platform: str) -> bool: ...

    async def take_call(self, site: str, call_id: str, source_platform: str, source_ticket: str,
                        category: str, summary: str, source_call: str = "") -> Ticket | None: ...


class RouteHook:
    def __init__(self, tickets: TicketStore, router: CallRouter, bus: EventBus,
                 screen: ScreenCaller | None = None) -> None:
        self.tickets = tickets
        self.router = router
        self.bus = bus
        self.screen = screen
        self._sites = router.sites
        self.intake: HandoverIntake | None = None

    def attach_intake(self, intake: HandoverIntake) -> None:
        """Calls handed over by the platforms ``intake`` receives from take their ticket there."""
        self.intake = intake

    async def _open_received(self, site: str, call_id: str, source: str, source_ticket: str,
                             category: str, summary: str, source_call: str) -> Ticket:
        if self.intake is not None and self.intake.receives_from(source):
            ticket = await self.intake.take_call(site, call_id, source, source_ticket, category, summary,
                                                 source_call)
            if ticket is not None:
                return ticket
        linked = ticket_platform(source_ticket) == source \
            and await self.tickets.handover_was_sent(source_ticket, site)
        if not linked:
            log.warning("ticket.handover_unverified", source=source[:16],
                        source_ticket=source_ticket[:40])
        return await self.tickets.open_for_call(
            site, call_id, category=category, summary=summary,
            source_platform=source, source_ticket=source_ticket if linked else "")

    async def _receive_ticket(self, site: str, call_id: str, source: str, source_ticket: str,
                              category: str, summary: str, source_call: str = "") -> None:
        """A case handed over by the other platform: open this platform's ticket for it. The
        headers are the other side's word only: the source is linked if its id is well formed,
        names that platform, and that platform recorded handing it here."""
        if not source_ticket:
            return
        ticket = await self._open_received(site, call_id, source, source_ticket, category[:MAX_HANDED_TEXT],
                                           summary[:MAX_HANDED_TEXT], source_call)
        log.info("ticket.received", ticket_id=ticket.id, source_ticket=ticket.source_ticket, source=source)
        self.bus.emit(TicketReceived(call_id=call_id, site=site, ticket_id=ticket.id,
                                     source_ticket=ticket.source_ticket, source_platform=source,
                                     category=ticket.category, summary=ticket.summary))

    async def __call__(self, session: AgiSession) -> None:
        request = session.request
        site = request.args[0] if request.args else ""
        if site not in self._sites:
            log.warning("route.unknown_site", site=site, channel=request.channel)
            return
        # One round trip for everything: values are percent-encoded, so ';' cannot occur in them
        fields = (await session.get_full_variable(CALL_FIELDS)).split(";", _FIELD_COUNT - 1)
        fields += [""] * (_FIELD_COUNT - len(fields))
        call_id, ivr_done, queued_at, rounds = fields[:4]
        call_id = call_id or request.uniqueid
        handed_from, source_ticket, category, source_call, summary = (decode(v) for v in fields[4:])
        # a case handed over by the other platform; a failed transfer of our own coming back
        # to intake carries our own site's name and is not one
        handed_over = bool(_PLATFORM.fullmatch(handed_from)) and handed_from != site
        first_round = rounds in ("", "1")
        with structlog.contextvars.bound_contextvars(call_id=call_id, site=site):
            if handed_over and first_round:
                await self._receive_ticket(site, call_id, handed_from, source_ticket, category, summary,
                                           source_call[:MAX_SOURCE_CALL])
            call = CallFacts(site, call_id, handed_over=handed_over, ivr_done=ivr_done == "1",
                             emergency=site == "110", handed_from=handed_from if handed_over else "",
                             first_round=first_round)
            placement = await self._place(session, call, _float(queued_at))
            try:
                await self._tell_dialplan(session, placement)
            except (TimeoutError, AgiProtocolError, ConnectionError):
                if placement.seat is not None:  # the caller left: free the seat at once
                    await self.router.release(call_id, placement)
                raise
            log.info("call.routed", seat=placement.seat, outcome=placement.outcome.value,
                     caller=request.caller)
            self.bus.emit(CallRouted(call_id=call_id, site=site, seat=placement.seat,
                                     outcome=placement.outcome.value))

    async def _place(self, session: AgiSession, call: CallFacts, queued_at: float | None) -> Placement:
        caller = session.request.caller
        if self.screen is not None and not call.handed_over and not call.ivr_done \
                and await self.screen(call.site, caller, call_id=call.call_id):
            return Placement(Outcome.WARNED)
        return await self.router.place(call, session.alive, queued_at)

    @staticmethod
    async def _tell_dialplan(session: AgiSession, placement: Placement) -> None:
        if placement.outcome is Outcome.ABANDONED:
            return
        if placement.target:
            await session.set_variable(ROUTE_VARIABLE, placement.target)
        if placement.outcome in _ACTIONS:
            await session.set_variable(ACTION_VARIABLE, _ACTIONS[placement.outcome])
        if placement.queued_at:
            await session.set_variable(QUEUED_AT_VARIABLE, f"{placement.queued_at:.3f}")


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 else None


def main() -> int:
    """Classic process AGI: the same decision, over stdin/stdout with pyst2."""
    import os
    import sys

    from asterisk.agi import AGI

    from hotline_link.core.logs import configure_logging
    from hotline_link.core.settings import load_settings
    from seat_pool.config import SeatPoolConfig

    # the server checked the whole config; this process reads core's and the seat pool's
    settings = load_settings(sections=(SeatPoolConfig,), unknown_ok=True)
    configure_logging(settings.log_level, stream=sys.stderr)
    # pyst2 echoes the whole AGI environment, caller number included, and every command to
    # the stderr it is given (Asterisk shows it on its console): give it none.
    agi = AGI(stderr=open(os.devnull, "w", encoding="utf-8"))  # lives as long as agi
    site = agi.env.get("agi_arg_1", "")
    agents = {s.id: s.agents for s in settings.sites}
    if site not in agents:
        log.warning("route.unknown_site", site=site)
        return 0
    call_id = agi.get_variable("CHANNEL(linkedid)") or agi.env.get("agi_uniqueid", "")

    async def claim() -> str | None:
        redis = redis_client(settings, decode_responses=True)
        try:
            return await SeatStore(redis, settings.seat_claim_ttl_s).claim_idle(site, agents[site], call_id)
        finally:
            await redis.aclose()

    seat = asyncio.run(claim())
    if seat is not None:
        agi.set_variable(ROUTE_VARIABLE, f"PJSIP/{seat}")
    log.info("call.routed", call_id=call_id, site=site, seat=seat, caller=agi.env.get("agi_callerid", ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
