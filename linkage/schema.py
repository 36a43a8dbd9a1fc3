"""The closed loop's request bodies and its part of the OpenAPI document."""

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


class DispatchBody(Body):
    unit: NonEmptyText  # a unit id of GET /api/units


class FeedbackBody(Body):
    """A unit's step; the service checks the step's order and its fields (wrong_step...)."""

    step: Annotated[NonEmptyText, Field(json_schema_extra={"enum": ["accept", "arrival", "result"]})]
    situation: Annotated[str, StringConstraints(max_length=500)] | None = None
    at: Annotated[float, Field(description="arrival time, POSIX seconds (default now)")] | None = None
    resolved: bool | None = None
    summary: Annotated[str, StringConstraints(max_length=500)] | None = None


class CallbackBody(Body):
    result: Annotated[NonEmptyText, Field(json_schema_extra={"enum": ["满意", "基本满意", "不满意", "未回访"]})]


PATHS: dict[str, Any] = {
    "/api/tickets/{ticket_id}/dispatch": {
        "post": {"summary": "dispatch the ticket to a handling unit (下达指令): by its webhook through the "
                            "outbox (signed, at least once) or by phone; arms the accept deadline",
                 "parameters": [TICKET_ID], "requestBody": body_doc(DispatchBody),
                 "responses": {"201": {"description": "dispatched, queued to the next working period (level 3), "
                                                      "or given to the supervisor (an emergency off hours)"},
                               "200": {"description": "already dispatched to this unit (no-op)"},
                               **COMMON_ERRORS}},
        "get": {"summary": "the ticket's dispatch, open deadlines, red flag, repeat count and the units the "
                           "catalog recommendation proposes",
                "parameters": [TICKET_ID], "responses": {"200": {"description": "dispatch state"}, **COMMON_ERRORS}}},
    "/api/tickets/{ticket_id}/feedback": {"post": {
        "summary": "a unit's feedback (反馈回写), unit token: accept, arrival (situation, optional at) or "
                   "result (resolved, summary); repeating a step is a no-op",
        "parameters": [TICKET_ID], "requestBody": body_doc(FeedbackBody),
        "responses": {"200": {"description": "the dispatch after the step"}, **COMMON_ERRORS}}},
    "/api/tickets/{ticket_id}/callback": {"post": {
        "summary": "record the satisfaction callback (回访) of a resolved ticket; never for restricted "
                   "tickets or anonymous callers",
        "parameters": [TICKET_ID], "requestBody": body_doc(CallbackBody),
        "responses": {"200": {"description": "the dispatch with its callback"}, **COMMON_ERRORS}}},
    "/api/callback-optout/{number}": {
        method: {"summary": summary, "parameters": [
            {"name": "number", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": "^\\+?[0-9]{3,20}$"},
             "description": "the caller's number (3 to 20 digits, a leading + allowed)"}],
            "responses": {"200": {"description": "{number (masked), opted_out}"},
                          "400": error_doc("not a caller number of 3 to 20 digits (bad_number)"),
                          **{k: v for k, v in COMMON_ERRORS.items() if k != "400"}}}
        for method, summary in (
            ("put", "opt the number out of the satisfaction callback (回访): its tickets are never "
                    "called back (agent, supervisor or admin)"),
            ("delete", "opt the number back in: it may be called back again"),
            ("get", "whether the number opted out of the satisfaction callback"))},
    "/api/tickets/{ticket_id}/voice-notes/{name}": {"get": {
        "summary": "a voice note a unit left on the feedback line (反馈回写 by phone), as WAV; its name "
                   "is on the ticket's timeline (linkage.voice_note, field note)",
        "parameters": [TICKET_ID, {"name": "name", "in": "path", "required": True,
                                    "schema": {"type": "string", "pattern": "^[0-9A-Za-z][0-9A-Za-z_.-]{0,99}$"}}],
        "responses": {"200": {"description": "the note (audio/wav)",
                              "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}},
                      **COMMON_ERRORS}}},
    "/api/linkage/flags": {"get": {
        "summary": "red flags by ticket: 督办 (supervised), 提级 (escalated), 双哨联办 (joint), off-duty "
                   "emergencies (supervisor)",
        "responses": {"200": {"description": "flags"}, **COMMON_ERRORS}}},
    "/api/units": {"get": {
        "summary": "the handling units directory (联动单位) of the jurisdiction, without secrets",
        "responses": {"200": {"description": "units"}, **COMMON_ERRORS}}},
    "/supervisor/report": {"get": {
        "summary": "the linkage report (supervisor): per platform and unit, handovers by mode, dispatch, "
                   "on-time arrival, 解决率, 满意度, 督办/提级, 回流, repeat calls",
        "parameters": [{"name": "from", "in": "query", "required": False,
                        "schema": {"type": "string", "format": "date"}},
                       {"name": "to", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
                       {"name": "format", "in": "query", "required": False,
                        "schema": {"enum": ["html", "csv", "json"], "default": "html"}}],
        "responses": {"200": {"description": "the report", "content": {
            "text/html": {}, "text/csv": {}, "application/json": {}}}, **COMMON_ERRORS}}},
}
