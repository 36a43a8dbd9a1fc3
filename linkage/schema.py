"""The closed loop's request and response bodies and its part of the OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from hotline_link.web.bodies import Body, NonEmptyText, Reply
from hotline_link.web.openapi import (
    COMMON_ERRORS,
    TICKET_ID,
    body_doc,
    component_schemas,
    error_doc,
    json_doc,
)


class DispatchBody(Body):
    unit: NonEmptyText  # a unit id of GET /api/units
    # joint handling (联合调处): an assisting unit joins the case its lead holds
    role: Literal["lead", "assisting"] = "lead"


class FeedbackBody(Body):
    """A unit's step; the service checks the step's order and its fields (wrong_step...)."""

    step: Annotated[NonEmptyText, Field(json_schema_extra={
        "enum": ["accept", "arrival", "result", "progress", "refuse", "ask_police"]})]
    situation: Annotated[str, StringConstraints(max_length=500)] | None = None
    at: Annotated[float, Field(description="arrival time, POSIX seconds (default now)")] | None = None
    resolved: bool | None = None
    summary: Annotated[str, StringConstraints(max_length=500)] | None = None
    note: Annotated[str, StringConstraints(max_length=500)] | None = None  # progress (required), ask_police
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None  # refuse (required): why not ours


class CallbackBody(Body):
    result: Annotated[NonEmptyText, Field(json_schema_extra={"enum": ["满意", "基本满意", "不满意", "未回访"]})]


class DispatchRecord(Reply):
    """A ticket's dispatch record, as stored (every value is text: ``"1"``, ``"True"``,
    POSIX seconds as ``"1795530292.5"``). The fields of a step not taken yet are null; a new
    round (a case dispatched anew) starts with them null again."""

    unit: str
    unit_name: str
    level: str  # the unit's response level, 1 to 3
    mode: str  # system (webhook), phone (duty phone), none (the supervisor holds the case)
    state: str  # queued, dispatched, accepted, arrived, resolved, supervisor
    dispatched_at: str
    site: str
    by: str  # the agent (or role) who dispatched
    start: str | None  # when the unit is asked (later than dispatched_at when queued)
    accept_due: str | None
    accepted_at: str | None
    arrive_due: str | None
    result_due: str | None
    arrived_at: str | None
    situation: str | None
    result_at: str | None
    resolved: str | None  # "True" or "False"
    summary: str | None
    callback: str | None  # the 回访 answer: 满意, 基本满意, 不满意 or 未回访
    role: str | None  # lead or assisting (joint handling); null: a lead dispatched before roles
    progress: str | None  # the last 处置中 note (each one is on the timeline)
    progress_at: str | None
    refused_at: str | None  # state refused: the unit said the case is not its own
    refusal: str | None  # why
    police_asked_at: str | None  # the unit asked for the police (联动110)

    @classmethod
    def of(cls, record: Mapping[str, str]) -> DispatchRecord:
        """The reply of a stored record (a field the record lacks is null)."""
        return cls.model_validate({name: record.get(name) for name in cls.model_fields})


class LinkedUnit(Reply):
    """A handling unit (联动单位) of the directory, without its secret."""

    id: str
    name: str
    level: int
    duty_phone: str
    backup_phone: str
    webhook_url: str  # "" for a unit dispatched by phone
    handles: list[str]  # catalog entry ids; one ending in * is a prefix
    by_system: bool  # dispatched by its webhook (else by phone)


class DispatchDeadline(Reply):
    ticket_id: str
    stage: str  # accept, arrive, result
    unit: str
    level: int
    due: float
    strikes: int  # 0: not overdue yet; 1: 督办 given
    assisting: bool  # an assisting unit's deadline (joint handling)


class DispatchDeadlines(Reply):
    """The ticket's open deadlines by stage (null: none open)."""

    accept: DispatchDeadline | None
    arrive: DispatchDeadline | None
    result: DispatchDeadline | None


class LinkageFlag(Reply):
    """A red flag: 督办 (supervised), 提级 (escalated), 双哨联办 (joint), off_duty_emergency,
    result_conflict, phone_unanswered, feedback_locked, refused (a unit said not ours). Fields a
    kind does not carry are null."""

    flag: str
    at: float
    unit: str | None  # all but joint
    stage: str | None  # supervised, escalated
    due: float | None  # supervised, escalated
    contact: str | None  # escalated: the command centre
    calls: int | None  # joint: the ticket's calls

    @classmethod
    def of(cls, flag: Mapping[str, Any]) -> LinkageFlag:
        return cls.model_validate({name: flag.get(name) for name in cls.model_fields})


class LinkageFlags(Reply):
    """The red flags, by ticket id."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, LinkageFlag] = Field(init=False)

    @classmethod
    def of(cls, flags: Mapping[str, Mapping[str, Any]]) -> LinkageFlags:
        return cls.model_validate({ticket_id: LinkageFlag.of(flag) for ticket_id, flag in flags.items()})


class AssistingDispatch(Reply):
    """An assisting unit's part of a joint case: its record and its open deadlines."""

    dispatch: DispatchRecord
    deadlines: DispatchDeadlines


class DispatchOverview(Reply):
    ticket_id: str
    dispatch: DispatchRecord | None  # null: never dispatched; the lead unit's in joint handling
    assisting: list[AssistingDispatch]  # joint handling (联合调处): the assisting units, by id
    proposed_units: list[LinkedUnit]  # by the catalog recommendation of the ticket's category and summary
    deadlines: DispatchDeadlines
    flag: LinkageFlag | None
    repeats: int  # repeat calls linked to the ticket


class CallbackOptOut(Reply):
    number: str  # masked
    opted_out: bool


class UnitsDirectory(Reply):
    jurisdiction: str
    version: str
    units: list[LinkedUnit]


class _ReportRow(Reply):
    """Keys of the report's JSON that are not Python names (Chinese, ``from``)."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)


class HandoverFigures(_ReportRow):
    """Handovers one way (``12345->110``) by mode, and the bounced pushes among them."""

    transfers: int = Field(alias="一键转接")
    conferences: int = Field(alias="三方通话")
    pushes: int = Field(alias="系统推送")
    bounced: int = Field(alias="回流")


class ExchangeWayFigures(_ReportRow):
    """One way's messages over the exchange channel (two deployments), each counted once
    when the receiver took it (``linkage.exchange_figures``)."""

    transfers: int = Field(alias="一键转接")
    conferences: int = Field(alias="三方通话")
    pushes: int = Field(alias="系统推送")
    bounced: int = Field(alias="回流")  # bounce messages and handovers back to the source platform
    received: int = Field(alias="签收")
    statuses: int = Field(alias="反馈")  # status messages (反馈回写)
    results: int = Field(alias="办结")  # of them, results
    supervised: int = Field(alias="督办")


class PlatformFigures(Reply):
    """One platform's figures (``linkage.report``: the counts, then the rates)."""

    dispatched: int
    accepted: int
    arrived: int
    on_time_arrivals: int
    results: int
    resolved: int
    supervised: int
    escalated: int
    callbacks: int
    callbacks_answered: int
    callbacks_unanswered: int
    satisfied: int
    repeat_calls: int
    joint: int
    refused: int  # cases its units refused (not ours)
    assisting: int  # 0: a platform's figures follow the lead units
    accept_base: int
    accept_base_accepted: int
    arrive_base: int
    arrive_base_on_time: int
    bounced_in: int
    joint_cases: int  # 联合调处: tickets with an assisting unit dispatched in the period
    acceptance_rate: float | None  # null: nothing to divide by
    on_time_arrival_rate: float | None
    resolution_rate: float | None
    satisfaction: float | None


class UnitFigures(Reply):
    """One unit's figures (``linkage.report``: its name, the counts, then the rates)."""

    name: str
    dispatched: int
    accepted: int
    arrived: int
    on_time_arrivals: int
    results: int
    resolved: int
    supervised: int
    escalated: int
    callbacks: int
    callbacks_answered: int
    callbacks_unanswered: int
    satisfied: int
    repeat_calls: int
    joint: int
    refused: int  # cases the unit refused (not ours): against it
    assisting: int  # its dispatches as an assisting unit (joint handling)
    accept_base: int
    accept_base_accepted: int
    arrive_base: int
    arrive_base_on_time: int
    acceptance_rate: float | None  # null: nothing to divide by
    on_time_arrival_rate: float | None
    resolution_rate: float | None
    satisfaction: float | None


class ReportDefinitions(Reply):
    """口径: what each figure counts and what each rate divides by."""

    period: str
    handovers: str
    acceptance_rate: str
    on_time_arrival_rate: str
    resolution_rate: str
    satisfaction: str
    supervised: str
    repeat_calls: str
    joint: str
    zero: str
    exchange: str


class CallbackQueueFigures(Reply):
    """One platform's callback queue in the period (``linkage.callback_figures``)."""

    requests: int  # new requests (duplicates of an open one merged, not counted)
    done: int  # the citizen answered
    failed: int  # every attempt unanswered
    agent_no_answer: int  # offers an agent let ring out (no attempt counted)
    missed_made: int  # missed-call callbacks placed
    missed_skipped_answered: int  # missed calls not called back: the number called again and was answered


class LinkageReport(_ReportRow):
    """The report's JSON form (``format=json``)."""

    start: float = Field(alias="from")  # POSIX seconds, the first day's local midnight
    end: float = Field(alias="to")  # excluded: the midnight after the last day
    handovers: dict[str, HandoverFigures]  # by way, 12345->110
    platforms: dict[str, PlatformFigures]
    units: dict[str, UnitFigures]  # by unit id
    # by way, 12345->110: the exchange channel's messages (two deployments); null: one deployment
    exchange: dict[str, ExchangeWayFigures] | None
    callback_queue: dict[str, CallbackQueueFigures]  # by platform: the callback queue's (回电) steps
    definitions: ReportDefinitions


REPLIES = (DispatchRecord, DispatchOverview, CallbackOptOut, LinkageFlags, UnitsDirectory, LinkageReport)

PATHS: dict[str, Any] = {
    "/api/tickets/{ticket_id}/dispatch": {
        "post": {"summary": "dispatch the ticket to a handling unit (下达指令): by its webhook through the "
                            "outbox (signed, at least once) or by phone; arms the accept deadline. "
                            "role assisting: the unit joins the case its lead holds (联合调处; 409 no_lead "
                            "without one); a major ticket tells the leadership contacts",
                 "parameters": [TICKET_ID], "requestBody": body_doc(DispatchBody),
                 "responses": {"201": json_doc(DispatchRecord, "dispatched, queued to the next working period "
                                                             "(level 3), or given to the supervisor (an "
                                                             "emergency off hours)"),
                               "200": json_doc(DispatchRecord, "already dispatched to this unit (no-op)"),
                               **COMMON_ERRORS}},
        "get": {"summary": "the ticket's dispatch, open deadlines, red flag, repeat count and the units the "
                           "catalog recommendation proposes",
                "parameters": [TICKET_ID],
                "responses": {"200": json_doc(DispatchOverview, "dispatch state"), **COMMON_ERRORS}}},
    "/api/tickets/{ticket_id}/feedback": {"post": {
        "summary": "a unit's feedback (反馈回写), unit token: accept, arrival (situation, optional at), "
                   "result (resolved, summary), progress (note; repeatable), refuse (reason: not ours) or "
                   "ask_police (联动110, optional note; 409 police_own_platform on a 110 ticket, "
                   "restricted_ticket on a restricted one); repeating a step is a no-op",
        "parameters": [TICKET_ID], "requestBody": body_doc(FeedbackBody),
        "responses": {"200": json_doc(DispatchRecord, "the dispatch after the step"), **COMMON_ERRORS}}},
    "/api/tickets/{ticket_id}/callback": {"post": {
        "summary": "record the satisfaction callback (回访) of a resolved ticket; never for restricted "
                   "tickets or anonymous callers",
        "parameters": [TICKET_ID], "requestBody": body_doc(CallbackBody),
        "responses": {"200": json_doc(DispatchRecord, "the dispatch with its callback"), **COMMON_ERRORS}}},
    "/api/callback-optout/{number}": {
        method: {"summary": summary, "parameters": [
            {"name": "number", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": "^\\+?[0-9]{3,20}$"},
             "description": "the caller's number (3 to 20 digits, a leading + allowed)"}],
            "responses": {"200": json_doc(CallbackOptOut, "the number (masked) and whether it opted out"),
                          "400": error_doc("not a caller number of 3 to 20 digits (bad_number)"),
                          **{k: v for k, v in COMMON_ERRORS.items() if k != "400"}}}
        for method, summary in (
            ("put", "opt the number out of the satisfaction callback (回访): its tickets are never "
                    "called back (agent, supervisor or admin)"),
            ("delete", "opt the number back in: it may be called back again"),
            ("get", "whether the number opted out of the satisfaction callback"))},
    "/api/tickets/{ticket_id}/voice-notes/{name}": {"get": {
        "summary": "a voice note a unit left on the feedback line (反馈回写 by phone), as WAV; its name "
                   "is on the ticket's timeline (linkage.voice_note, field note)",
        "parameters": [TICKET_ID, {"name": "name", "in": "path", "required": True,
                                    "schema": {"type": "string", "pattern": "^[0-9A-Za-z][0-9A-Za-z_.-]{0,99}$"}}],
        "responses": {"200": {"description": "the note (audio/wav)",
                              "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}},
                      **COMMON_ERRORS}}},
    "/api/linkage/flags": {"get": {
        "summary": "red flags by ticket: 督办 (supervised), 提级 (escalated), 双哨联办 (joint), off-duty "
                   "emergencies (supervisor)",
        "responses": {"200": json_doc(LinkageFlags, "flags"), **COMMON_ERRORS}}},
    "/api/units": {"get": {
        "summary": "the handling units directory (联动单位) of the jurisdiction, without secrets",
        "responses": {"200": json_doc(UnitsDirectory, "units"), **COMMON_ERRORS}}},
    "/supervisor/report": {"get": {
        "summary": "the linkage report (supervisor): per platform and unit, handovers by mode, dispatch, "
                   "on-time arrival, 解决率, 满意度, 督办/提级, 回流, repeat calls",
        "parameters": [{"name": "from", "in": "query", "required": False,
                        "schema": {"type": "string", "format": "date"}},
                       {"name": "to", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
                       {"name": "format", "in": "query", "required": False,
                        "schema": {"enum": ["html", "csv", "json"], "default": "html"}}],
        "responses": {"200": {"description": "the report", "content": {
            "text/html": {}, "text/csv": {}, **json_doc(LinkageReport, "")["content"]}}, **COMMON_ERRORS}}},
}

SCHEMAS: dict[str, Any] = component_schemas(*REPLIES)
