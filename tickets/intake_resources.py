"""HTTP resources of tickets opened without a call: a channel's report, the SMS gateway's
signed webhook."""

from __future__ import annotations

import json

from aiohttp import web

from hotline_link.core.errors import HttpError
from hotline_link.core.settings import SMS_INBOUND_SECRET
from hotline_link.web.auth import Forbidden
from hotline_link.web.bodies import read_body, reply, validate_body
from hotline_link.web.http import SETTINGS, principal_of
from tickets.intake import Report
from tickets.intake_schema import IntakeBody, IntakeOpened, SmsBody, SmsReceived
from tickets.keys import INTAKE
from tickets.schema import Classification, TicketView
from tickets.signing import verify

SMS_SOURCE = "sms-gateway"  # the source of tickets opened by the inbound SMS webhook


async def open_ticket(request: web.Request) -> web.Response:
    """A channel's system opens on the intake platform, an agent on their own."""
    principal = principal_of(request)
    principal.require_role("channel", "agent")
    intake = request.app[INTAKE]
    if principal.role == "agent":
        site = request.app[SETTINGS].site_of_agent(principal.agent)
        if site is None or not site.intake:
            raise Forbidden(f"agent {principal.agent} is not an agent of a platform")
        where, source = intake.site_for(site.id), f"agent:{principal.agent}"
    else:
        where, source = intake.site_for(), principal.channel
    body = await read_body(request, IntakeBody)
    opened = await intake.open(Report(
        channel=body.channel, caller=body.caller, text=body.text, division_code=body.division_code,
        category=body.category or "", received_at=body.received_at, callback=body.callback,
        external_id=body.external_id or ""), source, where)
    return reply(IntakeOpened(ticket=TicketView.of(opened.ticket),
                              recommendation=Classification.model_validate(opened.recommendation.as_dict()),
                              duplicate=not opened.created), status=201 if opened.created else 200)


async def receive_sms(request: web.Request) -> web.Response:
    """The SMS gateway's webhook: signed (HMAC, as a push), not token-authenticated."""
    intake = request.app[INTAKE]
    raw = await request.read()
    verify(request.app[SETTINGS].sms_secrets.get(SMS_INBOUND_SECRET, ""), request.headers.get("X-HL-Timestamp", ""),
           request.headers.get("X-HL-Signature", ""), raw, intake.clock())
    try:  # the body was read to check its signature: parsed here
        claimed = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise HttpError("the SMS body is not JSON (or nested too deeply)") from None
    body = validate_body(claimed, SmsBody)
    opened = await intake.open(Report(channel="sms", caller=body.sender, text=body.text,
                                      received_at=body.received_at, external_id=body.message_id),
                               SMS_SOURCE, intake.site_for())
    return reply(SmsReceived(ticket_id=opened.ticket.id, duplicate=not opened.created),
                 status=201 if opened.created else 200)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/tickets", open_ticket)
    app.router.add_post("/api/intake/sms", receive_sms)
