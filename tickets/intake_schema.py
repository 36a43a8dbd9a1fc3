"""The bodies of tickets opened without a call (``tickets.intake``): a channel's report,
an SMS from the gateway, and the answers; their part of the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from hotline_link.web.bodies import Body, Reply
from hotline_link.web.openapi import COMMON_ERRORS, body_doc, component_schemas, error_doc, json_doc
from tickets.intake import MAX_TEXT_CHARS
from tickets.schema import Classification, Text200, TicketView

Channel = Literal["web", "sms", "app", "wechat"]
Caller = Annotated[str, StringConstraints(max_length=40)]  # checked by tickets.intake.check_report
ReportText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]
ExternalId = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z._:-]{1,128}$")]
Epoch = Annotated[float, Field(allow_inf_nan=False, ge=0, le=1e11)]  # POSIX seconds


class IntakeBody(Body, extra="forbid"):
    """A report from a channel (web, SMS, app, 公众号); a field this does not name is refused."""

    channel: Channel
    caller: Caller  # a phone number; "" or "anonymous" where the channel allows it (not sms)
    text: ReportText  # the citizen's words (地点和情况); the ticket's summary
    division_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]  # 行政区划代码
    category: Text200 | None = None  # else the recommender's
    received_at: Epoch | None = None  # when the channel got it: at most 30 days back; default now
    callback: bool = False  # the citizen asks to be called back (回访 queue)
    external_id: ExternalId | None = None  # the channel's own message id: a retry opens no second ticket


class SmsBody(Body):
    """An SMS the gateway received (signed like a push: X-HL-Timestamp, X-HL-Signature)."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore", populate_by_name=False)

    sender: Caller = Field(alias="from")  # the sender's number
    text: ReportText
    received_at: Epoch | None = None
    message_id: ExternalId  # the gateway's id of the SMS: a retry opens no second ticket


class IntakeOpened(Reply):
    ticket: TicketView
    recommendation: Classification  # the catalog recommender's advice on the text
    duplicate: bool  # the channel's message (external_id) had opened this ticket before


class SmsReceived(Reply):
    ticket_id: str
    duplicate: bool  # the gateway's message_id had opened this ticket before


PATHS: dict[str, Any] = {
    "/api/tickets": {"post": {
        "summary": "open a ticket from a channel (web, SMS, app, 公众号) without a call: channel tokens "
                   "(the intake platform) and agents (their own platform); answers the ticket and the "
                   "catalog recommendation; an emergency cue alerts the supervisors; idempotent on "
                   "external_id per source",
        "requestBody": body_doc(IntakeBody),
        "responses": {"201": json_doc(IntakeOpened, "ticket opened"),
                      "200": json_doc(IntakeOpened, "this external_id opened the ticket before (duplicate)"),
                      "422": error_doc("received_at more than 30 days back or in the future (bad_received_at)"),
                      "409": error_doc("no platform to open it on (no_intake_site)"),
                      **COMMON_ERRORS}}},
    "/api/intake/sms": {"post": {
        "security": [], "summary": "an SMS from the SMS gateway opens a ticket (channel sms); HMAC-signed "
                                   "like a push (X-HL-Timestamp, X-HL-Signature, secret sms_secret); "
                                   "idempotent on message_id",
        "requestBody": body_doc(SmsBody),
        "responses": {"201": json_doc(SmsReceived, "ticket opened"),
                      "200": json_doc(SmsReceived, "already received (duplicate)"),
                      "400": error_doc("malformed SMS (a missing or wrong field, not a number, blank text)"),
                      "401": error_doc("bad or expired signature"),
                      "409": error_doc("no platform to open it on (no_intake_site)"),
                      "422": error_doc("received_at more than 30 days back or in the future (bad_received_at)")}}},
}

REPLIES = (IntakeOpened, SmsReceived)
SCHEMAS: dict[str, Any] = component_schemas(*REPLIES)
