"""Tickets' request bodies and their part of the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from hotline_link.web.bodies import Body, NonEmptyText
from hotline_link.web.openapi import (
    COMMON_ERRORS,
    TICKET_ID,
    body_doc,
    error_doc,
)

Text200 = Annotated[str, StringConstraints(max_length=200)]


class TicketChanges(Body, extra="forbid"):
    """The fields an agent may set on a ticket (PATCH); any other field is refused."""

    category: Text200 | None = None
    summary: Text200 | None = None  # 地点和情况
    handling_unit: Text200 | None = None
    division_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] | None = None  # 行政区划代码
    emergency: bool | None = None
    restricted: bool | None = None  # 110 only; clearing it is for supervisors


class PushBody(Body):
    target: Annotated[NonEmptyText, Field(json_schema_extra={"enum": ["12345", "110"]})]  # checked by PushService


class ClassifyBody(Body):
    text: NonEmptyText  # the first 2000 characters are read


PATHS: dict[str, Any] = {
    "/api/tickets/{ticket_id}/timeline": {"get": {
        "summary": "a ticket's whole story across both platforms (calls, transfers, conferences), "
                   "with first_answered (首接) and the related ticket of the other platform",
        "parameters": [TICKET_ID],
        "responses": {"200": {"description": "timeline"}, **COMMON_ERRORS}}},
    "/api/tickets/{ticket_id}": {"patch": {
        "summary": "set a ticket's category, summary, division_code (6 digits), emergency, "
                   "restricted, handling_unit",
        "parameters": [TICKET_ID], "requestBody": body_doc(TicketChanges),
        "responses": {"200": {"description": "the ticket (caller masked)"}, **COMMON_ERRORS}}},
    "/api/tickets/{ticket_id}/push": {"post": {
        "summary": "system push (系统推送) of the ticket to the other platform, through the outbox",
        "parameters": [TICKET_ID], "requestBody": body_doc(PushBody),
        "responses": {"202": {"description": "queued; delivered at least once"},
                      **COMMON_ERRORS}}},
    "/api/intake/push": {"post": {
        "security": [], "summary": "receive a push from the other platform (HMAC-signed: "
                                   "X-HL-Timestamp, X-HL-Signature); idempotent on push_id",
        "responses": {"201": {"description": "ticket created"},
                      "200": {"description": "already received (duplicate)"},
                      "400": error_doc("malformed push"), "401": error_doc("bad signature")}}},
    "/api/push/stats": {"get": {
        "summary": "pushed, received, bounced (回流) per platform; outbox and dead letters (supervisor)",
        "responses": {"200": {"description": "stats"}, **COMMON_ERRORS}}},
    "/api/classify": {"post": {
        "summary": "where a matter belongs: platform, catalog entry, unit, confidence",
        "requestBody": body_doc(ClassifyBody),
        "responses": {"200": {"description": "recommendation"}, **COMMON_ERRORS}}},
}
