"""Call control's request and response bodies, and its part of the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from call_control.conference.state import ConferenceState
from call_control.consult.state import ConsultState
from call_control.transfer.state import TransferState
from hotline_link.web.bodies import Body, NonEmptyText, Reply
from hotline_link.web.openapi import (
    AGENT,
    AGENT_QUERY,
    CALL_ID,
    COMMON_ERRORS,
    body_doc,
    component_schemas,
    error_doc,
    json_doc,
)


class TargetBody(Body):
    """Where to send the caller (transfer) or whom to add (three-way call)."""

    target: NonEmptyText  # a directory name: 110, 12345, 119, 120...
    category: str | None = None  # the ticket's category (max 40), sent along
    summary: str | None = None  # 地点和情况 (max 120), sent along


class AgentCallTicket(Reply):
    """The call's ticket, as the agent's desktop shows it beside the call."""

    id: str
    category: str
    summary: str
    source_platform: str | None  # the platform that handed the case over, if any
    source_ticket: str | None  # that platform's ticket id


class AgentCall(Reply):
    """The call an agent is on (or whose phone rings)."""

    call_id: str
    site: str
    caller: Annotated[str, Field(description="masked, e.g. 138****1234")]
    state: Literal["ringing", "talking", "conference"]
    ticket_id: str | None
    ticket: AgentCallTicket | None


class ScreenTicket(Reply):
    """The call's ticket on the screen pop. Content of a restricted ticket of another
    platform is never shown (null)."""

    id: str
    category: str | None
    summary: str | None
    division_code: str | None  # 行政区划代码, null until known
    emergency: bool | None
    severity: str | None  # normal or major (重大: the leadership is told when it is dispatched)
    restricted: bool  # 涉密、涉稳...: never shared with the other platform
    source_platform: str | None  # the platform that handed the case over, if any
    source_ticket: str | None  # that platform's ticket id
    source_category: str | None  # what that platform said of the case, when known here and shareable
    source_summary: str | None


class ScreenRecommendation(Reply):
    """Where the transfer catalog says the matter belongs, from the ticket's category and summary."""

    platform: str
    category: str
    emergency: bool
    confidence: float


class ScreenOpenTicket(Reply):
    """Another open ticket of the caller's number on this platform."""

    id: str
    category: str | None
    summary: str | None
    created_at: float  # unix time
    status: str | None  # its closed loop's state (not_dispatched, dispatched...), null where none runs


class ScreenRecentCall(Reply):
    """An earlier call of the caller's number to this platform."""

    call_id: str
    started_at: float  # unix time
    answered_by: str | None  # the answering device (PJSIP/1001), null if nobody answered


class AgentScreen(Reply):
    """The screen pop (弹屏): the call ringing at (or answered by) the agent, its ticket, the
    catalog's recommendation, and what the caller's number did before. An anonymous or
    implausible number has no history: empty lists, not a repeat caller."""

    call_id: str
    site: str
    caller: Annotated[str, Field(description="masked, e.g. 138****1234")]
    state: Literal["ringing", "talking", "conference"]
    ticket: ScreenTicket | None
    recommendation: ScreenRecommendation | None
    open_tickets: Annotated[list[ScreenOpenTicket], Field(description="newest first, at most 5")]
    recent_calls: Annotated[list[ScreenRecentCall], Field(description="newest first, at most 5; not this call")]
    repeat_caller: Annotated[bool, Field(description="the number called this platform within the last 24 h")]


class Transfer(Reply):
    """A blind transfer of the caller to a directory target, and how far it got."""

    transfer_id: str
    call_id: str
    target: str
    ticket_id: str
    state: TransferState
    reason: str | None  # why it failed (target_busy, no_answer...), else null


class Consult(Reply):
    """A warm transfer (咨询转接): the caller on hold while the agent talks to the target."""

    consult_id: str
    call_id: str
    target: str
    ticket_id: str
    state: ConsultState
    reason: str | None  # why it ended without completing (target_busy, cancelled...), else null


class Conference(Reply):
    """A three-way call: its ConfBridge room and who is in it."""

    call_id: str
    room: str
    ticket_id: str
    target: str
    state: ConferenceState
    parties: Annotated[list[str], Field(description="agents by seat, the target by the number dialled, "
                                                    "the caller as `caller`; sorted")]


class ActiveCall(Reply):
    """A call in progress on one of the sites."""

    call_id: str
    site: str
    caller: Annotated[str, Field(description="masked, e.g. 138****1234")]
    answered_by: str | None  # the answering device (PJSIP/1001), null while ringing or queued
    started_at: float  # unix time


class ActiveCalls(Reply):
    calls: list[ActiveCall]


class CallStoryEvent(Reply):
    """One recorded event of a call (the timeline's entry)."""

    id: str  # the entry's id in the call's stream
    event: str  # the bus event's name: call.started, transfer.answered...
    at: float  # unix time
    data: dict[str, Any]  # the event's fields, caller numbers masked


class CallStory(Reply):
    """A call's recorded events, live or ended, and its ticket."""

    call_id: str
    ticket_id: str | None
    active: bool
    events: list[CallStoryEvent]


SCHEMAS: dict[str, Any] = component_schemas(AgentCall, AgentScreen, Transfer, Consult, Conference, ActiveCalls,
                                            CallStory)

PATHS: dict[str, Any] = {
    "/api/calls": {"get": {"summary": "active calls (supervisor)",
                           "responses": {"200": json_doc(ActiveCalls, "calls"), **COMMON_ERRORS}}},
    "/api/agents/{agent}/call": {"get": {
        "summary": "the agent's current call", "parameters": [AGENT],
        "responses": {"200": json_doc(AgentCall, "the call"), **COMMON_ERRORS}}},
    "/api/agents/{agent}/screen": {"get": {
        "summary": "the screen pop (弹屏) of the agent's current call: its ticket, the catalog's recommendation, "
                   "the caller number's open tickets and recent calls",
        "parameters": [AGENT],
        "responses": {"200": json_doc(AgentScreen, "the screen"), **COMMON_ERRORS}}},
    "/api/agents/{agent}/events": {"get": {
        "summary": "WebSocket: ringing (with ticket; transferred_in for a handed-over case), "
                   "answered, transfer_*, conference_*, hung_up. Browsers may pass ?token=.",
        "parameters": [AGENT],
        "responses": {"101": {"description": "switching to WebSocket"}, **COMMON_ERRORS}}},
    "/api/calls/{call_id}": {"get": {
        "summary": "a call's recorded events and its ticket", "parameters": [CALL_ID],
        "responses": {"200": json_doc(CallStory, "the call's story"), **COMMON_ERRORS}}},
    "/api/calls/{call_id}/transfer": {"post": {
        "summary": "one-click blind transfer (一键转接) of the caller to a directory target",
        "parameters": [CALL_ID, AGENT_QUERY, {
            "name": "wait", "in": "query", "required": False,
            "schema": {"enum": ["answer", "ring", "none"], "default": "answer"},
            "description": "answer: until the target answers or fails; ring: until it rings; none: at once"}],
        "requestBody": body_doc(TargetBody),
        "responses": {"200": json_doc(Transfer, "answered by the target"),
                      "202": json_doc(Transfer, "accepted, still dialling or ringing"),
                      "410": error_doc("the caller hung up"),
                      "502": error_doc("target unreachable (trunk down) or Asterisk refused"),
                      "504": error_doc("the target did not answer; the caller went back to the agent"),
                      **COMMON_ERRORS}}},
    "/api/calls/{call_id}/consult": {"post": {
        "summary": "warm transfer (咨询转接): the caller on hold with music, the target rung with the ticket; "
                   "answers once the target answered",
        "parameters": [CALL_ID, AGENT_QUERY],
        "requestBody": body_doc(TargetBody),
        "responses": {"200": json_doc(Consult, "the target answered: talk, then complete or cancel"),
                      "202": json_doc(Consult, "still ringing"),
                      "409": error_doc("target busy, or a consult or transfer is already under way"),
                      "410": error_doc("the caller hung up"),
                      "502": error_doc("target unreachable or Asterisk refused; the caller is back with the agent"),
                      "504": error_doc("the target did not answer; the caller is back with the agent"),
                      **COMMON_ERRORS}}},
    "/api/calls/{call_id}/consult/complete": {"post": {
        "summary": "join the caller and the consulted target; the agent leaves the call",
        "parameters": [CALL_ID, AGENT_QUERY],
        "responses": {"200": json_doc(Consult, "completed"),
                      "404": error_doc("no consult on this call"),
                      "409": error_doc("the target has not answered yet"), **COMMON_ERRORS}}},
    "/api/calls/{call_id}/consult/cancel": {"post": {
        "summary": "end the consult; the caller is back with the agent",
        "parameters": [CALL_ID, AGENT_QUERY],
        "responses": {"200": json_doc(Consult, "cancelled"), "404": error_doc("no consult on this call"),
                      **COMMON_ERRORS}}},
    "/api/calls/{call_id}/conference": {
        "post": {"summary": "three-way call (三方通话): dial the target into a room with caller and agent; a "
                            "category and summary given go on the ticket and along with it",
                 "parameters": [CALL_ID, AGENT_QUERY, {"name": "wait", "in": "query", "required": False,
                                                         "schema": {"enum": ["true", "false"]}}],
                 "requestBody": body_doc(TargetBody),
                 "responses": {"200": json_doc(Conference, "the target joined"),
                               "202": json_doc(Conference, "dialling"),
                               "502": error_doc("Asterisk refused"),
                               "504": error_doc("no answer; caller and agent stay in the room"),
                               **COMMON_ERRORS}},
        "get": {"summary": "the call's three-way call", "parameters": [CALL_ID, AGENT_QUERY],
                "responses": {"200": json_doc(Conference, "the conference"), **COMMON_ERRORS}}},
    "/api/calls/{call_id}/conference/{party}": {"delete": {
        "summary": "an agent leaves the three-way call (refused if the caller would be alone)",
        "parameters": [CALL_ID, AGENT_QUERY,
                       {"name": "party", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"202": json_doc(Conference, "leaving"), **COMMON_ERRORS}}},
}
