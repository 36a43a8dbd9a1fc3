"""The desk's reply bodies (the softphone, the page's embedded config) and its part of the
OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from hotline_link.web.bodies import Reply
from hotline_link.web.openapi import AGENT, COMMON_ERRORS, TOKEN_QUERY, component_schemas, error_doc, json_doc
from seat_pool.state import SeatState

Platform = Literal["12345", "110"]


class SoftphoneConfig(Reply):
    """What the agent's phone registers with: JsSIP in the desk page (``webrtc``), or a desk
    or desktop softphone the page does not register (``sip``: no WebSocket, no password)."""

    mode: Literal["webrtc", "sip"]
    ws_url: Annotated[str | None, Field(description="SIP over secure WebSocket, wss://HOST:PORT/ws (webrtc only)")]
    sip_uri: str  # sip:1021@HOST
    authorization_user: str
    password: Annotated[str | None, Field(description="the agent's own SIP password (webrtc only)")]
    display_name: str


class DeskConfig(Reply):
    """The page's config, embedded in it as JSON (``<script type="application/json"
    id="desk-config">``): who the agent is, where a one-click transfer goes, the phone."""

    agent: str
    site: str
    platform: Platform  # the platform the agent answers for (remote seats: 12345's)
    other_platform: Platform  # where 转110 / 转12345, consult and three-way calls go
    other_number: str | None  # the number the directory dials for it (null: not in the directory)
    wrap_up_s: float  # after-call work before the seat takes calls again
    seat: SeatState | None  # the seat's state when the page was served
    softphone: SoftphoneConfig


PATHS: dict[str, Any] = {
    "/desk": {"get": {
        "summary": "the agent's desk page (坐席工作台; HTML, Chinese with an English toggle): seat state, the "
                   "browser softphone (JsSIP) for a site's webrtc_agents, the screen pop, the ticket's fields and "
                   "one-click transfer, consult, three-way call, push and dispatch. Open it with ?token=<the "
                   "agent's token>; other roles get 403",
        "parameters": [TOKEN_QUERY],
        "responses": {"200": {"description": "the page", "content": {"text/html": {}}},
                      "503": error_doc("softphone_unconfigured: the agent's browser phone has no SIP password "
                                       "in the secrets file"),
                      **{k: v for k, v in COMMON_ERRORS.items() if k != "503"}}}},
    "/api/agents/{agent}/softphone": {"get": {
        "summary": "what the agent's phone registers with: the browser (mode webrtc: wss URL, SIP URI, the "
                   "agent's SIP password) for a site's webrtc_agents, else a desk phone (mode sip). The agent's "
                   "own token only",
        "parameters": [AGENT],
        "responses": {"200": json_doc(SoftphoneConfig, "the softphone"),
                      "503": error_doc("softphone_unconfigured: no SIP password for the agent in the secrets file"),
                      **{k: v for k, v in COMMON_ERRORS.items() if k != "503"}}}},
}

SCHEMAS: dict[str, Any] = component_schemas(SoftphoneConfig)
