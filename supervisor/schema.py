"""The supervisor's request bodies and its part of the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from hotline_link.web.bodies import Body, NonEmptyText
from hotline_link.web.openapi import (
    AGENT,
    COMMON_ERRORS,
    TOKEN_QUERY,
    body_doc,
    error_doc,
)


class ListenBody(Body):
    listener: Annotated[NonEmptyText, Field(json_schema_extra={"pattern": "^[0-9]+$"})]  # the supervisor's seat


PATHS: dict[str, Any] = {
    "/supervisor": {"get": {
        "summary": "the supervisor's live page (HTML, Chinese with an English toggle); open it "
                   "with ?token=<supervisor token>, which it passes on to its stream and actions",
        "parameters": [TOKEN_QUERY],
        "responses": {"200": {"description": "the page", "content": {"text/html": {}}}, **COMMON_ERRORS}}},
    "/api/supervisor/state": {"get": {
        "summary": "every figure of the page: per site seats with state and time in state, occupancy, "
                   "waiting calls and longest wait, overflow, IVR, answer rate (接通率), service level; "
                   "transfers and three-way calls each way in the last hour",
        "responses": {"200": {"description": "the figures"}, **COMMON_ERRORS}}},
    "/api/supervisor/stream": {"get": {
        "summary": "server-sent events: a `snapshot` event (the same JSON as /api/supervisor/state) "
                   "at once, on every change, and at least every 5 s. Browsers pass ?token=.",
        "parameters": [TOKEN_QUERY],
        "responses": {"200": {"description": "text/event-stream", "content": {"text/event-stream": {}}},
                      **COMMON_ERRORS}}},
    "/api/supervisor/history.csv": {"get": {
        "summary": "hourly or daily figures per site from Redis, as CSV (UTC periods)",
        "parameters": [
            {"name": "from", "in": "query", "required": True, "schema": {"type": "string"},
             "description": "first period: 2026-11-24 or 2026-11-24T13 (UTC unless an offset is given)"},
            {"name": "to", "in": "query", "required": True, "schema": {"type": "string"},
             "description": "last period, included"},
            {"name": "by", "in": "query", "required": False,
             "schema": {"enum": ["hour", "day"], "default": "hour"}}],
        "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}},
                      "400": error_doc("from/to missing or not a date, to before from, or more than "
                                    "744 hours / 400 days"),
                      **{k: v for k, v in COMMON_ERRORS.items() if k != "400"}}}},
    "/api/supervisor/agents/{agent}/logout": {"post": {
        "summary": "log the agent out: the seat is offline in the pool (no routed calls) until its "
                   "softphone registers anew or the seat is made ready; a call in progress goes on",
        "parameters": [AGENT],
        "responses": {"200": {"description": "the seat's state"}, **COMMON_ERRORS}}},
    "/api/supervisor/agents/{agent}/listen": {"post": {
        "summary": "listen in (ChanSpy, quiet) to the agent's call: the supervisor's own seat "
                   "`listener` (same site, idle or paused) rings and, on answer, hears the call",
        "parameters": [AGENT], "requestBody": body_doc(ListenBody),
        "responses": {"202": {"description": "the listener's seat is ringing"},
                      "502": error_doc("Asterisk refused the call to the listener"), **COMMON_ERRORS}}},
    "/metrics": {"get": {
        "summary": "the dashboard's figures in the Prometheus text format; needs a supervisor or "
                   "admin bearer token (Prometheus: authorization credentials_file)",
        "responses": {"200": {"description": "text/plain; version=0.0.4",
                              "content": {"text/plain": {}}}, **COMMON_ERRORS}}},
}
