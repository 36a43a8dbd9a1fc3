"""The seat pool's request and response bodies, and its part of the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from hotline_link.web.bodies import Body, NonEmptyText, Reply
from hotline_link.web.openapi import (
    AGENT,
    COMMON_ERRORS,
    body_doc,
    component_schemas,
    json_doc,
)
from seat_pool.state import SeatState


class PauseBody(Body):
    reason: NonEmptyText  # why the seat pauses (kept to 80 characters)


class SeatStates(Reply):
    """Every seat's state, by site."""

    seats: Annotated[dict[str, dict[str, SeatState]], Field(description="site id -> seat -> state")]


class AgentSeatState(Reply):
    """An agent's seat after a pause or a ready."""

    agent: str
    site: str
    state: SeatState
    reason: str | None  # why it is paused; null once ready


SCHEMAS: dict[str, Any] = component_schemas(SeatStates, AgentSeatState)

PATHS: dict[str, Any] = {
    "/api/seats": {"get": {"summary": "seat states per site (supervisor)",
                           "responses": {"200": json_doc(SeatStates, "seats"), **COMMON_ERRORS}}},
    "/api/agents/{agent}/pause": {"post": {
        "summary": "pause the agent's seat with a reason (no calls routed to it)",
        "parameters": [AGENT], "requestBody": body_doc(PauseBody),
        "responses": {"200": json_doc(AgentSeatState, "the seat's state"), **COMMON_ERRORS}}},
    "/api/agents/{agent}/ready": {"post": {
        "summary": "end a pause or wrap-up: the seat takes calls again", "parameters": [AGENT],
        "responses": {"200": json_doc(AgentSeatState, "the seat's state"), **COMMON_ERRORS}}},
}
