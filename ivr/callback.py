"""The FastAGI ``callback`` route: ``AGI(agi://.../callback,${SITE})`` from the IVR's key 2.

Opens (or reuses) the call's ticket as a callback request (category 回电请求) keeping the
caller's number on it, and answers the dialplan with ``HL_CALLBACK_TICKET``. Without that
variable (server away, anonymous caller, Redis down) the dialplan apologises and puts the
caller through to an agent instead: a caller is never dropped.
"""

from __future__ import annotations

import structlog
from redis.exceptions import RedisError

from hotline_link.asterisk.agi.server import AgiSession
from hotline_link.core.bus import EventBus
from hotline_link.core.events import TicketCallbackRequested
from hotline_link.core.numbers import CallerNumber
from hotline_link.core.settings import Settings
from tickets.store import TicketStore

log = structlog.get_logger(__name__)

CALLBACK_CATEGORY = "回电请求"
CALLBACK_SUMMARY = "来电人在自助语音菜单中请求回电"
TICKET_VARIABLE = "HL_CALLBACK_TICKET"


class CallbackRoute:
    def __init__(self, settings: Settings, tickets: TicketStore, bus: EventBus) -> None:
        self._centers = frozenset(s.id for s in settings.sites if s.intake)
        self.tickets = tickets
        self.bus = bus

    async def __call__(self, session: AgiSession) -> None:
        request = session.request
        site = request.args[0] if request.args else ""
        if site not in self._centers:
            log.warning("callback.unknown_site", site=site, channel=request.channel)
            return
        call_id = await session.get_variable("CHANNEL(linkedid)") or request.uniqueid
        with structlog.contextvars.bound_contextvars(call_id=call_id, site=site):
            caller = CallerNumber.parse(request.caller)
            if caller.is_anonymous:
                log.info("callback.refused", reason="no caller number to call back")
                return
            try:
                ticket = await self.tickets.open_for_call(
                    site, call_id, category=CALLBACK_CATEGORY, summary=CALLBACK_SUMMARY, caller=caller.digits)
                if ticket.category != CALLBACK_CATEGORY or not ticket.caller:
                    # the call already had a ticket (e.g. a case handed over): it now asks for a callback
                    ticket = await self.tickets.update(
                        ticket, category=CALLBACK_CATEGORY if not ticket.category else None,
                        summary=f"{ticket.summary}；{CALLBACK_SUMMARY}" if ticket.summary else CALLBACK_SUMMARY,
                        caller=ticket.caller or caller.digits)
            except RedisError as exc:
                log.error("callback.failed", reason=str(exc))
                return
            await session.set_variable(TICKET_VARIABLE, ticket.id)
            log.info("ticket.callback_requested", ticket_id=ticket.id, caller=caller.masked)
            self.bus.emit(TicketCallbackRequested(ticket_id=ticket.id, call_id=call_id, site=site,
                                                  caller=caller.masked, category=ticket.category))
