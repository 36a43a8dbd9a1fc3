"""The IVR's request bodies and its part of the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from hotline_link.web.bodies import Body, NonEmptyText
from hotline_link.web.openapi import COMMON_ERRORS, body_doc, error_doc


class FlagBody(Body):
    # HarassmentGuard.flag checks both, with codes of their own (bad_number, bad_reason)
    number: Annotated[NonEmptyText, Field(json_schema_extra={"pattern": "^\\+?[0-9]{3,20}$"})]
    reason: Annotated[NonEmptyText, Field(json_schema_extra={"maxLength": 120})]


PATHS: dict[str, Any] = {
    "/api/harassment": {
        "get": {"summary": "flagged numbers (masked, with a ref DELETE accepts) and the policy "
                           "(max_calls in window_s); supervisor or admin",
                "responses": {"200": {"description": "flags"}, **COMMON_ERRORS}},
        "post": {"summary": "flag a number as harassing (agent, supervisor or admin): its calls get the "
                            "warning prompt and are hung up; logged with who and why",
                 "requestBody": body_doc(FlagBody),
                 "responses": {"201": {"description": "flagged (number masked)"},
                               **COMMON_ERRORS}}},
    "/api/harassment/{number}": {"delete": {
        "summary": "lift a flag (supervisor or admin) and forget the number's recent calls",
        "parameters": [{"name": "number", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "the number, or the ref shown by GET /api/harassment"}],
        "responses": {"200": {"description": "unflagged"},
                      "404": error_doc("the number is not flagged"), **COMMON_ERRORS}}},
}
