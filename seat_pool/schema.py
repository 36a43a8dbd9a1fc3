"""The seat pool's request bodies and its part of the OpenAPI document."""

from __future__ import annotations

from typing import Any

from hotline_link.web.bodies import Body, NonEmptyText
from hotline_link.web.openapi import (
    AGENT,
    COMMON_ERRORS,
    body_doc,
)


class PauseBody(Body):
    reason: NonEmptyText  # why the seat pauses (kept to 80 characters)


PATHS: dict[str, Any] = {
    "/api/seats": {"get": {"summary": "seat states per site (supervisor)",
                           "responses": {"200": {"description": "seats"}, **COMMON_ERRORS}}},
    "/api/agents/{agent}/pause": {"post": {
        "summary": "pause the agent's seat with a reason (no calls routed to it)",
        "parameters": [AGENT], "requestBody": body_doc(PauseBody),
        "responses": {"200": {"description": "the seat's state"}, **COMMON_ERRORS}}},
    "/api/agents/{agent}/ready": {"post": {
        "summary": "end a pause or wrap-up: the seat takes calls again", "parameters": [AGENT],
        "responses": {"200": {"description": "the seat's state"}, **COMMON_ERRORS}}},
}
