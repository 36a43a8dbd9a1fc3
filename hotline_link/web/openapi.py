"""The OpenAPI 3.1 document of the HTTP API, served at ``/api/openapi.json``. A test checks
that every route the app serves is described here and nothing else."""

from __future__ import annotations

from typing import Any


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


_CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "Asterisk linkedid of the call, e.g. hl12345-1795530292.2"}
_TICKET_ID = {"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "string"}}
_AGENT = {"name": "agent", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
_AGENT_QUERY = {"name": "agent", "in": "query", "required": False, "schema": {"type": "string"},
                "description": "supervisor/admin tokens only: the agent acting on the call"}
_TOKEN_QUERY = {"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
                "description": "the bearer token, for browsers that cannot send a header"}
_COMMON_ERRORS = {"400": _error("bad request (bad JSON, unknown target, same platform)"),
                  "401": _error("missing or unknown token"),
                  "403": _error("not this agent's call, or the role may not do this"),
                  "404": _error("no such call / conference"),
                  "409": _error("another operation on the call is in progress, target busy, "
                                "or the caller would be left alone"),
                  "502": _error("Asterisk refused the action or its AMI link is down "
                                "(asterisk_refused, asterisk_error, target_unreachable)"),
                  "503": _error("the shared state (Redis) is out of reach (redis_unavailable); retry")}
_TARGET_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["target"], "additionalProperties": True,
    "properties": {"target": {"type": "string", "description": "a directory name: 110, 12345, 119, 120..."},
                   "category": {"type": "string", "maxLength": 40},
                   "summary": {"type": "string", "maxLength": 120}}}}}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "hotline-link", "version": "0.1.0",
             "description": "Call control between the 12345 hotline and the 110 call center. "
                            "Every route but /health and this document needs "
                            "`Authorization: Bearer <token>`."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
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
        }},
    "security": [{"bearer": []}],
    "paths": {
        "/health": {"get": {"security": [], "summary": "AMI connections and Redis",
                            "responses": {"200": {"description": "healthy"},
                                          "503": {"description": "a site or Redis is unreachable"}}}},
        "/api/openapi.json": {"get": {"security": [], "summary": "this document",
                                      "responses": {"200": {"description": "OpenAPI document"}}}},
        "/api/calls": {"get": {"summary": "active calls (supervisor)",
                               "responses": {"200": {"description": "calls"}, **_COMMON_ERRORS}}},
        "/api/seats": {"get": {"summary": "seat states per site (supervisor)",
                               "responses": {"200": {"description": "seats"}, **_COMMON_ERRORS}}},
        "/api/agents/{agent}/pause": {"post": {
            "summary": "pause the agent's seat with a reason (no calls routed to it)",
            "parameters": [_AGENT], "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}}}}},
            "responses": {"200": {"description": "the seat's state"}, **_COMMON_ERRORS}}},
        "/api/agents/{agent}/ready": {"post": {
            "summary": "end a pause or wrap-up: the seat takes calls again", "parameters": [_AGENT],
            "responses": {"200": {"description": "the seat's state"}, **_COMMON_ERRORS}}},
        "/api/agents/{agent}/call": {"get": {
            "summary": "the agent's current call", "parameters": [_AGENT],
            "responses": {"200": _json("AgentCall", "the call"), **_COMMON_ERRORS}}},
        "/api/agents/{agent}/events": {"get": {
            "summary": "WebSocket: ringing (with ticket; transferred_in for a handed-over case), "
                       "answered, transfer_*, conference_*, hung_up. Browsers may pass ?token=.",
            "parameters": [_AGENT],
            "responses": {"101": {"description": "switching to WebSocket"}, **_COMMON_ERRORS}}},
        "/api/tickets/{ticket_id}/timeline": {"get": {
            "summary": "a ticket's whole story across both platforms (calls, transfers, conferences), "
                       "with first_answered (首接) and the related ticket of the other platform",
            "parameters": [_TICKET_ID],
            "responses": {"200": {"description": "timeline"}, **_COMMON_ERRORS}}},
        "/api/tickets/{ticket_id}": {"patch": {
            "summary": "set a ticket's category, summary, division_code (6 digits), emergency, "
                       "restricted, handling_unit",
            "parameters": [_TICKET_ID], "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "additionalProperties": False, "properties": {
                    "category": {"type": "string"}, "summary": {"type": "string"},
                    "division_code": {"type": "string", "pattern": "^[0-9]{6}$"},
                    "emergency": {"type": "boolean"}, "restricted": {"type": "boolean"},
                    "handling_unit": {"type": "string"}}}}}},
            "responses": {"200": {"description": "the ticket (caller masked)"}, **_COMMON_ERRORS}}},
        "/api/tickets/{ticket_id}/push": {"post": {
            "summary": "system push (系统推送) of the ticket to the other platform, through the outbox",
            "parameters": [_TICKET_ID], "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "required": ["target"],
                           "properties": {"target": {"enum": ["12345", "110"]}}}}}},
            "responses": {"202": {"description": "queued; delivered at least once"},
                          **_COMMON_ERRORS}}},
        "/api/intake/push": {"post": {
            "security": [], "summary": "receive a push from the other platform (HMAC-signed: "
                                       "X-HL-Timestamp, X-HL-Signature); idempotent on push_id",
            "responses": {"201": {"description": "ticket created"},
                          "200": {"description": "already received (duplicate)"},
                          "400": _error("malformed push"), "401": _error("bad signature")}}},
        "/api/push/stats": {"get": {
            "summary": "pushed, received, bounced (回流) per platform; outbox and dead letters (supervisor)",
            "responses": {"200": {"description": "stats"}, **_COMMON_ERRORS}}},
        "/api/classify": {"post": {
            "summary": "where a matter belongs: platform, catalog entry, unit, confidence",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}}}},
            "responses": {"200": {"description": "recommendation"}, **_COMMON_ERRORS}}},
        "/api/calls/{call_id}": {"get": {
            "summary": "a call's recorded events and its ticket", "parameters": [_CALL_ID],
            "responses": {"200": {"description": "the call's story"}, **_COMMON_ERRORS}}},
        "/api/calls/{call_id}/transfer": {"post": {
            "summary": "one-click blind transfer (一键转接) of the caller to a directory target",
            "parameters": [_CALL_ID, _AGENT_QUERY, {
                "name": "wait", "in": "query", "required": False,
                "schema": {"enum": ["answer", "ring", "none"], "default": "answer"},
                "description": "answer: until the target answers or fails; ring: until it rings; none: at once"}],
            "requestBody": _TARGET_BODY,
            "responses": {"200": _json("Transfer", "answered by the target"),
                          "202": _json("Transfer", "accepted, still dialling or ringing"),
                          "410": _error("the caller hung up"),
                          "502": _error("target unreachable (trunk down) or Asterisk refused"),
                          "504": _error("the target did not answer; the caller went back to the agent"),
                          **_COMMON_ERRORS}}},
        "/api/calls/{call_id}/conference": {
            "post": {"summary": "three-way call (三方通话): dial the target into a room with caller and agent",
                     "parameters": [_CALL_ID, _AGENT_QUERY, {"name": "wait", "in": "query", "required": False,
                                                             "schema": {"enum": ["true", "false"]}}],
                     "requestBody": _TARGET_BODY,
                     "responses": {"200": _json("Conference", "the target joined"),
                                   "202": _json("Conference", "dialling"),
                                   "502": _error("Asterisk refused"),
                                   "504": _error("no answer; caller and agent stay in the room"),
                                   **_COMMON_ERRORS}},
            "get": {"summary": "the call's three-way call", "parameters": [_CALL_ID, _AGENT_QUERY],
                    "responses": {"200": _json("Conference", "the conference"), **_COMMON_ERRORS}}},
        "/api/calls/{call_id}/conference/{party}": {"delete": {
            "summary": "an agent leaves the three-way call (refused if the caller would be alone)",
            "parameters": [_CALL_ID, _AGENT_QUERY,
                           {"name": "party", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"202": _json("Conference", "leaving"), **_COMMON_ERRORS}}},
        # --- harassment screening (恶意滋扰): flagged numbers hear a warning, not an agent ---
        "/api/harassment": {
            "get": {"summary": "flagged numbers (masked, with a ref DELETE accepts) and the policy "
                               "(max_calls in window_s); supervisor or admin",
                    "responses": {"200": {"description": "flags"}, **_COMMON_ERRORS}},
            "post": {"summary": "flag a number as harassing (agent, supervisor or admin): its calls get the "
                                "warning prompt and are hung up; logged with who and why",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["number", "reason"], "properties": {
                             "number": {"type": "string", "pattern": "^\\+?[0-9]{3,20}$"},
                             "reason": {"type": "string", "maxLength": 120}}}}}},
                     "responses": {"201": {"description": "flagged (number masked)"},
                                   **_COMMON_ERRORS}}},
        "/api/harassment/{number}": {"delete": {
            "summary": "lift a flag (supervisor or admin) and forget the number's recent calls",
            "parameters": [{"name": "number", "in": "path", "required": True, "schema": {"type": "string"},
                            "description": "the number, or the ref shown by GET /api/harassment"}],
            "responses": {"200": {"description": "unflagged"},
                          "404": _error("the number is not flagged"), **_COMMON_ERRORS}}},
        # --- supervisor dashboard (supervisor or admin tokens; agents get 403) ---
        "/supervisor": {"get": {
            "summary": "the supervisor's live page (HTML, Chinese with an English toggle); open it "
                       "with ?token=<supervisor token>, which it passes on to its stream and actions",
            "parameters": [_TOKEN_QUERY],
            "responses": {"200": {"description": "the page", "content": {"text/html": {}}}, **_COMMON_ERRORS}}},
        "/api/supervisor/state": {"get": {
            "summary": "every figure of the page: per site seats with state and time in state, occupancy, "
                       "waiting calls and longest wait, overflow, IVR, answer rate (接通率), service level; "
                       "transfers and three-way calls each way in the last hour",
            "responses": {"200": {"description": "the figures"}, **_COMMON_ERRORS}}},
        "/api/supervisor/stream": {"get": {
            "summary": "server-sent events: a `snapshot` event (the same JSON as /api/supervisor/state) "
                       "at once, on every change, and at least every 5 s. Browsers pass ?token=.",
            "parameters": [_TOKEN_QUERY],
            "responses": {"200": {"description": "text/event-stream", "content": {"text/event-stream": {}}},
                          **_COMMON_ERRORS}}},
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
                          "400": _error("from/to missing or not a date, to before from, or more than "
                                        "744 hours / 400 days"),
                          **{k: v for k, v in _COMMON_ERRORS.items() if k != "400"}}}},
        "/api/supervisor/agents/{agent}/logout": {"post": {
            "summary": "log the agent out: the seat is offline in the pool (no routed calls) until its "
                       "softphone registers anew or the seat is made ready; a call in progress goes on",
            "parameters": [_AGENT],
            "responses": {"200": {"description": "the seat's state"}, **_COMMON_ERRORS}}},
        "/api/supervisor/agents/{agent}/listen": {"post": {
            "summary": "listen in (ChanSpy, quiet) to the agent's call: the supervisor's own seat "
                       "`listener` (same site, idle or paused) rings and, on answer, hears the call",
            "parameters": [_AGENT], "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "required": ["listener"],
                           "properties": {"listener": {"type": "string", "pattern": "^[0-9]+$"}}}}}},
            "responses": {"202": {"description": "the listener's seat is ringing"},
                          "502": _error("Asterisk refused the call to the listener"), **_COMMON_ERRORS}}},
        "/metrics": {"get": {
            "summary": "the dashboard's figures in the Prometheus text format; needs a supervisor or "
                       "admin bearer token (Prometheus: authorization credentials_file)",
            "responses": {"200": {"description": "text/plain; version=0.0.4",
                                  "content": {"text/plain": {}}}, **_COMMON_ERRORS}}},
        # --- handling units and the closed loop (linkage/resources.py) ---
        "/api/tickets/{ticket_id}/dispatch": {
            "post": {"summary": "dispatch the ticket to a handling unit (下达指令): by its webhook through the "
                                "outbox (signed, at least once) or by phone; arms the accept deadline",
                     "parameters": [_TICKET_ID], "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "required": ["unit"],
                                    "properties": {"unit": {"type": "string",
                                                            "description": "a unit id of GET /api/units"}}}}}},
                     "responses": {"201": {"description": "dispatched, queued to the next working period (level 3), "
                                                          "or given to the supervisor (an emergency off hours)"},
                                   "200": {"description": "already dispatched to this unit (no-op)"},
                                   **_COMMON_ERRORS}},
            "get": {"summary": "the ticket's dispatch, open deadlines, red flag, repeat count and the units the "
                               "catalog recommendation proposes",
                    "parameters": [_TICKET_ID],
                    "responses": {"200": {"description": "dispatch state"}, **_COMMON_ERRORS}}},
        "/api/tickets/{ticket_id}/feedback": {"post": {
            "summary": "a unit's feedback (反馈回写), unit token: accept, arrival (situation, optional at) or "
                       "result (resolved, summary); repeating a step is a no-op",
            "parameters": [_TICKET_ID], "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "required": ["step"], "properties": {
                    "step": {"enum": ["accept", "arrival", "result"]},
                    "situation": {"type": "string", "maxLength": 500},
                    "at": {"type": "number", "description": "arrival time, POSIX seconds (default now)"},
                    "resolved": {"type": "boolean"}, "summary": {"type": "string", "maxLength": 500}}}}}},
            "responses": {"200": {"description": "the dispatch after the step"}, **_COMMON_ERRORS}}},
        "/api/tickets/{ticket_id}/callback": {"post": {
            "summary": "record the satisfaction callback (回访) of a resolved ticket; never for restricted "
                       "tickets or anonymous callers",
            "parameters": [_TICKET_ID], "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "required": ["result"],
                           "properties": {"result": {"enum": ["满意", "基本满意", "不满意", "未回访"]}}}}}},
            "responses": {"200": {"description": "the dispatch with its callback"}, **_COMMON_ERRORS}}},
        "/api/callback-optout/{number}": {
            method: {"summary": summary, "parameters": [
                {"name": "number", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": "^\\+?[0-9]{3,20}$"},
                 "description": "the caller's number (3 to 20 digits, a leading + allowed)"}],
                "responses": {"200": {"description": "{number (masked), opted_out}"},
                              "400": _error("not a caller number of 3 to 20 digits (bad_number)"),
                              **{k: v for k, v in _COMMON_ERRORS.items() if k != "400"}}}
            for method, summary in (
                ("put", "opt the number out of the satisfaction callback (回访): its tickets are never "
                        "called back (agent, supervisor or admin)"),
                ("delete", "opt the number back in: it may be called back again"),
                ("get", "whether the number opted out of the satisfaction callback"))},
        "/api/tickets/{ticket_id}/voice-notes/{name}": {"get": {
            "summary": "a voice note a unit left on the feedback line (反馈回写 by phone), as WAV; its name "
                       "is on the ticket's timeline (linkage.voice_note, field note)",
            "parameters": [_TICKET_ID, {"name": "name", "in": "path", "required": True,
                                        "schema": {"type": "string", "pattern": "^[0-9A-Za-z][0-9A-Za-z_.-]{0,99}$"}}],
            "responses": {"200": {"description": "the note (audio/wav)",
                                  "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}},
                          **_COMMON_ERRORS}}},
        "/api/linkage/flags": {"get": {
            "summary": "red flags by ticket: 督办 (supervised), 提级 (escalated), 双哨联办 (joint), off-duty "
                       "emergencies (supervisor)",
            "responses": {"200": {"description": "flags"}, **_COMMON_ERRORS}}},
        "/api/units": {"get": {
            "summary": "the handling units directory (联动单位) of the jurisdiction, without secrets",
            "responses": {"200": {"description": "units"}, **_COMMON_ERRORS}}},
        "/supervisor/report": {"get": {
            "summary": "the linkage report (supervisor): per platform and unit, handovers by mode, dispatch, "
                       "on-time arrival, 解决率, 满意度, 督办/提级, 回流, repeat calls",
            "parameters": [{"name": "from", "in": "query", "required": False,
                            "schema": {"type": "string", "format": "date"}},
                           {"name": "to", "in": "query", "required": False,
                            "schema": {"type": "string", "format": "date"}},
                           {"name": "format", "in": "query", "required": False,
                            "schema": {"enum": ["html", "csv", "json"], "default": "html"}}],
            "responses": {"200": {"description": "the report", "content": {
                "text/html": {}, "text/csv": {}, "application/json": {}}}, **_COMMON_ERRORS}}},
    },
}
