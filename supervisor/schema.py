"""The supervisor's request and response bodies and its part of the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from hotline_link.web.bodies import Body, NonEmptyText, Reply
from hotline_link.web.openapi import (
    AGENT,
    COMMON_ERRORS,
    TOKEN_QUERY,
    body_doc,
    component_schemas,
    error_doc,
    json_doc,
)


class ListenBody(Body):
    listener: Annotated[NonEmptyText, Field(json_schema_extra={"pattern": "^[0-9]+$"})]  # the supervisor's seat


class DashboardSeat(Reply):
    seat: str
    state: str  # offline, idle, ringing, talking, wrap_up, paused
    since: float  # when the seat entered its state (POSIX seconds)
    in_state_s: float


class DashboardSeatCounts(Reply):
    """Seats per state."""

    offline: int
    idle: int
    ringing: int
    talking: int
    wrap_up: int
    paused: int


class DashboardOverflow(Reply):
    active: bool  # calls overflow to the other platform now
    estimated_wait_s: float
    since: float | None  # when overflow last began or ended (null: no change seen)


class SiteFigures(Reply):
    """One site's figures; ``_last_hour`` counts the calls whose outcome fell in the window."""

    seats: list[DashboardSeat]
    seat_counts: DashboardSeatCounts
    logged_in: int
    occupied: int  # ringing, talking or wrap_up
    occupancy: float | None  # occupied / logged in (null: none logged in)
    waiting: int
    waiting_emergency: int
    longest_wait_s: float
    overflow: DashboardOverflow
    ivr_in_progress: int
    answered_last_hour: int
    answered_within_sl_last_hour: int
    lost_last_hour: int
    overflowed_last_hour: int
    series: list[tuple[float, int, float | None]]  # [time, waiting, occupancy] every 10 s
    offered_last_hour: int  # answered + lost
    answer_rate: float | None  # 接通率 (null: no outcome yet)
    service_level: float | None  # answered within service_level_s / (answered + lost)
    # the callback queue (回电): requests waiting or under way, and the last hour's outcomes
    callbacks_pending: int
    callbacks_done_last_hour: int  # the citizen answered
    callbacks_failed_last_hour: int  # every attempt unanswered
    missed_callbacks_made_last_hour: int  # 漏接电话回拨 placed (the agent answered, the citizen dialled)
    missed_callbacks_skipped_answered_last_hour: int  # not made: the number called again and was answered
    callbacks_last_step_at: float | None  # when this instance last saw a step of the site's callbacks (null: none)


class DashboardTransfers(Reply):
    started: int
    answered: int


class DashboardConferences(Reply):
    started: int
    joined: int


class DashboardAlert(Reply):
    at: float
    kind: str  # push.dead, linkage.supervisor_alert, linkage.refused, linkage.police_requested,
    #            linkage.leadership_notified, ticket.intake_alert, exchange.alert, exchange.link
    site: str
    detail: str


class DashboardExchangeAlert(Reply):
    at: float
    kind: str  # exchange.alert, exchange.link
    detail: str


class DashboardExchange(Reply):
    """The exchange link to the other deployment (交互通道) as this server instance sees it;
    ``enabled`` false and ``state`` off with one deployment serving both platforms."""

    enabled: bool
    reason: str  # why it is off
    platform: str | None
    peer_platform: str | None
    state: Literal["off", "unknown", "up", "down", "refused", "key_alert"]
    since: float | None  # when it entered its state
    error: str  # why, in words ("" when up)
    waiting: int  # messages waiting, both ways
    waiting_by_direction: dict[str, int]  # "12345->110": our messages the peer has not taken; the other way,
    #                                       the peer's taken here and not applied yet
    oldest_waiting_s: float | None  # age of the oldest message the peer has not taken (null: none)
    stopped_count: int  # queues stopped by a final refusal (an operator resumes them)
    dead_count: int  # applied messages given up or unreadable
    last_alert: DashboardExchangeAlert | None


class DashboardState(Reply):
    """Every figure of the supervisor's page, as ``/api/supervisor/state`` and each
    ``snapshot`` event of the stream give it."""

    now: float
    window_s: float
    service_level_s: float
    site_order: list[str]  # JavaScript lists integer-like keys first: the page takes the order from here
    sites: dict[str, SiteFigures]
    transfers: dict[str, DashboardTransfers]  # by direction, 12345->110
    conferences: dict[str, DashboardConferences]
    alerts: list[DashboardAlert]
    exchange: DashboardExchange


class AgentLoggedOut(Reply):
    agent: str
    site: str
    state: str  # the seat's state in the pool (offline, or the call still in progress)


class ListenRinging(Reply):
    agent: str
    listener: str
    site: str
    state: Literal["ringing_listener"]
    channel_id: str  # the listener's channel (Originate ChannelId)


REPLIES = (DashboardState, AgentLoggedOut, ListenRinging)

PATHS: dict[str, Any] = {
    "/supervisor": {"get": {
        "summary": "the supervisor's live page (HTML, Chinese with an English toggle); open it "
                   "with ?token=<supervisor token>, which it passes on to its stream and actions",
        "parameters": [TOKEN_QUERY],
        "responses": {"200": {"description": "the page", "content": {"text/html": {}}}, **COMMON_ERRORS}}},
    "/supervisor/analysis": {"get": {
        "summary": "the supervisor's analysis page (联合分析与风险预警, HTML, Chinese with an English toggle): "
                   "risk alerts, a period's figures, hot spots, report packs and the knowledge base panel, read "
                   "from /api/analysis/* and /api/knowledge/* with the token as a bearer header; open it with "
                   "?token=<supervisor token>",
        "parameters": [TOKEN_QUERY],
        "responses": {"200": {"description": "the page", "content": {"text/html": {}}}, **COMMON_ERRORS}}},
    "/api/supervisor/state": {"get": {
        "summary": "every figure of the page: per site seats with state and time in state, occupancy, "
                   "waiting calls and longest wait, overflow, IVR, answer rate (接通率), service level, the "
                   "callback queue (回电: pending, done and failed, missed-call callbacks made and skipped); "
                   "transfers and three-way calls each way in the last hour; alerts; the exchange link to the "
                   "other deployment (交互通道: state, backlog, oldest waiting message)",
        "responses": {"200": json_doc(DashboardState, "the figures"), **COMMON_ERRORS}}},
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
        "responses": {"200": json_doc(AgentLoggedOut, "the seat's state"), **COMMON_ERRORS}}},
    "/api/supervisor/agents/{agent}/listen": {"post": {
        "summary": "listen in (ChanSpy, quiet) to the agent's call: the supervisor's own seat "
                   "`listener` (same site, idle or paused) rings and, on answer, hears the call",
        "parameters": [AGENT], "requestBody": body_doc(ListenBody),
        "responses": {"202": json_doc(ListenRinging, "the listener's seat is ringing"),
                      "502": error_doc("Asterisk refused the call to the listener"), **COMMON_ERRORS}}},
    "/metrics": {"get": {
        "summary": "the dashboard's figures in the Prometheus text format; needs a supervisor or "
                   "admin bearer token (Prometheus: authorization credentials_file)",
        "responses": {"200": {"description": "text/plain; version=0.0.4",
                              "content": {"text/plain": {}}}, **COMMON_ERRORS}}},
}

SCHEMAS: dict[str, Any] = component_schemas(*REPLIES)
