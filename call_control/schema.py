"""Call control's request bodies and its part of the OpenAPI document."""

from __future__ import annotations

from typing import Any

from hotline_link.web.bodies import Body, NonEmptyText
from hotline_link.web.openapi import (
    AGENT,
    AGENT_QUERY,
    CALL_ID,
    COMMON_ERRORS,
    body_doc,
    error_doc,
    json_doc,
)


class TargetBody(Body):
    """Where to send the caller (transfer) or whom to add (three-way call)."""

    target: NonEmptyText  # a directory name: 110, 12345, 119, 120...
    category: str | None = None  # transfer only: the ticket's category (max 40), sent along
    summary: str | None = None  # transfer only: 地点和情况 (max 120), sent along


SCHEMAS: dict[str, Any] = {
    "AgentCall": {"type": "object", "required": ["call_id", "site", "caller", "state"], "properties": {
        "call_id": {"type": "string"}, "site": {"type": "string"},
        "caller": {"type": "string", "description": "masked, e.g. 138****1234"},
        "state": {"enum": ["ringing", "talking", "conference"]},
        "ticket_id": {"type": ["string", "null"]},
        "ticket": {"type": ["object", "null"]}}},
    "Transfer": {"type": "object", "required": ["transfer_id", "call_id", "target", "state"], "properties": {
        "transfer_id": {"type": "string"}, "call_id": {"type": "string"},
        "target": {"type": "string"}, "ticket_id": {"type": "string"},
        "state": {"enum": ["requested", "dialling", "ringing", "answered", "failed", "caller_gone"]},
        "reason": {"type": ["string", "null"]}}},
    "Conference": {"type": "object", "required": ["call_id", "room", "state", "parties"], "properties": {
        "call_id": {"type": "string"}, "room": {"type": "string"}, "ticket_id": {"type": "string"},
        "target": {"type": "string"},
        "state": {"enum": ["starting", "dialling", "joined", "no_answer", "ended"]},
        "parties": {"type": "array", "items": {"type": "string"}}}},
}

PATHS: dict[str, Any] = {
    "/api/calls": {"get": {"summary": "active calls (supervisor)",
                           "responses": {"200": {"description": "calls"}, **COMMON_ERRORS}}},
    "/api/agents/{agent}/call": {"get": {
        "summary": "the agent's current call", "parameters": [AGENT],
        "responses": {"200": json_doc("AgentCall", "the call"), **COMMON_ERRORS}}},
    "/api/agents/{agent}/events": {"get": {
        "summary": "WebSocket: ringing (with ticket; transferred_in for a handed-over case), "
                   "answered, transfer_*, conference_*, hung_up. Browsers may pass ?token=.",
        "parameters": [AGENT],
        "responses": {"101": {"description": "switching to WebSocket"}, **COMMON_ERRORS}}},
    "/api/calls/{call_id}": {"get": {
        "summary": "a call's recorded events and its ticket", "parameters": [CALL_ID],
        "responses": {"200": {"description": "the call's story"}, **COMMON_ERRORS}}},
    "/api/calls/{call_id}/transfer": {"post": {
        "summary": "one-click blind transfer (一键转接) of the caller to a directory target",
        "parameters": [CALL_ID, AGENT_QUERY, {
            "name": "wait", "in": "query", "required": False,
            "schema": {"enum": ["answer", "ring", "none"], "default": "answer"},
            "description": "answer: until the target answers or fails; ring: until it rings; none: at once"}],
        "requestBody": body_doc(TargetBody),
        "responses": {"200": json_doc("Transfer", "answered by the target"),
                      "202": json_doc("Transfer", "accepted, still dialling or ringing"),
                      "410": error_doc("the caller hung up"),
                      "502": error_doc("target unreachable (trunk down) or Asterisk refused"),
                      "504": error_doc("the target did not answer; the caller went back to the agent"),
                      **COMMON_ERRORS}}},
    "/api/calls/{call_id}/conference": {
        "post": {"summary": "three-way call (三方通话): dial the target into a room with caller and agent",
                 "parameters": [CALL_ID, AGENT_QUERY, {"name": "wait", "in": "query", "required": False,
                                                         "schema": {"enum": ["true", "false"]}}],
                 "requestBody": body_doc(TargetBody),
                 "responses": {"200": json_doc("Conference", "the target joined"),
                               "202": json_doc("Conference", "dialling"),
                               "502": error_doc("Asterisk refused"),
                               "504": error_doc("no answer; caller and agent stay in the room"),
                               **COMMON_ERRORS}},
        "get": {"summary": "the call's three-way call", "parameters": [CALL_ID, AGENT_QUERY],
                "responses": {"200": json_doc("Conference", "the conference"), **COMMON_ERRORS}}},
    "/api/calls/{call_id}/conference/{party}": {"delete": {
        "summary": "an agent leaves the three-way call (refused if the caller would be alone)",
        "parameters": [CALL_ID, AGENT_QUERY,
                       {"name": "party", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"202": json_doc("Conference", "leaving"), **COMMON_ERRORS}}},
}
