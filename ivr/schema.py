"""The IVR's request and response bodies, and its part of the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from hotline_link.web.bodies import Body, NonEmptyText, Reply
from hotline_link.web.openapi import COMMON_ERRORS, body_doc, component_schemas, error_doc, json_doc


class FlagBody(Body):
    # HarassmentGuard.flag checks both, with codes of their own (bad_number, bad_reason)
    number: Annotated[NonEmptyText, Field(json_schema_extra={"pattern": "^\\+?[0-9]{3,20}$"})]
    reason: Annotated[NonEmptyText, Field(json_schema_extra={"maxLength": 120})]


class HarassmentFlag(Reply):
    """A flagged number as the API shows it: masked, with a ref that DELETE accepts."""

    number: Annotated[str, Field(description="masked, e.g. 138****1234")]
    ref: str  # a stable reference that shows nothing of the number
    by: str  # "agent 1001", "supervisor", "admin"
    reason: str
    at: float  # unix time
    site: str  # the flagging agent's platform; "" when a supervisor or admin flagged it


class HarassmentFlags(Reply):
    """The screening policy (more than max_calls in window_s: warned) and the flagged numbers."""

    max_calls: int
    window_s: int
    flagged: list[HarassmentFlag]


class HarassmentUnflagged(Reply):
    unflagged: Annotated[str, Field(description="the number, masked")]
    ref: str


SCHEMAS: dict[str, Any] = component_schemas(HarassmentFlags, HarassmentFlag, HarassmentUnflagged)

PATHS: dict[str, Any] = {
    "/api/harassment": {
        "get": {"summary": "flagged numbers (masked, with a ref DELETE accepts) and the policy "
                           "(max_calls in window_s); supervisor or admin",
                "responses": {"200": json_doc(HarassmentFlags, "flags"), **COMMON_ERRORS}},
        "post": {"summary": "flag a number as harassing (agent, supervisor or admin): its calls get the "
                            "warning prompt and are hung up; logged with who and why",
                 "requestBody": body_doc(FlagBody),
                 "responses": {"201": json_doc(HarassmentFlag, "flagged (number masked)"),
                               **COMMON_ERRORS}}},
    "/api/harassment/{number}": {"delete": {
        "summary": "lift a flag (supervisor or admin) and forget the number's recent calls",
        "parameters": [{"name": "number", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "the number, or the ref shown by GET /api/harassment"}],
        "responses": {"200": json_doc(HarassmentUnflagged, "unflagged"),
                      "404": error_doc("the number is not flagged"), **COMMON_ERRORS}}},
}
