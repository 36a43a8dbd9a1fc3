"""Tickets' request and response bodies and their part of the OpenAPI document."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from hotline_link.core.logs import mask_number
from hotline_link.web.bodies import Body, NonEmptyText, Reply
from hotline_link.web.openapi import (
    COMMON_ERRORS,
    TICKET_ID,
    body_doc,
    component_schemas,
    error_doc,
    json_doc,
)
from tickets.recordings import RECORDING_NAME
from tickets.store import Ticket

Text200 = Annotated[str, StringConstraints(max_length=200)]
MAX_TAGS = 10
# a tag (专题/标签): 1 to 20 characters, none of them a control character
Tag = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")]


class TicketChanges(Body, extra="forbid"):
    """The fields an agent may set on a ticket (PATCH); any other field is refused."""

    category: Text200 | None = None
    summary: Text200 | None = None  # 地点和情况
    handling_unit: Text200 | None = None
    division_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] | None = None  # 行政区划代码
    emergency: bool | None = None
    restricted: bool | None = None  # 110 only; clearing it is for supervisors
    severity: Literal["normal", "major"] | None = None  # major: leadership is told when it is dispatched
    # 专题/标签: the whole list (replaces the ticket's), at most 10, each 1-20 characters
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] | None = None


class PushBody(Body):
    target: Annotated[NonEmptyText, Field(json_schema_extra={"enum": ["12345", "110"]})]  # checked by PushService


class ClassifyBody(Body):
    text: NonEmptyText  # the first 2000 characters are read


class TicketView(Reply):
    """A ticket as the HTTP API shows it: every stored field, the caller masked."""

    id: str
    site: str  # the platform that owns the ticket (12345 or 110)
    call_id: str  # the call that opened it ("" for a ticket pushed in)
    category: str
    summary: str
    source_platform: str  # the platform that handed the case over ("" if none)
    created_at: float
    source_ticket: str  # that platform's ticket id
    caller: str  # masked (138****1234)
    division_code: str
    emergency: bool
    restricted: bool
    handling_unit: str
    channel: str  # web, sms, app, wechat: the channel a ticket opened without a call came by ("" else)
    channel_source: str  # the connected system (its channel token's name) or "agent:<id>" that sent it
    received_at: float  # when the channel got the report (0 if it came by a call or a push)
    external_id: str  # the channel's own message id ("" if none)
    severity: str  # normal or major
    tags: list[str]  # 专题/标签 set by agents and supervisors (rule tags of the analysis are not stored)

    @classmethod
    def of(cls, ticket: Ticket) -> TicketView:
        return cls.model_validate({**asdict(ticket), "caller": mask_number(ticket.caller)})


class StoryEntry(Reply):
    """One step of a ticket's story, from the stream of one of its calls."""

    id: str  # the Redis stream entry id
    event: str  # call.answered, transfer.dialling, linkage.dispatched...
    at: float
    data: dict[str, Any]  # the event's fields (caller numbers masked); per event
    ticket_id: str  # the ticket (this one or a related one) whose call it belongs to


class FirstAnswered(Reply):
    """首接: the platform whose agent answered the case first."""

    site: str | None
    agent: str | None
    at: float
    call_id: str | None


class FirstAnsweredAcross(FirstAnswered):
    """首接 when each platform runs its own deployment: where it was learnt. ``messages``:
    the case came by a handover of a call answered on the sender's platform (``site``; its
    agent is not told, so ``agent`` is null); ``calls``: one of this platform's own calls."""

    source: Literal["calls", "messages"]


class TicketStory(Reply):
    ticket: TicketView
    related_tickets: list[str]  # the other platform's tickets of the same case
    # FirstAnsweredAcross when the exchange channel runs here (two deployments), else FirstAnswered
    first_answered: FirstAnsweredAcross | FirstAnswered | None
    events: list[StoryEntry]  # in time order


class PushQueued(Reply):
    push_id: str
    state: Literal["queued"]
    bounced: bool  # going back to the platform it came from (回流)
    emergency: bool


class PushReceived(Reply):
    ticket_id: str  # this platform's ticket
    duplicate: bool  # the push had been received before


class PlatformPushStats(Reply):
    pushed: int
    received: int
    bounced_out: int
    bounced_in: int
    duplicates: int


class PushStats(Reply):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    platform_12345: PlatformPushStats = Field(alias="12345")
    platform_110: PlatformPushStats = Field(alias="110")
    outbox_pending: int
    dead_letters: int


class Classification(Reply):
    """Where a matter belongs, by the catalog recommender."""

    platform: str
    category: str
    sub_category: str
    matter: str
    entry_id: str
    responsible_unit: str
    confidence: float
    emergency: bool
    reasons: list[str]


class RecordingView(Reply):
    name: str = Field(description="{call id}-{part}.wav: a part per stretch the site recorded")
    call_id: str
    part: int
    bytes: int
    seconds: float
    started_at: float


class TicketRecordings(Reply):
    ticket_id: str
    recordings: list[RecordingView]


REPLIES = (TicketStory, TicketView, PushQueued, PushReceived, PushStats, Classification,
           TicketRecordings)

PATHS: dict[str, Any] = {
    "/api/tickets/{ticket_id}/timeline": {"get": {
        "summary": "a ticket's whole story across both platforms (calls, transfers, conferences), "
                   "with first_answered (首接) and the related ticket of the other platform",
        "parameters": [TICKET_ID],
        "responses": {"200": json_doc(TicketStory, "timeline"), **COMMON_ERRORS}}},
    "/api/tickets/{ticket_id}": {"patch": {
        "summary": "set a ticket's category, summary, division_code (6 digits), emergency, "
                   "restricted, handling_unit, severity (normal or major), tags (at most 10, each 1-20 "
                   "characters, no control characters; the whole list)",
        "parameters": [TICKET_ID], "requestBody": body_doc(TicketChanges),
        "responses": {"200": json_doc(TicketView, "the ticket (caller masked)"), **COMMON_ERRORS}}},
    "/api/tickets/{ticket_id}/push": {"post": {
        "summary": "system push (系统推送) of the ticket to the other platform, through the outbox",
        "parameters": [TICKET_ID], "requestBody": body_doc(PushBody),
        "responses": {"202": json_doc(PushQueued, "queued; delivered at least once"),
                      **COMMON_ERRORS}}},
    "/api/intake/push": {"post": {
        "security": [], "summary": "receive a push from the other platform (HMAC-signed: "
                                   "X-HL-Timestamp, X-HL-Signature); idempotent on push_id",
        "responses": {"201": json_doc(PushReceived, "ticket created"),
                      "200": json_doc(PushReceived, "already received (duplicate)"),
                      "400": error_doc("malformed push"), "401": error_doc("bad signature")}}},
    "/api/push/stats": {"get": {
        "summary": "pushed, received, bounced (回流) per platform; outbox and dead letters (supervisor)",
        "responses": {"200": json_doc(PushStats, "stats"), **COMMON_ERRORS}}},
    "/api/classify": {"post": {
        "summary": "where a matter belongs: platform, catalog entry, unit, confidence",
        "requestBody": body_doc(ClassifyBody),
        "responses": {"200": json_doc(Classification, "recommendation"), **COMMON_ERRORS}}},
    "/api/tickets/{ticket_id}/recordings": {"get": {
        "summary": "the ticket's call recordings at this platform (全程录音): supervisors, and agents "
                   "who handled the ticket",
        "parameters": [TICKET_ID],
        "responses": {"200": json_doc(TicketRecordings, "recordings, oldest first"), **COMMON_ERRORS}}},
    "/api/tickets/{ticket_id}/recordings/{name}": {"get": {
        "summary": "one recording as WAV",
        "parameters": [TICKET_ID, {"name": "name", "in": "path", "required": True,
                                   "schema": {"type": "string", "pattern": RECORDING_NAME.pattern}}],
        "responses": {"200": {"description": "the recording (audio/wav)",
                              "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}},
                      **COMMON_ERRORS}}},
}

SCHEMAS: dict[str, Any] = component_schemas(*REPLIES)
