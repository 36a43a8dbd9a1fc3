"""The route hook: ``AGI(agi://127.0.0.1:4573/route,${SITE})`` on every inbound call.

Claims a seat for the call and sets ``ROUTE_TARGET`` (``PJSIP/1001``). Leaving it empty is
always safe: the dialplan then rings every local seat itself.
"""

from __future__ import annotations

import structlog

from call_control.channel_vars import decode
from hotline_link.agi.server import AgiSession
from hotline_link.bus import EventBus
from hotline_link.settings import Settings
from seat_pool.store import SeatStore
from tickets.store import TicketStore

log = structlog.get_logger(__name__)

ROUTE_VARIABLE = "ROUTE_TARGET"
CALL_FIELDS = "${CHANNEL(linkedid)};${TICKET};${TICKET_FROM};${TICKET_CATEGORY};${TICKET_SUMMARY}"


class RouteHook:
    def __init__(self, settings: Settings, seats: SeatStore, tickets: TicketStore, bus: EventBus) -> None:
        self._agents = {s.id: s.agents for s in settings.sites}
        self.seats = seats
        self.tickets = tickets
        self.bus = bus

    async def _receive_ticket(self, site: str, call_id: str, handed_over: list[str]) -> None:
        """A case handed over by the other platform: open this platform's ticket for it."""
        source_ticket, source, category, summary = (decode(v) for v in handed_over)
        if not source_ticket:
            return
        ticket = await self.tickets.open_for_call(
            site, call_id, category=category, summary=summary, source_platform=source,
            source_ticket=source_ticket)
        log.info("ticket.received", ticket_id=ticket.id, source_ticket=source_ticket, source=source)
        self.bus.publish("ticket.received", call_id=call_id, site=site, ticket_id=ticket.id,
                         source_ticket=source_ticket, source_platform=source,
                         category=ticket.category, summary=ticket.summary)

    async def __call__(self, session: AgiSession) -> None:
        request = session.request
        site = request.args[0] if request.args else ""
        if site not in self._agents:
            log.warning("route.unknown_site", site=site, channel=request.channel)
            return
        # One round trip for everything: values are percent-encoded, so ';' cannot occur in them
        fields = (await session.get_full_variable(CALL_FIELDS)).split(";")
        fields += [""] * (5 - len(fields))
        call_id = fields[0] or request.uniqueid
        with structlog.contextvars.bound_contextvars(call_id=call_id, site=site):
            await self._receive_ticket(site, call_id, fields[1:5])
            seat = await self.seats.claim_idle(site, self._agents[site], call_id)
            if seat is None:
                log.info("call.route_no_seat", caller=request.caller)
                self.bus.publish("call.routed", call_id=call_id, site=site, seat=None)
                return
            await session.set_variable(ROUTE_VARIABLE, f"PJSIP/{seat}")
            log.info("call.routed", seat=seat, caller=request.caller)
            self.bus.publish("call.routed", call_id=call_id, site=site, seat=seat)


def main() -> int:
    """Classic process AGI: the same decision, over stdin/stdout with pyst2."""
    import asyncio
    import os
    import sys

    from asterisk.agi import AGI
    from redis.asyncio import Redis

    from hotline_link.logs import configure_logging
    from hotline_link.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, stream=sys.stderr)
    # pyst2 echoes the whole AGI environment, caller number included, and every command to
    # the stderr it is given (Asterisk shows it on its console): give it none.
    agi = AGI(stderr=open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as agi
    site = agi.env.get("agi_arg_1", "")
    agents = {s.id: s.agents for s in settings.sites}
    if site not in agents:
        log.warning("route.unknown_site", site=site)
        return 0
    call_id = agi.get_variable("CHANNEL(linkedid)") or agi.env.get("agi_uniqueid", "")

    async def claim() -> str | None:
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
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
