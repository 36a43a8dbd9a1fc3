"""The callback queue's query and response bodies, and its part of the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from hotline_link.web.bodies import Query, Reply
from hotline_link.web.openapi import COMMON_ERRORS, component_schemas, json_doc, query_parameters

Stage = Literal["pending", "offering", "agent_ringing", "connecting", "retry", "done", "failed", "skipped"]
Source = Literal["ivr", "web", "missed"]


class CallbacksQuery(Query):
    site: Annotated[str | None, Field(default=None, pattern="^[0-9A-Za-z]{1,16}$",
                                      description="the platform (12345, 110); an agent's own by default, "
                                                  "every platform's for a supervisor or admin")]


class CallbackRequestView(Reply):
    """One open callback request, the number masked."""

    id: str
    site: str
    number: Annotated[str, Field(description="masked, e.g. 138****1234")]
    source: Source  # the first request's
    sources: list[Source]  # every request merged into this one
    ticket_id: str | None  # null: a missed call's, until it is offered
    other_tickets: list[str]  # other tickets that asked for the same number
    call_id: str | None  # the call that asked or was missed; null from the web
    stage: Stage
    attempts: int  # citizen attempts made
    max_attempts: int
    agent: str | None  # the agent of the attempt under way
    created_at: float
    due_at: float  # when it is offered next (waiting), or given up if nothing is heard (under way)
    deadline: float | None  # a missed call's: called back by then
    reason: str  # the last outcome's detail (DIALSTATUS, why back in the queue)


class CallbackSite(Reply):
    site: str
    pending: int  # waiting or under way
    requests: list[CallbackRequestView]  # oldest first


class CallbackList(Reply):
    sites: list[CallbackSite]


SCHEMAS: dict[str, Any] = component_schemas(CallbackList, CallbackSite, CallbackRequestView)

PATHS: dict[str, Any] = {
    "/api/callbacks": {"get": {
        "summary": "the callback queue (回电): open requests per platform, oldest first, numbers masked; "
                   "an agent sees their own platform's only, a supervisor or admin every platform's",
        "parameters": query_parameters(CallbacksQuery),
        "responses": {"200": json_doc(CallbackList, "the open callback requests"), **COMMON_ERRORS}}},
}
