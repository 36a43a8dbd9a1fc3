"""The knowledge base's query, request and response bodies, and its part of the OpenAPI
document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from hotline_link.web.bodies import Body, Query, Reply
from hotline_link.web.openapi import COMMON_ERRORS, body_doc, component_schemas, error_doc, json_doc, query_parameters

SEARCH_PATH = "/api/knowledge/search"
ENTRIES_PATH = "/api/knowledge/entries"
ENTRY_PATH = "/api/knowledge/entries/{entry_id}"
HISTORY_PATH = "/api/knowledge/entries/{entry_id}/history"
MAX_QUERY = 200

Platform = Literal["12345", "110", "both"]
ENTRY_ID = {"name": "entry_id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}}


class SearchQuery(Query):
    q: Annotated[str | None, Field(default=None, description=f"the question, 1-{MAX_QUERY} characters "
                                                              "(422 bad_query otherwise)")]
    limit: Annotated[int, Field(default=10, ge=1, le=50, description="results at most (of ours, and of the peer's)")]
    category: Annotated[str | None, Field(default=None, max_length=32, description="only this category")]
    platform: Annotated[Literal["12345", "110"] | None, Field(
        default=None, description="only entries answering for this platform (its own or both)")]
    include_peer: Annotated[bool, Field(default=False, description=(
        "also ask the other platform's deployment for its shareable entries (a short timeout); "
        "not for a peer token"))]


class EntriesQuery(Query):
    category: Annotated[str | None, Field(default=None, max_length=32, description="only this category")]


class EntryBody(Body, extra="forbid"):
    """An entry's fields (a full update gives every one; those left out are empty)."""

    question: Annotated[str, Field(min_length=1, max_length=200)]
    answer: Annotated[str, Field(min_length=1, max_length=2000)]
    category: Annotated[str, Field(min_length=1, max_length=32)]
    platform: Platform
    valid_from: Annotated[str | None, Field(default=None, description="YYYY-MM-DD; null: open")]
    valid_to: Annotated[str | None, Field(default=None, description="YYYY-MM-DD, the last day it applies; "
                                                                     "set it to retire the entry")]
    source: Annotated[str, Field(default="", max_length=200)]
    shareable: Annotated[bool, Field(default=False, description="the other platform may see it")]
    ivr_key: Annotated[Literal["", "1", "2", "3", "4"], Field(
        default="", description="the IVR self-service key it answers (its text becomes that prompt)")]
    ivr_label: Annotated[str, Field(default="", max_length=20, description="its words in the self-service menu")]


class NewEntryBody(EntryBody, extra="forbid"):
    id: Annotated[str | None, Field(default=None, pattern="^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                                    description="generated (KB-...) when not given")]


class UpdateEntryBody(EntryBody, extra="forbid"):
    expected_version: Annotated[int | None, Field(default=None, ge=1, description=(
        "the version the editor read: a later one is a 409 (another edit came first)"))]


class SearchResult(Reply):
    id: str
    question: str
    answer: str
    category: str
    platform: str
    source: str
    shareable: bool
    version: int
    score: float
    from_peer: bool  # true: the other platform's deployment's entry


class SearchReply(Reply):
    query: str
    results: list[SearchResult]  # ours best first, then the peer's (include_peer)
    peer_error: str | None  # include_peer and the peer did not answer: why (our results still come)


class EntryView(Reply):
    id: str
    version: int
    question: str
    answer: str
    category: str
    platform: str
    valid_from: str | None
    valid_to: str | None
    valid_now: bool
    source: str
    shareable: bool
    ivr_key: str | None
    ivr_label: str | None
    updated_at: float
    updated_by: str


class EntryList(Reply):
    jurisdiction: str
    entries: list[EntryView]


class FieldChange(Reply):
    before: str
    after: str


class HistoryItem(Reply):
    version: int  # the version this change made
    by: str
    at: float
    change: Literal["created", "updated", "loaded"]
    changes: dict[str, FieldChange]
    previous: dict[str, str] | None  # the version before, whole; null when created


class EntryHistory(Reply):
    id: str
    history: list[HistoryItem]  # newest first


REPLIES = (SearchReply, SearchResult, EntryView, EntryList, EntryHistory, HistoryItem, FieldChange)
SCHEMAS: dict[str, Any] = component_schemas(*REPLIES)
_EDIT_ERRORS = {**COMMON_ERRORS,
                "409": error_doc("the id is taken, the entry changed since expected_version, or another entry "
                                 "answers the same IVR key (entry_conflict)")}

PATHS: dict[str, Any] = {
    SEARCH_PATH: {"get": {
        "summary": "search the knowledge base (一问一答): entries valid today, best first; a peer token (the "
                   "other platform's deployment) sees shareable entries only",
        "parameters": query_parameters(SearchQuery),
        "responses": {"200": json_doc(SearchReply, "the results"),
                      "422": error_doc("q missing, empty or longer than 200 characters (bad_query)"),
                      **COMMON_ERRORS}}},
    ENTRIES_PATH: {
        "get": {"summary": "every entry of the knowledge base (retired ones too: valid_now false)",
                "parameters": query_parameters(EntriesQuery),
                "responses": {"200": json_doc(EntryList, "the entries"), **COMMON_ERRORS}},
        "post": {"summary": "create an entry (supervisor, admin): version 1",
                 "requestBody": body_doc(NewEntryBody),
                 "responses": {"201": json_doc(EntryView, "the entry as stored"), **_EDIT_ERRORS}}},
    ENTRY_PATH: {
        "get": {"summary": "one entry's current version", "parameters": [ENTRY_ID],
                "responses": {"200": json_doc(EntryView, "the entry"), **COMMON_ERRORS}},
        "put": {"summary": "replace an entry's fields (supervisor, admin): its version goes up by one and the "
                           "previous one goes into its history; an IVR answer's prompt is re-synthesised",
                "parameters": [ENTRY_ID], "requestBody": body_doc(UpdateEntryBody),
                "responses": {"200": json_doc(EntryView, "the entry as stored"), **_EDIT_ERRORS}}},
    HISTORY_PATH: {"get": {
        "summary": "an entry's changes, newest first: who, when, what changed, the previous version",
        "parameters": [ENTRY_ID],
        "responses": {"200": json_doc(EntryHistory, "the history"), **COMMON_ERRORS}}},
}
